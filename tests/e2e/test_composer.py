"""The composer in a real browser: its live counter counts as the server does, "/" finds canned replies by their
text, a draft is never lost to the search or to a canned reply, and a stopped send speaks the brand's language."""

import re

import pytest
from playwright.sync_api import expect

from channels_ingest.services import channel_poll
from inbox.limits import check_length
from inbox.models import CannedReply

from ..inbox.test_limits import TRICKY_TEXTS
from .conftest import browser_login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _open_a_case(page, live_server, kit, text="@acmetelecom sem internet, não funciona!"):
    kit.simulator.add_post(text, author_username="ritaf")
    channel_poll(tenant_id=kit.tenant.pk, channel_id=kit.channel.pk)
    browser_login(page, live_server.url, "acme-agent")
    page.click("#claim-next")
    expect(page.locator("#case-protocol")).to_be_visible()
    page.wait_for_load_state("load")  # inbox.js is deferred


def test_it_counts_live_exactly_as_the_server_does(live_server, page, kit_a):
    _open_a_case(page, live_server, kit_a)
    page.check("input[name=visibility][value=public]")
    for text, _expected in TRICKY_TEXTS:
        server = check_length(text, platform=kit_a.channel.platform, visibility="public").length
        page.fill("#id_text", text)
        expect(page.locator("#char-count"), f"counting {text!r}").to_have_text(f"{server} / 280")

    # Exactly at the limit with a bare new-TLD domain: the page says OK and the server sends it.
    at_limit = "a" * 256 + " acme.shop"
    page.fill("#id_text", at_limit + "!")
    expect(page.locator("#char-count")).to_have_text("281 / 280")
    expect(page.locator("#char-count")).to_have_class(re.compile("error"))
    page.click("#send-reply")
    expect(page.locator("#reply-error")).to_contain_text("281")
    assert kit_a.simulator.sent == []
    page.fill("#id_text", at_limit)
    expect(page.locator("#char-count")).to_have_text("280 / 280")
    expect(page.locator("#char-count")).not_to_have_class(re.compile("error"))
    page.check("input[name=visibility][value=public]")
    page.click("#send-reply")
    expect(page.locator(".msg.outbound .state")).to_have_text("Sent")
    assert [s["text"] for s in kit_a.simulator.sent] == [at_limit]


def _canned(kit):
    CannedReply.objects.create(tenant=kit.tenant, title="Instabilidade", shortcut="rede",
                               body="Pedimos desculpas, {{customer.first_name}}: não há previsão de retorno ainda.")
    CannedReply.objects.create(tenant=kit.tenant, title="Segunda via", shortcut="boleto",
                               body="A 2ª via está no app, na aba Faturas.")


def test_slash_finds_a_canned_reply_by_its_text_with_or_without_accents(live_server, page, kit_a):
    _canned(kit_a)
    _open_a_case(page, live_server, kit_a)
    box = page.locator("#id_text")
    box.click()
    for query in ("/nao", "/desculpa", "/previsão"):
        box.fill("")
        box.press_sequentially(query)
        expect(page.locator("#canned-suggestions li"), query).to_have_count(1)
        expect(page.locator("#canned-suggestions li")).to_contain_text("/rede · Instabilidade")
    box.fill("")
    box.press_sequentially("/faturas")
    expect(page.locator("#canned-suggestions li")).to_have_text(re.compile(r"^/boleto · Segunda via"))
    box.press("Tab")
    expect(box).to_have_value("A 2ª via está no app, na aba Faturas.")


def test_a_draft_survives_the_slash_search_and_a_canned_pick(live_server, page, kit_a):
    _canned(kit_a)
    _open_a_case(page, live_server, kit_a)
    box = page.locator("#id_text")
    box.fill("Oi, Rita! Já verificamos.")
    page.locator("h1").click()  # out of the box
    page.keyboard.press("/")
    expect(box).to_be_focused()
    expect(box).to_have_value("Oi, Rita! Já verificamos. /")
    page.keyboard.type("nao")
    expect(page.locator("#canned-suggestions li")).to_have_count(1)
    page.keyboard.press("Enter")
    expect(box).to_have_value("Oi, Rita! Já verificamos. Pedimos desculpas, Ritaf: não há previsão de retorno ainda.")

    # The menu adds to the draft at the caret too, never over it.
    page.select_option("#canned-select", label="/boleto · Segunda via")
    expect(box).to_have_value("Oi, Rita! Já verificamos. Pedimos desculpas, Ritaf: não há previsão de retorno ainda. "
                              "A 2ª via está no app, na aba Faturas.")
    box.press("Control+z")  # and the browser's undo takes the pick back
    expect(box).to_have_value("Oi, Rita! Já verificamos. Pedimos desculpas, Ritaf: não há previsão de retorno ainda.")


def test_a_stopped_send_and_a_status_change_read_in_portuguese(live_server, page, kit_a):
    kit_a.tenant.locale = "pt-br"
    kit_a.tenant.save(update_fields=["locale"])
    _open_a_case(page, live_server, kit_a, "@acmetelecom minha fatura veio em dobro, não funciona o débito")
    page.fill("#id_text", "Oi! Vamos verificar a cobrança.")
    kit_a.simulator.add_post("@acmetelecom e agora cobraram de novo!!", author_username="ritaf")
    channel_poll(tenant_id=kit_a.tenant.pk, channel_id=kit_a.channel.pk)
    page.click("#send-reply")
    error = page.locator("#reply-error")
    expect(error).to_contain_text("Desde que você abriu esta resposta: o cliente escreveu 1 mensagem nova.")
    expect(error).to_contain_text("clique em Enviar de novo")
    expect(page.locator("#id_text")).to_have_value("Oi! Vamos verificar a cobrança.")

    page.click("button[data-status=pending_customer]")
    expect(page.locator(".event").last).to_contain_text("para Aguardando cliente")
    expect(page.locator("#thread")).not_to_contain_text("pending_customer")
