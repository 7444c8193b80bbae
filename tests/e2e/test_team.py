"""A tenant admin puts an agent in a team and lowers their cap in the browser; Take next case then gives the
agent only that team's case, and no second one."""

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from inbox.services import case_transfer
from sac.services import team_create
from tests.factories import open_case

from .conftest import browser_login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_admin_sets_team_and_cap_and_claim_next_follows_them(live_server, page, kit_a):
    fibra = team_create(tenant=kit_a.tenant, actor=kit_a.admin, name="Fibra")
    movel = team_create(tenant=kit_a.tenant, actor=kit_a.admin, name="Móvel")
    now = datetime.now(UTC)
    # Same words, so the same priority: the older Móvel case would come first for an agent in no team.
    movel_case = open_case(kit_a, "sem internet desde ontem", author_id="71", posted_at=now - timedelta(minutes=30))
    fibra_case = open_case(kit_a, "sem internet desde ontem", author_id="72", posted_at=now - timedelta(minutes=5))
    fibra_later = open_case(kit_a, "sem internet desde ontem", author_id="73", posted_at=now - timedelta(minutes=1))
    assert movel_case.priority == fibra_case.priority == fibra_later.priority
    for case, team in ((movel_case, movel), (fibra_case, fibra), (fibra_later, fibra)):
        case_transfer(tenant=kit_a.tenant, membership=kit_a.supervisor, case=case, to_team=team)

    browser_login(page, live_server.url, "acme-admin")
    page.click("#nav-team")
    expect(page.locator("h1")).to_have_text("Team")
    page.locator("tr[data-member='acme-agent'] a", has_text="Edit").click()
    page.check(f"#member-form input[name=teams][value='{fibra.pk}']")
    page.fill("#member-form input[name=max_open_cases]", "1")
    page.click("#member-form button[type=submit]")
    expect(page.locator(".messages")).to_contain_text("acme-agent saved.")
    row = page.locator("tr[data-member='acme-agent']")
    expect(row.locator(".member-teams")).to_have_text("Fibra")
    expect(row.locator(".member-cap")).to_have_text("1")
    expect(page.locator("tr[data-team='Fibra']")).to_contain_text("1")  # its member count

    page.context.clear_cookies()  # the agent now, in the same browser
    browser_login(page, live_server.url, "acme-agent")
    page.click("#claim-next")
    page.wait_for_url(f"**/t/acme/cases/{fibra_case.pk}/")
    expect(page.locator("body")).to_contain_text(fibra_case.protocol)

    page.goto(f"{live_server.url}/t/acme/")
    page.click("#claim-next")
    expect(page.locator(".messages")).to_contain_text("You already have 1 open cases")
    fibra_later.refresh_from_db()
    movel_case.refresh_from_db()
    assert fibra_later.assignee is None and movel_case.assignee is None
