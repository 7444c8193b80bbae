"""Fairness of ingest work: a tenant in a viral crisis does not make the others wait (sac/queueing.py).

Webhook deliveries and triage are per-tenant drains: at most one waiting in the queue per tenant and kind, each
taking a bounded slice of its tenant's backlog before going to the back of the queue, and at most
SAC_MAX_CONCURRENT_INGEST_PER_TENANT running for one tenant. With one message per delivery (or per page), a
second tenant's single comment used to wait behind the whole flood.

The flood tests run a real Celery worker on Redis. The worker starts only after both tenants' work is stored, so
the queue holds what a burst leaves in it; the order the worker processed things in is then read back from the
rows' own timestamps.
"""

import json
import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.cache import cache
from django.db import OperationalError

from channels_ingest import tasks as ingest_tasks
from channels_ingest.models import Mention, Platform, WebhookDelivery
from channels_ingest.selectors import webhook_backlog_tenants
from channels_ingest.services import (
    WEBHOOK_DRAIN_SLICE,
    channel_create,
    webhook_deliveries_drain,
    webhook_delivery_store,
)
from inbox.models import Case
from inbox.services.cases import TRIAGE_DRAIN_BATCH, TRIAGE_DRAIN_BATCHES
from sac import queueing
from sac.celery import app

from ..factories import ingest, mention_item

SECRET = "fair-secret"


def ig_channel(tenant, account: str):
    return channel_create(tenant=tenant, platform=Platform.INSTAGRAM, name="IG", external_account_id=account,
                          credentials={"access_token": "t", "app_secret": SECRET, "verify_token": "vt"})


def ig_body(account: str, comment_id: str, text: str, author: str) -> bytes:
    # Shape of Meta's Instagram `comments` webhook (see tests/channels_ingest/test_webhooks.py for the reference).
    value = {"from": {"id": author, "username": f"user{author}"},
             "media": {"id": "123123123", "media_product_type": "FEED"}, "id": comment_id, "text": text}
    return json.dumps({"object": "instagram", "entry": [{"id": account, "time": 1795428942,
                                                         "changes": [{"field": "comments", "value": value}]}]}).encode()


def _wait_for(predicate, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("timed out waiting for the worker")


@pytest.fixture
def broker():
    """Tasks go to Redis (not run in-process); `broker.work()` starts one worker once the burst is queued."""
    app.conf.task_always_eager = False
    app.control.purge()
    cache.clear()  # no drain flag or slot left over from an earlier test

    class Broker:
        def work(self):
            return start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10)

    try:
        yield Broker()
    finally:
        app.conf.task_always_eager = True
        app.control.purge()
        cache.clear()


@pytest.mark.django_db(transaction=True)
def test_one_tenants_webhook_flood_does_not_hold_back_anothers_comment(kit_a, kit_b, broker):
    channel_a, channel_b = ig_channel(kit_a.tenant, "17841400000000001"), ig_channel(kit_b.tenant, "17841400000000002")
    flood = 200
    for i in range(flood):
        webhook_delivery_store(channel=channel_a, body=ig_body("17841400000000001", f"1790000000{i:04d}",
                                                               f"Viralizou: sem sinal de novo {i}", str(5000 + i)))
    webhook_delivery_store(channel=channel_b, body=ig_body("17841400000000002", "17911111111111111",
                                                           "Meu cartão foi bloqueado sem aviso, absurdo!", "777"))
    # A burst queues one drain per tenant, not one message per delivery.
    assert app.connection().default_channel.client.llen("ingest") == 2

    with broker.work():
        _wait_for(lambda: not WebhookDelivery.objects.filter(processed_at__isnull=True).exists()
                  and not Mention.objects.filter(triaged_at__isnull=True).exists())

    b_done = WebhookDelivery.objects.get(channel=channel_b).processed_at
    a_before_b = WebhookDelivery.objects.filter(channel=channel_a, processed_at__lt=b_done).count()
    # B's comment went after one slice of A's flood, not after all 200 of it (the old FIFO gave 200).
    assert a_before_b <= WEBHOOK_DRAIN_SLICE
    assert Mention.objects.filter(channel=channel_a).count() == flood  # and A's flood all went in, each once
    case_b = Case.objects.get(tenant=kit_b.tenant)
    assert case_b.subject.startswith("Meu cartão foi bloqueado")


