"""The channel pages in the brand's language: a pt-BR brand's admin reads Portuguese, an English one English,
including the texts that ingest stores in English (rate notes, why a channel needs re-authorisation)."""

import pytest
from django.urls import reverse

from channels_ingest.models import ChannelAccount, PollRun

from ..conftest import login

pytestmark = pytest.mark.django_db


def _portuguese(kit) -> None:
    kit.tenant.locale = "pt-br"
    kit.tenant.save(update_fields=["locale"])


def _stopped(kit) -> None:
    ChannelAccount.objects.filter(pk=kit.channel.pk).update(
        status=ChannelAccount.Status.NEEDS_REAUTH, status_detail="X refused the channel's credentials (401)")


def test_a_pt_br_admin_reads_the_channel_list_and_connect_page_in_portuguese(kit_a):
    _portuguese(kit_a)
    _stopped(kit_a)
    admin = login(kit_a.admin)
    # The brand's language wins over an English browser, as on the inbox.
    listing = admin.get(reverse("channels_ingest:list", args=["acme"]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for text in ("Canais", "Conectar um canal", "precisa ser reautorizado", "O X recusou as credenciais do canal (401)",
                 "A coleta está parada", "Conectar de novo", "Próxima coleta", "Saúde", "Precisa reautorizar"):
        assert text in listing, text
    assert "Polling is stopped" not in listing and "X refused the channel" not in listing

    connect = admin.get(reverse("channels_ingest:connect", args=["acme"])).content.decode()
    for text in ("Conectar com o X", "Conectar com o Facebook", "Ou conecte manualmente", "Conta do X simulada",
                 "Token de acesso", "Termos de busca"):
        assert text in connect, text
    assert "Connect with X" not in connect and "Access token" not in connect

    refused = admin.post(reverse("channels_ingest:connect", args=["acme"]), {"kind": "facebook", "name": "Página"})
    assert refused.status_code == 400 and "Necessário para conectar uma conta real." in refused.content.decode()


def test_a_pt_br_admin_reads_the_health_page_and_its_notes_in_portuguese(kit_a):
    _portuguese(kit_a)
    PollRun.objects.create(tenant=kit_a.tenant, channel=kit_a.channel, source="reconcile", outcome="ok",
                           rate_note="webhooks live: next reconciliation poll in 300 s")
    PollRun.objects.create(tenant=kit_a.tenant, channel=kit_a.channel, source="poll", outcome="failed",
                           rate_note="rate limited: next poll in 42 s", error="X rate limit reached")
    admin = login(kit_a.admin)
    page = admin.get(reverse("channels_ingest:health", args=["acme", kit_a.channel.pk])).content.decode()
    for text in ("Coletas e lotes de webhook", "Itens ilegíveis", "Gasto com a API do X neste mês",
                 "Salvar orçamento", "coleta de conferência", "webhooks ativos: próxima coleta de conferência em 300 s",
                 "limite de uso atingido: próxima coleta em 42 s", "Limite de uso do X atingido", "Falhou",
                 "Nada ilegível."):
        assert text in page, text
    assert "rate limited" not in page and "Poll runs" not in page

    saved = admin.post(reverse("channels_ingest:budget", args=["acme", kit_a.channel.pk]),
                       {"monthly_budget_usd": "-3"}, follow=True).content.decode()
    assert "O orçamento deve ser um valor em dólares americanos" in saved


def test_an_english_brand_keeps_english_channel_pages_for_a_portuguese_browser(kit_a):
    _stopped(kit_a)
    PollRun.objects.create(tenant=kit_a.tenant, channel=kit_a.channel, source="poll", outcome="failed",
                           rate_note="rate limited: next poll in 42 s")
    admin = login(kit_a.admin)
    listing = admin.get(reverse("channels_ingest:list", args=["acme"]),
                        HTTP_ACCEPT_LANGUAGE="pt-BR,pt;q=0.9").content.decode()
    assert "Polling is stopped until it is connected again." in listing and "Connect it again" in listing
    assert "X refused the channel&#x27;s credentials (401)" in listing and "Canais" not in listing
    page = admin.get(reverse("channels_ingest:health", args=["acme", kit_a.channel.pk]),
                     HTTP_ACCEPT_LANGUAGE="pt-BR").content.decode()
    assert "rate limited: next poll in 42 s" in page and "Poll runs and webhook batches" in page


def test_the_user_pick_switches_the_channel_pages(kit_a):
    _portuguese(kit_a)
    admin = login(kit_a.admin)
    admin.post(reverse("set_language"), {"language": "en", "next": "/"})
    connect = admin.get(reverse("channels_ingest:connect", args=["acme"])).content.decode()
    assert "Connect with X" in connect and "Conectar com o X" not in connect


def test_an_unknown_sign_in_answer_follows_the_browser_then_pt_br(kit_a):
    admin = login(kit_a.admin)
    # Outside a brand's pages (the callback URL is one per installation) and before the login is known.
    english = admin.get("/channels/oauth/x/callback/?state=forged&code=abc", HTTP_ACCEPT_LANGUAGE="en-US")
    assert english.status_code == 400 and "The sign-in did not finish" in english.content.decode()
    portuguese = admin.get("/channels/oauth/x/callback/?state=forged&code=abc")
    body = portuguese.content.decode()
    assert portuguese.status_code == 400 and "O login não foi concluído" in body
    assert "Esta resposta de login é desconhecida ou já foi usada" in body
