"""X refusing a channel because the X app's own allowance is spent (SAC issue #3: "surviving everything the real
APIs throw at them", "no hammering", pay-per-use X): its pay-per-use credits used up (HTTP 402, problem type
credits-depleted) or a usage cap reached (HTTP 429, problem type usage-capped, which a rate limit is not).

Nothing changes until someone adds credits or the cap resets, so the channel is not stopped (it carries on by itself)
and is not asked every rate window either: once an hour. The admins see why on the channel pages, in their language;
an agent's reply refused so fails at once with the reason, is not posted, and goes out once when sent again.

The bodies: tests/fixtures/x/*.json, built from X's documentation where no recording exists (each says so), and the
loopback simulator's `credits_depleted` and `usage_capped` faults, which answer the same.
"""

import json
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.urls import reverse
from django.utils import timezone

from channels_ingest.errors import QUOTA_CAP, QUOTA_CREDITS
from channels_ingest.models import ChannelAccount
from channels_ingest.services import channel_poll
from channels_ingest.x.client import QUOTA_RETRY_SECONDS, _quota_refusal
from inbox.models import Reply
from inbox.services import case_claim_next, reply_create, reply_deliver, reply_retry

from ..conftest import login
from ..factories import open_case

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "x"


def _response(status: int, body: object) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    response.headers["content-type"] = "application/json"
    return response


def _poll(kit):
    ChannelAccount.objects.filter(pk=kit.channel.pk).update(next_poll_at=timezone.now())
    run = channel_poll(tenant_id=kit.tenant.pk, channel_id=kit.channel.pk)
    kit.channel.refresh_from_db()
    return run


def _portuguese(kit) -> None:
    kit.tenant.locale = "pt-br"  # the pages speak the brand's language
    kit.tenant.save(update_fields=["locale"])


def _page(kit, name: str) -> str:
    args = [kit.tenant.slug] if name == "list" else [kit.tenant.slug, kit.channel.pk]
    return login(kit.admin).get(reverse(f"channels_ingest:{name}", args=args)).content.decode()


@pytest.mark.parametrize(("fixture", "text"), [
    ("credits_depleted_402.json", QUOTA_CREDITS),
    ("usage_capped_429.json", QUOTA_CAP["Monthly"]),
])
def test_the_documented_bodies_are_told_apart_from_a_rate_limit_or_a_refusal(fixture, text):
    recorded = json.loads((FIXTURES / fixture).read_text())
    refusal = _quota_refusal(_response(recorded["status"], recorded["body"]))
    assert refusal is not None and str(refusal) == text
    assert refusal.retry_after_seconds == QUOTA_RETRY_SECONDS
    # A plain rate limit, an app refused an endpoint, and a server error are not X's credits or cap.
    assert _quota_refusal(_response(429, {"title": "Too Many Requests", "type": "about:blank"})) is None
    assert _quota_refusal(_response(403, {"title": "Client Forbidden",
                                          "type": "https://api.twitter.com/2/problems/client-forbidden"})) is None
    assert _quota_refusal(_response(503, recorded["body"])) is None
    # The problem inside an `errors` list counts too.
    assert str(_quota_refusal(_response(recorded["status"], {"errors": [recorded["body"]]}))) == text


def test_credits_used_up_keep_the_channel_and_ask_again_in_an_hour_then_carry_on(kit_a, kit_b):
    open_case(kit_a)
    case = case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent)
    assert _poll(kit_a).outcome == "ok"
    kit_a.simulator.add_post("@acmetelecom minha internet caiu")
    kit_a.simulator.inject_fault("credits_depleted")

    run = _poll(kit_a)

    assert run.outcome == "failed" and run.error == QUOTA_CREDITS
    assert run.rate_note == f"X quota spent: next try in {QUOTA_RETRY_SECONDS} s"
    assert kit_a.channel.status == ChannelAccount.Status.ACTIVE  # it carries on by itself, unlike a refused token
    assert kit_a.channel.quota_refusal == QUOTA_CREDITS and kit_a.channel.quota_refused_since is not None
    since = kit_a.channel.quota_refused_since
    wait = kit_a.channel.next_poll_at - timezone.now()
    assert timedelta(minutes=59) < wait <= timedelta(hours=1)
    health, listing = _page(kit_a, "health"), _page(kit_a, "list")
    assert 'id="x-quota"' in health and "credits are used up" in health
    assert "SAC asks X again every hour" in health
    assert f'id="quota-{kit_a.channel.pk}"' in listing and "X refuses the requests of @acme on X" in listing
    # The agent answering a case of the channel is told before writing.
    case_page = login(kit_a.agent).get(reverse("inbox:case", args=[kit_a.tenant.slug, case.pk])).content.decode()
    assert 'id="network-refusal"' in case_page and "A reply on X fails until then" in case_page
    # Another brand sees nothing of it, and cannot open the channel's page.
    assert "credits are used up" not in _page(kit_b, "list")
    refused = login(kit_b.admin).get(reverse("channels_ingest:health", args=[kit_b.tenant.slug, kit_a.channel.pk]))
    assert refused.status_code == 404

    kit_a.simulator.inject_fault("credits_depleted")
    assert _poll(kit_a).outcome == "failed"  # an hour later, still refused: refused since the first time
    assert kit_a.channel.quota_refused_since == since

    again = _poll(kit_a)  # credits added: the next try goes through, and the pages stop saying it

    assert again.outcome == "ok" and again.stored >= 1
    assert kit_a.channel.quota_refusal == "" and kit_a.channel.quota_refused_since is None
    assert 'id="x-quota"' not in _page(kit_a, "health")
    case_page = login(kit_a.agent).get(reverse("inbox:case", args=[kit_a.tenant.slug, case.pk])).content.decode()
    assert 'id="network-refusal"' not in case_page
    assert f'id="quota-{kit_a.channel.pk}"' not in _page(kit_a, "list")