@pytest.mark.django_db(transaction=True)
def test_one_tenants_triage_backlog_does_not_hold_back_anothers_mention(kit_a, kit_b, broker):
    pages, per_page = 15, 100
    for page in range(pages):
        ingest(kit_a.channel, [mention_item(f"viral {page}-{i}: caiu tudo, absurdo!", author_id=str(9000 + i))
                               for i in range(per_page)])
    ingest(kit_b.channel, [mention_item("Meu cartão foi bloqueado sem aviso, absurdo!", author_id="4242")])
    # Sixteen pages stored, one triage drain waiting per tenant.
    assert app.connection().default_channel.client.llen("ingest") == 2

    with broker.work():
        _wait_for(lambda: not Mention.objects.filter(triaged_at__isnull=True).exists())

    b_triaged = Mention.objects.get(tenant=kit_b.tenant).triaged_at
    a_before_b = Mention.objects.filter(tenant=kit_a.tenant, triaged_at__lt=b_triaged).count()
    assert a_before_b <= TRIAGE_DRAIN_BATCH * TRIAGE_DRAIN_BATCHES  # one slice of A's 1,500, not all of it
    assert Mention.objects.filter(tenant=kit_a.tenant, triaged_at__isnull=False).count() == pages * per_page
    assert Case.objects.filter(tenant=kit_b.tenant).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_tenant_runs_at_most_its_share_of_drains_at_once(kit_a, kit_b, broker, settings):
    """With both of A's slots taken (two of A's drains running), a third waits; B's drain runs meanwhile."""
    settings.SAC_MAX_CONCURRENT_INGEST_PER_TENANT = 2
    channel_a, channel_b = ig_channel(kit_a.tenant, "17841400000000001"), ig_channel(kit_b.tenant, "17841400000000002")
    webhook_delivery_store(channel=channel_a, body=ig_body("17841400000000001", "1", "oi", "1"))
    webhook_delivery_store(channel=channel_b, body=ig_body("17841400000000002", "2", "olá", "2"))
    app.control.purge()
    cache.clear()
    for slot in range(2):
        assert cache.add(queueing._slot_key(kit_a.tenant.pk, slot), "a drain of A that is running", 60)

    task = ingest_tasks.webhook_deliveries_drain
    task.push_request(is_eager=False)
    try:
        worked = []

        def work(tenant_id):
            worked.append(tenant_id)
            return webhook_deliveries_drain(tenant_id=tenant_id)

        queueing.drain_run(task, kit_a.tenant.pk, kind="webhooks", work=work)
        assert worked == []  # A's third drain did nothing ...
        assert cache.get(queueing._queued_key("webhooks", kit_a.tenant.pk))  # ... but asked to run again
        queueing.drain_run(task, kit_b.tenant.pk, kind="webhooks", work=work)
        assert worked == [kit_b.tenant.pk]  # B is not held back by A's slots
        assert WebhookDelivery.objects.get(channel=channel_b).processed_at is not None

        cache.delete(queueing._slot_key(kit_a.tenant.pk, 0))  # one of A's drains finished
        queueing.drain_run(task, kit_a.tenant.pk, kind="webhooks", work=work)
        assert worked == [kit_b.tenant.pk, kit_a.tenant.pk]
        assert WebhookDelivery.objects.get(channel=channel_a).processed_at is not None
        assert cache.get(queueing._slot_key(kit_a.tenant.pk, 0)) is None  # the slot was given back
    finally:
        task.pop_request()


@pytest.mark.django_db(transaction=True)
def test_deliveries_that_keep_failing_do_not_hold_back_the_newer_ones_nor_spin(kit_a, monkeypatch):
    from channels_ingest import services

    channel = ig_channel(kit_a.tenant, "17841400000000001")
    app.conf.task_always_eager = False  # store without processing: the drain below is called directly
    cache.clear()
    try:
        stored = [webhook_delivery_store(channel=channel, body=ig_body("17841400000000001", str(i), f"oi {i}", "5"))
                  for i in range(4)]
    finally:
        app.conf.task_always_eager = True
        app.control.purge()
    broken = {stored[0].pk, stored[1].pk}  # the two oldest: at the head of every slice
    real = services.webhook_delivery_process

    def process(*, tenant_id, delivery_id):
        if delivery_id in broken:
            raise OperationalError("server closed the connection unexpectedly")
        return real(tenant_id=tenant_id, delivery_id=delivery_id)

    monkeypatch.setattr(services, "webhook_delivery_process", process)
    # A slice that got nowhere does not ask again (no spinning) ...
    assert webhook_deliveries_drain(tenant_id=kit_a.tenant.pk, limit=2) is False
    assert not Mention.objects.filter(channel=channel).exists()
    # ... and the next slices leave the failing ones out for a while, so the newer ones go in.
    assert webhook_deliveries_drain(tenant_id=kit_a.tenant.pk, limit=2) is True
    assert Mention.objects.filter(channel=channel).count() == 2
    assert webhook_deliveries_drain(tenant_id=kit_a.tenant.pk, limit=2) is False
    # The failing ones stay waiting, for the sweep to try again once their hold is over.
    assert kit_a.tenant.pk in webhook_backlog_tenants(older_than=timedelta(0))
    cache.clear()  # the hold is over
    monkeypatch.setattr(services, "webhook_delivery_process", real)
    webhook_deliveries_drain(tenant_id=kit_a.tenant.pk, limit=2)
    assert Mention.objects.filter(channel=channel).count() == 4


