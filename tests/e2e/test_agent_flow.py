"""An agent's day in a real browser: log in, take the next case, answer with a canned reply
(publicly, then privately for a customer who posted a phone number), and resolve."""

import os
import re

import pytest
from playwright.sync_api import expect

from channels_ingest.services import channel_poll
from inbox.models import CannedReply, Case

from .conftest import browser_login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]



def test_an_agent_answers_publicly_and_privately_and_resolves(live_server, page, kit_a):
    sim = kit_a.simulator
    sim.add_post("@acmetelecom três dias sem internet, vou no Procon! Absurdo!", author_username="ritaf")
    sim.add_post("@acmetelecom como faço pra trocar de plano? meu número é (11) 98765-4321",
                 author_username="joaom")
    channel_poll(tenant_id=kit_a.tenant.pk, channel_id=kit_a.channel.pk)
    assert Case.objects.filter(tenant=kit_a.tenant).count() == 2
    CannedReply.objects.create(
        tenant=kit_a.tenant, title="Pedido de desculpas", shortcut="desculpas", language="",
        body="Olá, {{customer.first_name}}! Sentimos muito. Protocolo {{case.protocol}}.",
    )

    browser_login(page, live_server.url, "acme-agent")
    expect(page.locator("#claim-next")).to_be_visible()
    expect(page.locator(".case-row")).to_have_count(0)  # "My cases" is empty before claiming

    # The most urgent case first: the legal threat.
    page.click("#claim-next")
    expect(page.locator(".msg.inbound")).to_contain_text("vou no Procon")
    protocol = page.locator("#case-protocol").inner_text()
    page.select_option("#canned-select", label="/desculpas · Pedido de desculpas")
    expect(page.locator("#id_text")).to_have_value(re.compile(re.escape(f"Protocolo {protocol}.")))
    page.check("input[name=visibility][value=public]")
    page.click("#send-reply")
    expect(page.locator(".msg.outbound .state")).to_have_text("Sent")
    public = [s for s in sim.sent if protocol in s["text"]]
    assert len(public) == 1 and public[0]["kind"] == "reply"
    page.click("#resolve-case")
    expect(page.locator("#case-status")).to_have_text("Resolved")

    # Then the customer who posted a phone number: the composer proposes a private reply.
    page.goto(f"{live_server.url}/t/acme/")
    page.click("#claim-next")
    expect(page.locator(".warn")).to_contain_text("personal data")
    expect(page.locator("input[name=visibility][value=private]")).to_be_checked()
    protocol2 = page.locator("#case-protocol").inner_text()
    page.select_option("#canned-select", label="/desculpas · Pedido de desculpas")
    expect(page.locator("#id_text")).to_have_value(re.compile(re.escape(protocol2)))
    page.click("#send-reply")
    expect(page.locator(".msg.outbound.private .state")).to_have_text("Sent")
    private = [s for s in sim.sent if protocol2 in s["text"]]
    assert len(private) == 1 and private[0]["kind"] == "dm"
    if os.environ.get("SAC_SCREENSHOT_DIR"):
        page.screenshot(path=os.path.join(os.environ["SAC_SCREENSHOT_DIR"], "e2e-case.png"), full_page=True)
    page.click("#resolve-case")
    expect(page.locator("#case-status")).to_have_text("Resolved")

    # The simulator's own page shows what the brand sent.
    page.goto(f"{sim.base_url}/_sim/")
    expect(page.locator("body")).to_contain_text(protocol)
    expect(page.locator("body")).to_contain_text(protocol2)


def test_new_mentions_appear_in_the_queue_without_a_reload(live_server, page, kit_a):
    browser_login(page, live_server.url, "acme-agent")
    page.goto(f"{live_server.url}/t/acme/?view=unassigned")
    expect(page.locator(".case-row")).to_have_count(0)
    kit_a.simulator.add_post("@acmetelecom fatura com cobrança indevida, quero estorno!", author_username="lia")
    channel_poll(tenant_id=kit_a.tenant.pk, channel_id=kit_a.channel.pk)
    expect(page.locator(".case-row")).to_have_count(1, timeout=15_000)
    expect(page).to_have_title(re.compile(r"^\(1\) "))