def test_a_usage_cap_is_not_taken_for_a_rate_limit_and_is_shown_in_portuguese(kit_a):
    assert _poll(kit_a).outcome == "ok"
    kit_a.simulator.inject_fault("usage_capped")  # a 429 whose rate headers still show calls left

    run = _poll(kit_a)

    assert run.outcome == "failed" and run.error == QUOTA_CAP["Monthly"]
    assert kit_a.channel.status == ChannelAccount.Status.ACTIVE
    assert kit_a.channel.next_poll_at - timezone.now() > timedelta(minutes=59)
    _portuguese(kit_a)
    health = _page(kit_a, "health")
    assert "atingiu o limite mensal de uso" in health and "O SAC pergunta ao X de novo a cada hora" in health
    assert "X quota spent" not in health  # the rate note too
    # The cap counts the posts read, not those written: replies still go out, and the composer does not warn.
    assert "as respostas ainda podem ser enviadas" in health and not kit_a.channel.quota_blocks_sends


def test_credits_running_out_on_the_search_keep_the_mentions_read_and_the_channel_says_why(kit_a):
    ChannelAccount.objects.filter(pk=kit_a.channel.pk).update(search_terms="acmefibra")
    assert _poll(kit_a).outcome == "ok"
    kit_a.simulator.add_post("@acmetelecom a conta veio errada")
    kit_a.simulator.inject_fault("credits_depleted", route="search_recent")  # the mentions were read first

    run = _poll(kit_a)

    assert run.outcome == "ok" and run.stored >= 1  # the mentions read (and billed) are kept
    assert run.rate_note == f"X quota spent: next try in {QUOTA_RETRY_SECONDS} s"
    assert kit_a.channel.quota_refusal == QUOTA_CREDITS and kit_a.channel.quota_blocks_sends
    assert kit_a.channel.next_poll_at - timezone.now() > timedelta(minutes=59)
    assert 'id="x-quota"' in _page(kit_a, "health")
    assert _poll(kit_a).outcome == "ok" and kit_a.channel.quota_refusal == ""  # credits added


def test_a_reply_refused_for_credits_fails_at_once_with_the_reason_and_goes_out_once_when_sent_again(kit_a):
    case = open_case(kit_a)
    case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent)
    case.refresh_from_db()
    reply = reply_create(tenant=kit_a.tenant, membership=kit_a.agent, case=case, text="Já verificamos, obrigado",
                         visibility="public", idempotency_key="quota-1")
    kit_a.simulator.inject_fault("credits_depleted", route="create_tweet")

    reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)  # no retry queued: it fails now

    reply.refresh_from_db()
    assert reply.state == Reply.State.FAILED and reply.error == QUOTA_CREDITS and reply.attempts == 1
    kit_a.channel.refresh_from_db()  # the channel says it at once, not at its next poll
    assert kit_a.channel.quota_refusal == QUOTA_CREDITS and kit_a.channel.quota_refused_since is not None
    assert [s for s in kit_a.simulator.sent if s["text"] == "Já verificamos, obrigado"] == []
    _portuguese(kit_a)
    page = login(kit_a.agent).get(reverse("inbox:case", args=[kit_a.tenant.slug, case.pk])).content.decode()
    assert "créditos" in page and "Enviar de novo" in page

    reply_retry(tenant=kit_a.tenant, membership=kit_a.agent, reply=reply)
    reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)

    reply.refresh_from_db()
    assert reply.state == Reply.State.SENT
    assert len([s for s in kit_a.simulator.sent if s["text"] == "Já verificamos, obrigado"]) == 1
