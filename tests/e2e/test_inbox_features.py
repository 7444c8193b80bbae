"""The inbox features of issue #5 in a real browser: mandatory tags before resolving, @mentions that reach a
colleague's bell, and a closed Messenger window that the composer explains before the agent types."""

import os

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from channels_ingest.models import SocialProfile
from inbox.services import case_claim_next, inbox_settings_save, tag_save
from inbox.windows import invite_text

from ..factories import open_case
from ..inbox.test_windows import _facebook, _fb_case
from .conftest import browser_login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _claimed(kit):
    case = open_case(kit)
    case_claim_next(tenant=kit.tenant, membership=kit.agent)
    return case


def test_mandatory_tags_block_resolving_until_the_agent_adds_them(live_server, page, kit_a):
    case = _claimed(kit_a)
    tag_save(tenant=kit_a.tenant, membership=kit_a.admin, tag=None, name="campaign: Black Friday", mandatory=True)
    tag_save(tenant=kit_a.tenant, membership=kit_a.admin, tag=None, name="Elogio")
    browser_login(page, live_server.url, "acme-agent")
    page.goto(f"{live_server.url}/t/acme/cases/{case.pk}/")
    expect(page.locator("#resolve-needs-tags")).to_contain_text("“campaign: Black Friday”")

    page.click("#resolve-case")
    expect(page.locator(".messages")).to_contain_text(
        "Add the mandatory tag “campaign: Black Friday” before resolving this case.")
    expect(page.locator("#case-status")).to_have_text("Open")

    # The tag editor works in place (htmx): no reload, and the warning beside Resolve goes away.
    page.select_option("#tag-add-select", label="campaign: Black Friday (required)")
    page.click("#tag-add")
    expect(page.locator("#tag-list .tag")).to_contain_text(["campaign: Black Friday"])
    expect(page.locator("#resolve-needs-tags")).to_be_empty()
    page.click("#resolve-case")
    expect(page.locator("#case-status")).to_have_text("Resolved")
    expect(page.locator("#thread")).to_contain_text("tagged it “campaign: Black Friday”")


def test_an_at_mention_in_a_note_reaches_the_colleagues_bell(live_server, page, browser, kit_a):
    case = _claimed(kit_a)
    colleague_context = browser.new_context(viewport={"width": 1360, "height": 860}, locale="pt-BR")
    colleague = colleague_context.new_page()
    colleague.set_default_timeout(15_000)
    try:
        browser_login(colleague, live_server.url, "acme-agent2")
        colleague.goto(f"{live_server.url}/t/acme/")
        expect(colleague.locator("#bell")).to_be_visible()
        expect(colleague.locator("#bell-count")).to_have_count(0)

        browser_login(page, live_server.url, "acme-agent")
        page.goto(f"{live_server.url}/t/acme/cases/{case.pk}/")
        page.fill("#id_note_text", "@acme-agent2 pode olhar a fatura deste cliente? @ninguem")
        page.click(".note-form button[type=submit]")
        expect(page.locator("#thread .note")).to_contain_text("@acme-agent2 pode olhar")

        # The colleague's page polls the bell: the count appears without a reload.
        expect(colleague.locator("#bell-count")).to_have_text("1", timeout=25_000)
        colleague.click("#bell")
        expect(colleague.locator("#notification-list")).to_contain_text(
            f"acme-agent mentioned you on case {case.protocol}")
        colleague.click("#notification-list button[data-notification]")
        expect(colleague.locator("#case-protocol")).to_have_text(case.protocol)
        expect(colleague.locator("#bell-count")).to_have_count(0)
    finally:
        colleague_context.close()


def test_a_closed_messenger_window_disables_the_private_option_with_the_reason(live_server, page, kit_a):
    channel = _facebook(kit_a)
    case = _fb_case(kit_a, channel, kind="direct", hours_ago=30)
    inbox_settings_save(tenant=kit_a.tenant, membership=kit_a.admin, contact_email="atendimento@acme.test")
    browser_login(page, live_server.url, "acme-agent")
    page.goto(f"{live_server.url}/t/acme/cases/{case.pk}/")
    expect(page.locator("input[name=visibility][value=private]")).to_be_disabled()
    expect(page.locator("#private-closed-reason")).to_contain_text(
        "Messenger lets the page answer only within 24 hours of the customer's last message, which was 30 hours ago")
    # The customer wrote only on Messenger: there is no public post to answer either, so the page says so and
    # offers the brand's other channels instead of a public invitation that could not be posted.
    expect(page.locator("#public-closed")).to_be_visible()
    expect(page.locator("input[name=visibility][value=public]")).to_be_disabled()
    expect(page.locator("#private-closed .alternatives a[href='mailto:atendimento@acme.test']")).to_be_visible()
    expect(page.locator("#private-closed .use-alternative")).to_have_count(0)
    if os.environ.get("SAC_SCREENSHOT_DIR"):
        page.screenshot(path=os.path.join(os.environ["SAC_SCREENSHOT_DIR"], "e2e-messenger-window.png"),
                        full_page=True)


def test_when_the_customers_dms_are_closed_the_alternative_fills_a_public_invitation(live_server, page, kit_a):
    case = _claimed(kit_a)
    SocialProfile.objects.filter(pk=case.customer_id).update(dms_closed_at=timezone.now())
    browser_login(page, live_server.url, "acme-agent")
    page.goto(f"{live_server.url}/t/acme/cases/{case.pk}/")
    expect(page.locator("input[name=visibility][value=private]")).to_be_disabled()
    page.click("#private-closed .use-alternative")
    expect(page.locator("#id_text")).to_have_value(invite_text(case))
    expect(page.locator("input[name=visibility][value=public]")).to_be_checked()
