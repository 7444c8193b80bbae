"""Webhooks get lost: while a channel's webhooks are live, a slower reconciliation poll still runs and stores
what they missed, once.

The X Account Activity bodies are written from X's reference (tweet_create_events carry v1.1 statuses; no
recording exists in ../shared), built from the simulator's own posts so poll and webhook see the same ids.
"""

import base64
import hashlib
import hmac
import json
from datetime import datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from channels_ingest.models import ChannelAccount, Mention, PollRun
from channels_ingest.services import channel_poll

from ..conftest import login


def _status(simulator, tweet: dict) -> dict:
    user = simulator.store.users[tweet["author_id"]]
    created = datetime.fromisoformat(tweet["created_at"].replace("Z", "+00:00"))
    return {"id_str": tweet["id"], "created_at": created.strftime("%a %b %d %H:%M:%S +0000 %Y"),
            "text": tweet["text"], "lang": tweet["lang"],
            "user": {"id_str": user.id, "screen_name": user.username, "name": user.name,
                     "followers_count": user.followers_count}}


def _deliver(channel, body: bytes) -> int:
    secret = channel.credentials["consumer_secret"]
    signature = "sha256=" + base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return Client().post(f"/hooks/x/{channel.webhook_key}/", body, content_type="application/json",
                         HTTP_X_TWITTER_WEBHOOKS_SIGNATURE=signature).status_code


def _due_now(channel) -> None:
    ChannelAccount.objects.filter(tenant=channel.tenant, pk=channel.pk).update(next_poll_at=timezone.now())


@pytest.mark.django_db
def test_reconciliation_poll_stores_what_webhooks_lost_once(kit_a, settings, django_capture_on_commit_callbacks):
    settings.SAC_RECONCILE_INTERVAL_SECONDS = 300
    sim, channel = kit_a.simulator, kit_a.channel
    sim.add_post("@acmetelecom primeira")
    assert channel_poll(tenant_id=kit_a.tenant.pk, channel_id=channel.pk).source == "poll"

    posted = [sim.add_post(f"@acmetelecom sem sinal desde ontem, parte {i}") for i in range(5)]
    delivered, lost = posted[:3], posted[3:]
    with django_capture_on_commit_callbacks(execute=True):
        for tweet in delivered:  # one delivery per event, as X sends them
            body = json.dumps({"for_user_id": channel.external_account_id,
                               "tweet_create_events": [_status(sim, tweet)]}).encode()
            assert _deliver(channel, body) == 200
    by_webhook = dict(Mention.objects.filter(tenant=kit_a.tenant, channel=channel,
                                             external_id__in=[t["id"] for t in posted])
                      .values_list("external_id", "ingest_run__source"))
    assert by_webhook == {t["id"]: "webhook" for t in delivered}

    _due_now(channel)
    with django_capture_on_commit_callbacks(execute=True):
        run = channel_poll(tenant_id=kit_a.tenant.pk, channel_id=channel.pk)
    assert (run.source, run.stored, run.duplicates) == ("reconcile", 2, 3)
    stored = list(Mention.objects.filter(tenant=kit_a.tenant, channel=channel,
                                         external_id__in=[t["id"] for t in posted])
                  .values_list("external_id", "ingest_run__source"))
    assert sorted(stored) == sorted([(t["id"], "webhook") for t in delivered] + [(t["id"], "reconcile")
                                                                                   for t in lost])
    # Both kinds of arrival became cases, each mention in one.
    assert Mention.objects.filter(pk__in=[m.pk for m in Mention.objects.filter(channel=channel)],
                                  case_link__isnull=False).count() >= 5

    # The next poll waits for the reconciliation interval, not the channel's poll interval.
    channel.refresh_from_db()
    wait = channel.next_poll_at - timezone.now()
    assert timedelta(seconds=290) < wait <= timedelta(seconds=300)
    assert "reconciliation" in run.rate_note

    page = login(kit_a.admin).get(f"/t/acme/channels/{channel.pk}/")
    assert page.status_code == 200 and b"reconcile" in page.content


@pytest.mark.django_db
def test_channel_whose_webhooks_went_quiet_is_polled_at_full_speed_again(kit_a, settings):
    settings.SAC_WEBHOOK_ACTIVE_SECONDS = 3600
    channel = kit_a.channel
    webhook_run = PollRun.objects.create(tenant=kit_a.tenant, channel=channel, source="webhook")
    PollRun.objects.filter(pk=webhook_run.pk).update(started_at=timezone.now() - timedelta(hours=2))
    kit_a.simulator.add_post("@acmetelecom alguém aí?")
    run = channel_poll(tenant_id=kit_a.tenant.pk, channel_id=channel.pk)
    assert run.source == "poll" and run.stored == 1
    channel.refresh_from_db()
    assert channel.next_poll_at is None or channel.next_poll_at - timezone.now() <= timedelta(
        seconds=channel.poll_interval_seconds)


@pytest.mark.django_db
def test_another_tenants_webhooks_do_not_slow_this_tenants_polling(kit_a, kit_b):
    PollRun.objects.create(tenant=kit_b.tenant, channel=kit_b.channel, source="webhook")
    kit_a.simulator.add_post("@acmetelecom oi")
    assert channel_poll(tenant_id=kit_a.tenant.pk, channel_id=kit_a.channel.pk).source == "poll"
    assert channel_poll(tenant_id=kit_b.tenant.pk, channel_id=kit_b.channel.pk).source == "reconcile"