@pytest.mark.django_db
def test_mentions_triage_keeps_failing_on_do_not_hold_back_the_newer_ones(kit_a, monkeypatch):
    from inbox.services import cases

    cache.clear()
    result = ingest(kit_a.channel, [mention_item(f"caiu a internet de novo {i}, absurdo!", author_id=str(70 + i))
                                    for i in range(4)])
    broken = set(result.stored_ids[:2])
    real = cases._triage_batch

    def triage_batch(tenant, config, mention_ids):
        if broken & set(mention_ids):
            raise RuntimeError("a triage bug on an odd mention")
        return real(tenant, config, mention_ids)

    monkeypatch.setattr(cases, "_triage_batch", triage_batch)
    assert cases.mentions_triage_drain(tenant_id=kit_a.tenant.pk, batch=2, batches=1) is False  # nowhere: stop
    assert cases.mentions_triage_drain(tenant_id=kit_a.tenant.pk, batch=2, batches=1) is True
    triaged = set(Mention.objects.filter(tenant=kit_a.tenant, triaged_at__isnull=False).values_list("pk", flat=True))
    assert triaged == set(result.stored_ids) - broken
    assert Case.objects.filter(tenant=kit_a.tenant).count() == 2


@pytest.mark.django_db
def test_the_sweeps_find_a_tenants_lost_work_behind_anothers_backlog(kit_a, kit_b):
    from django.utils import timezone

    from channels_ingest.selectors import tenants_with_untriaged

    channel_a, channel_b = ig_channel(kit_a.tenant, "17841400000000001"), ig_channel(kit_b.tenant, "17841400000000002")
    old = timezone.now() - timedelta(minutes=5)
    WebhookDelivery.objects.bulk_create(
        [WebhookDelivery(tenant=kit_a.tenant, channel=channel_a, body=b"{}") for _ in range(600)]
        + [WebhookDelivery(tenant=kit_b.tenant, channel=channel_b, body=b"{}")])
    WebhookDelivery.objects.update(received_at=old)
    assert set(webhook_backlog_tenants()) == {kit_a.tenant.pk, kit_b.tenant.pk}
    result = ingest(kit_b.channel, [mention_item("sem sinal")])
    Mention.objects.filter(pk__in=result.stored_ids).update(received_at=old)
    assert tenants_with_untriaged(received_before=timezone.now()) == [kit_b.tenant.pk]


@pytest.mark.django_db(transaction=True)
def test_with_the_cache_down_the_drain_still_does_the_work(kit_a, monkeypatch):
    """The cache only coordinates drains (flag, slots, holds); without it the work still gets done."""
    from redis.exceptions import ConnectionError as RedisDown

    channel = ig_channel(kit_a.tenant, "17841400000000001")
    app.conf.task_always_eager = False
    try:
        webhook_delivery_store(channel=channel, body=ig_body("17841400000000001", "1", "oi", "1"))
    finally:
        app.conf.task_always_eager = True
        app.control.purge()

    def down(*args, **kwargs):
        raise RedisDown("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    for method in ("add", "get", "set", "delete"):
        monkeypatch.setattr(cache, method, down)
    task = ingest_tasks.webhook_deliveries_drain
    task.push_request(is_eager=False)
    try:
        queueing.drain_run(task, kit_a.tenant.pk, kind="webhooks",
                           work=lambda tenant: webhook_deliveries_drain(tenant_id=tenant))
    finally:
        task.pop_request()
    assert WebhookDelivery.objects.get(channel=channel).processed_at is not None
    assert Mention.objects.filter(channel=channel).count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_health_page_shows_the_channels_waiting_ingest_work(kit_a, kit_b):
    from ..conftest import login

    channel = ig_channel(kit_a.tenant, "17841400000000001")
    app.conf.task_always_eager = False  # stored, not processed yet: a backlog
    try:
        for i in range(3):
            webhook_delivery_store(channel=channel, body=ig_body("17841400000000001", str(i), f"oi {i}", "5"))
    finally:
        app.conf.task_always_eager = True
        app.control.purge()
        cache.clear()
    page = login(kit_a.admin).get(f"/t/acme/channels/{channel.pk}/").content.decode()
    assert "Webhook deliveries waiting: <strong>3</strong>" in page
    assert "Mentions waiting for triage: <strong>0</strong>" in page
    assert login(kit_b.admin).get(f"/t/acme/channels/{channel.pk}/").status_code in (403, 404)
    webhook_deliveries_drain(tenant_id=kit_a.tenant.pk)
    assert 'id="ingest-backlog"' not in login(kit_a.admin).get(f"/t/acme/channels/{channel.pk}/").content.decode()