def test_an_over_long_public_reply_is_counted_live_and_refused_with_the_reason(live_server, page, kit_a):
    kit_a.simulator.add_post("@acmetelecom sem internet, não funciona!", author_username="ritaf")
    channel_poll(tenant_id=kit_a.tenant.pk, channel_id=kit_a.channel.pk)
    browser_login(page, live_server.url, "acme-agent")
    page.click("#claim-next")
    page.check("input[name=visibility][value=public]")
    page.locator("#id_text").press_sequentially("Já recebemo")
    expect(page.locator("#spelling .misspelled")).to_have_text("recebemo")
    expect(page.locator("#spelling")).to_contain_text("recebemos")
    page.fill("#id_text", "😀" * 141)  # 141 emoji weigh 282 on X
    expect(page.locator("#char-count")).to_have_text("282 / 280")
    expect(page.locator("#char-count")).to_have_class(re.compile("error"))
    page.click("#send-reply")
    expect(page.locator("#reply-error")).to_contain_text("282 characters as the network counts them, 280 at most")
    assert kit_a.simulator.sent == []


def test_two_people_on_one_case_see_each_other_and_a_late_message_stops_the_send(live_server, browser, kit_a):
    sim = kit_a.simulator
    sim.add_post("@acmetelecom minha fatura veio em dobro, não funciona o débito", author_username="ritaf")
    channel_poll(tenant_id=kit_a.tenant.pk, channel_id=kit_a.channel.pk)
    agent_ctx, sup_ctx = browser.new_context(), browser.new_context()
    try:
        agent, sup = agent_ctx.new_page(), sup_ctx.new_page()
        browser_login(agent, live_server.url, "acme-agent")
        agent.click("#claim-next")
        case_url = agent.url
        browser_login(sup, live_server.url, "acme-supervisor")
        sup.goto(case_url)
        expect(agent.locator("#presence")).to_contain_text("acme-supervisor is viewing this case", timeout=12_000)
        sup.fill("#id_text", "deixa que eu respondo")
        expect(agent.locator("#presence")).to_contain_text("acme-supervisor is typing a reply", timeout=12_000)

        agent.fill("#id_text", "Oi! Vamos verificar a cobrança.")
        sim.add_post("@acmetelecom e agora cobraram de novo!!", author_username="ritaf")
        channel_poll(tenant_id=kit_a.tenant.pk, channel_id=kit_a.channel.pk)
        agent.click("#send-reply")
        expect(agent.locator("#reply-error")).to_contain_text("the customer wrote 1 new message")
        expect(agent.locator(".msg.inbound")).to_have_count(2)
        expect(agent.locator("#id_text")).to_have_value("Oi! Vamos verificar a cobrança.")
        agent.click("#send-reply")
        expect(agent.locator(".msg.outbound .state")).to_have_text("Sent")
        assert [s["text"] for s in sim.sent] == ["Oi! Vamos verificar a cobrança."]
    finally:
        agent_ctx.close()
        sup_ctx.close()


def test_keyboard_only_take_next_search_canned_with_slash_and_send(live_server, page, kit_a):
    kit_a.simulator.add_post("@acmetelecom sem internet, não funciona!", author_username="ritaf")
    channel_poll(tenant_id=kit_a.tenant.pk, channel_id=kit_a.channel.pk)
    CannedReply.objects.create(tenant=kit_a.tenant, title="Pedido de desculpas", shortcut="desculpas",
                               body="Sentimos muito, {{customer.first_name}}! Protocolo {{case.protocol}}.")
    browser_login(page, live_server.url, "acme-agent")
    expect(page.locator("#claim-next")).to_be_visible()
    page.wait_for_load_state("load")  # the shortcuts script is deferred
    page.keyboard.press("n")
    expect(page.locator("#case-protocol")).to_be_visible()
    page.wait_for_load_state("load")
    protocol = page.locator("#case-protocol").inner_text()
    page.keyboard.press("/")
    page.keyboard.type("desc")
    expect(page.locator("#id_text")).to_have_value("/desc")  # an empty draft gets just the search
    expect(page.locator("#canned-suggestions li")).to_have_count(1)
    page.keyboard.press("Tab")
    expect(page.locator("#id_text")).to_have_value(re.compile(re.escape(f"Protocolo {protocol}.")))
    page.check("input[name=visibility][value=public]")
    page.locator("#id_text").press("Control+Enter")
    expect(page.locator(".msg.outbound .state")).to_have_text("Sent")
    assert len([s for s in kit_a.simulator.sent if protocol in s["text"]]) == 1
