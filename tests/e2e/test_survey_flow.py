"""The survey loop in a real browser: an agent resolves → the invitation goes out privately through the
simulator → the customer opens the link on a phone and answers → the supervisor's figures change and the
low score waits as a follow-up linked to the case."""

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from channels_ingest.services import channel_poll
from surveys.models import SurveyResponse
from surveys.services import survey_config_ensure

from .conftest import browser_login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LINK = re.compile(r"https?://\S+/s/[A-Za-z0-9_-]+")



def test_resolve_invite_answer_and_the_supervisor_sees_it(live_server, page, browser, kit_a):
    survey_config_ensure(tenant=kit_a.tenant, delay_minutes=0)
    sim = kit_a.simulator
    sim.add_post("@acmetelecom três dias sem internet, absurdo! Quero solução", author_username="ritaf")
    channel_poll(tenant_id=kit_a.tenant.pk, channel_id=kit_a.channel.pk)

    browser_login(page, live_server.url, "acme-supervisor")
    page.goto(f"{live_server.url}/t/acme/surveys/")
    expect(page.locator("#kpi-rate .big")).to_have_text("—")
    expect(page.locator("#followups")).to_contain_text("No low scores waiting")

    page.goto(f"{live_server.url}/t/acme/")
    page.click("#claim-next")
    protocol = page.locator("#case-protocol").inner_text()
    page.click("#resolve-case")
    expect(page.locator("#case-status")).to_have_text("Resolved")
    expect(page.locator("#survey-panel")).to_contain_text("Sent")

    dms = [s for s in sim.sent if s["kind"] == "dm"]
    assert len(dms) == 1 and protocol in dms[0]["text"]
    assert [s for s in sim.sent if s["kind"] != "dm"] == []
    path = urlsplit(LINK.search(dms[0]["text"]).group(0)).path

    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="pt-BR", is_mobile=True,
                                has_touch=True)
    try:
        customer = phone.new_page()
        customer.goto(f"{live_server.url}{path}")
        expect(customer.locator("h1")).to_have_text("Pesquisa de satisfação")
        expect(customer.locator("body")).to_contain_text(protocol)
        # The scale fits the phone's width: no sideways scrolling.
        assert customer.evaluate("document.documentElement.scrollWidth") <= 390
        customer.locator("input[name=csat][value='2'] + span").click()
        customer.locator("input[name=nps][value='4'] + span").click()
        customer.fill("#comment", "Demorou três dias")
        customer.click("#survey-send")
        expect(customer.locator("#survey-message")).to_contain_text("Obrigado")
        expect(customer.locator("#survey-message")).to_contain_text("supervisor")
        # Back and submit again: "already answered", never a second row.
        customer.goto(f"{live_server.url}{path}")
        expect(customer.locator("#survey-message")).to_contain_text("já foi respondida")
        customer.goto(f"{live_server.url}/s/not-a-real-token")
        expect(customer.locator("#survey-message")).to_contain_text("não é válido")
    finally:
        phone.close()
    assert SurveyResponse.objects.filter(tenant=kit_a.tenant).count() == 1

    page.goto(f"{live_server.url}/t/acme/surveys/")
    # The browser asks for pt-BR, so figures read with a decimal comma.
    expect(page.locator("#kpi-csat .big")).to_have_text(re.compile(r"^0[,.]0%$"))
    expect(page.locator("#kpi-nps .big")).to_have_text(re.compile(r"^-100[,.]0$"))
    expect(page.locator("#kpi-rate .big")).to_have_text(re.compile(r"^100[,.]0%$"))
    expect(page.locator("#followups")).to_contain_text(protocol)
    expect(page.locator("#followups")).to_contain_text("Demorou três dias")
    page.click(f"#followups a:has-text('{protocol}')")
    expect(page.locator("#survey-panel")).to_contain_text("CSAT 2/5")
