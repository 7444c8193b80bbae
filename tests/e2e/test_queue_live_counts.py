"""The queue and the case page keep their counts live in a real browser (the specification: "new cases and changes
appear without a reload …, with an unread count in the tab title"): the sidebar counts and the tab title follow the
polls, and an agent never gets the supervisors' *All open*."""

import re

import pytest
from playwright.sync_api import expect

from inbox.services import case_claim_next

from ..factories import open_case
from .conftest import browser_login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_sidebar_and_the_tab_title_follow_new_cases_without_a_reload(live_server, page, kit_a):
    browser_login(page, live_server.url, "acme-agent")
    page.goto(f"{live_server.url}/t/acme/?view=all")
    expect(page.locator(".messages")).to_contain_text("“All open” is for supervisors; here are your cases.")
    expect(page.locator("nav.views [data-view=all]")).to_have_count(0)
    expect(page).to_have_title(re.compile(r"^Inbox · Acme Telecom$"))
    expect(page.locator("#count-unassigned")).to_have_text("0")

    open_case(kit_a, "sem internet desde ontem", author_id="1")  # arrives while the page is open
    expect(page.locator("#count-unassigned")).to_have_text("1", timeout=12_000)
    expect(page).to_have_title(re.compile(r"^\(1\) Inbox · Acme Telecom$"), timeout=12_000)

    # Given to the agent (round-robin would do the same): nothing left to claim, one case not yet read.
    taken = case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent)
    expect(page.locator("#count-mine")).to_have_text("1", timeout=12_000)
    expect(page.locator("#count-unassigned")).to_have_text("0")
    expect(page).to_have_title(re.compile(r"^\(1\) Inbox"))

    # On the case page the case on screen is read; a second case handed to the agent shows through the thread poll.
    page.goto(f"{live_server.url}/t/acme/cases/{taken.pk}/")
    expect(page).to_have_title(re.compile(rf"^{taken.protocol} · Acme Telecom$"))
    open_case(kit_a, "cobrança indevida na fatura", author_id="2")
    case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent)
    expect(page).to_have_title(re.compile(rf"^\(1\) {taken.protocol} · Acme Telecom$"), timeout=12_000)
