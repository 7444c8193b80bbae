"""Instagram end to end against the loopback simulator (channels_ingest/simulator/instagram.py): poll → mentions →
cases → a reply posted back, our reply recognised when it comes back, private replies once per comment, and
signed `comments` webhooks (some lost on purpose, caught by the reconciliation poll).

The simulator's Instagram shapes are built from Meta's reference (no recording of a media list or an Instagram
webhook exists in ../shared; see the simulator module's docstring).
"""

import pytest
from django.test import Client
from django.utils import timezone

from channels_ingest.connectors import connector_for
from channels_ingest.errors import PermanentError
from channels_ingest.models import ChannelAccount, Mention, Platform
from channels_ingest.services import channel_create, channel_poll
from channels_ingest.types import OutboundMessage
from inbox.models import Case, Reply
from inbox.services import case_claim_next, reply_create, reply_deliver

APP_SECRET = "ig-app-secret"


def ig_channel(kit):
    ig = kit.simulator.instagram
    return channel_create(tenant=kit.tenant, platform=Platform.INSTAGRAM, name="@acmetelecom on Instagram",
                          external_account_id=ig.account_id, handle=ig.username,
                          api_base_url=f"{kit.simulator.base_url}/graph/v21.0",
                          credentials={"access_token": "ig-token", "app_secret": APP_SECRET, "verify_token": "vt"})


def _stored(channel):
    return {m.external_id: m for m in Mention.objects.filter(tenant=channel.tenant, channel=channel)}


@pytest.mark.django_db
def test_instagram_poll_opens_cases_and_the_agents_reply_is_posted_once(kit_a, django_capture_on_commit_callbacks):
    ig = kit_a.simulator.instagram
    channel = ig_channel(kit_a)
    complaint = ig.add_comment("@acmetelecom meu pedido não chegou e ninguém responde, péssimo! 😡",
                               author_username="cliente_furiosa")
    follow_up = ig.add_comment("@cliente_furiosa comigo também, já faz uma semana", author_username="outro_cliente",
                               parent_id=complaint["id"])

    with django_capture_on_commit_callbacks(execute=True):
        run = channel_poll(tenant_id=kit_a.tenant.pk, channel_id=channel.pk)
    assert (run.outcome, run.stored) == ("ok", 2)
    stored = _stored(channel)
    assert stored[complaint["id"]].author.handle == "cliente_furiosa"
    assert stored[follow_up["id"]].in_reply_to_external_id == complaint["id"]
    assert stored[complaint["id"]].permalink.startswith("https://www.instagram.com/p/")
    case = Case.objects.get(tenant=kit_a.tenant, case_mentions__mention=stored[complaint["id"]])

    assert case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent) is not None
    case.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        reply = reply_create(tenant=kit_a.tenant, membership=kit_a.agent, case=case, idempotency_key="ig-1",
                             text="Oi! Sentimos muito, já estamos verificando seu pedido.", visibility="public")
    reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)  # a redelivered task posts nothing more
    reply.refresh_from_db()
    assert reply.state == Reply.State.SENT
    sent = [s for s in ig.sent if s["text"].startswith("Oi! Sentimos muito")]
    assert len(sent) == 1 and sent[0]["kind"] == "reply"

    # Our reply comes back on the next poll: stored as the brand's, never a new customer mention or case.
    cases_before = Case.objects.filter(tenant=kit_a.tenant).count()
    ChannelAccount.objects.filter(pk=channel.pk).update(next_poll_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        again = channel_poll(tenant_id=kit_a.tenant.pk, channel_id=channel.pk)
    assert (again.stored, again.duplicates) == (1, 2)
    ours = _stored(channel)[sent[0]["id"]]
    assert ours.direction == Mention.Direction.OUTBOUND
    assert Case.objects.filter(tenant=kit_a.tenant).count() == cases_before


@pytest.mark.django_db
def test_instagram_private_reply_goes_once_per_comment(kit_a):
    ig = kit_a.simulator.instagram
    channel = ig_channel(kit_a)
    comment = ig.add_comment("Quero falar sobre minha fatura, meu CPF é 123.456.789-09", author_username="ana.ig")
    channel_poll(tenant_id=kit_a.tenant.pk, channel_id=channel.pk)
    connector = connector_for(channel)
    message = OutboundMessage(visibility="private", text="Oi Ana, vamos continuar por aqui.",
                              in_reply_to_external_id=comment["id"])
    assert connector.send(message)
    with pytest.raises(PermanentError, match="only one private reply per comment"):
        connector_for(channel).send(message)
    assert [s["kind"] for s in ig.sent] == ["message"]


@pytest.mark.django_db
def test_instagram_webhooks_lost_in_the_wild_are_caught_by_the_reconciliation_poll(
        kit_a, django_capture_on_commit_callbacks):
    ig = kit_a.simulator.instagram
    channel = ig_channel(kit_a)
    channel_poll(tenant_id=kit_a.tenant.pk, channel_id=channel.pk)  # connected: nothing yet

    def deliver(body: bytes, headers: dict[str, str]) -> None:
        response = Client().post(f"/hooks/instagram/{channel.webhook_key}/", body, content_type="application/json",
                                 HTTP_X_HUB_SIGNATURE_256=headers["X-Hub-Signature-256"])
        assert response.status_code == 200

    ig.subscribe(deliver, APP_SECRET)
    with django_capture_on_commit_callbacks(execute=True):
        delivered = [ig.add_comment(f"@acmetelecom sem sinal no bairro, parte {i}") for i in range(3)]
        ig.lose_webhooks(2)
        lost = [ig.add_comment(f"@acmetelecom ainda sem sinal, parte {i}") for i in range(2)]
    assert set(_stored(channel)) == {c["id"] for c in delivered}

    ChannelAccount.objects.filter(pk=channel.pk).update(next_poll_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        run = channel_poll(tenant_id=kit_a.tenant.pk, channel_id=channel.pk)
    assert (run.source, run.stored, run.duplicates) == ("reconcile", 2, 3)
    sources = {ext: m.ingest_run.source for ext, m in _stored(channel).items()}
    assert sources == {**{c["id"]: "webhook" for c in delivered}, **{c["id"]: "reconcile" for c in lost}}


@pytest.mark.django_db
def test_a_delivery_signed_with_another_secret_is_refused(kit_a):
    ig = kit_a.simulator.instagram
    channel = ig_channel(kit_a)
    refused = []
    ig.subscribe(lambda body, headers: refused.append(Client().post(
        f"/hooks/instagram/{channel.webhook_key}/", body, content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=headers["X-Hub-Signature-256"]).status_code), "not-the-apps-secret")
    ig.add_comment("@acmetelecom oi")
    assert refused == [403] and not _stored(channel)
