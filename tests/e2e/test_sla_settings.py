"""A tenant admin writes an SLA policy in the browser; the next case that arrives gets its due times."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from sla.models import SLAPolicy
from tests.factories import open_case

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_admin_creates_a_policy_and_a_new_case_gets_its_due_time(live_server, page, kit_a):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "acme-admin")
    page.fill("input[name=password]", "pw")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/t/acme/sla/settings/")
    expect(page.locator("h1")).to_have_text("SLA policies")

    form = page.locator("#sla-policy-form")
    form.locator("input[name=name]").fill("VIP")
    form.locator("input[name=first_response_minutes]").fill("20")
    form.locator("input[name=resolution_minutes]").fill("300")
    form.locator("input[name=warn_percent]").fill("150")  # a mistake first: shown, nothing saved
    form.locator("select[name=channel]").select_option(label=str(kit_a.channel))
    form.locator("button[type=submit]").click()
    expect(page.locator("#sla-policy-form")).to_contain_text("Between 1 and 99")
    assert not SLAPolicy.objects.filter(tenant=kit_a.tenant, name="VIP").exists()

    page.locator("#sla-policy-form input[name=warn_percent]").fill("80")
    page.locator("#sla-policy-form button[type=submit]").click()
    expect(page.locator("#sla-policies tr[data-policy='VIP']")).to_contain_text("20 min")

    case = open_case(kit_a, posted_at=datetime.now(UTC) - timedelta(minutes=4))
    due = case.first_message_at + timedelta(minutes=20)
    assert case.first_response_due == due
    page.goto(f"{live_server.url}/t/acme/cases/{case.pk}/")
    panel = page.locator("#sla-panel")
    expect(panel).to_contain_text("Policy: VIP (20 min to answer, 300 min to solve)")
    local = due.astimezone(ZoneInfo(kit_a.tenant.time_zone))
    expect(panel.locator(f"span[title='First response due {local:%d/%m %H:%M}']")).to_be_visible()
