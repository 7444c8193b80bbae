"""The flow on the real broker: a Celery worker consuming from Redis polls, triages and sends."""

import time

import pytest
from celery.contrib.testing.worker import start_worker

from channels_ingest.tasks import poll_channel
from inbox.models import Case, Reply
from inbox.services import case_claim_next, reply_create
from sac.celery import app


def _wait_for(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out waiting for the worker")


@pytest.fixture
def redis_worker():
    app.conf.task_always_eager = False
    app.control.purge()
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            yield
    finally:
        app.conf.task_always_eager = True


@pytest.mark.django_db(transaction=True)
def test_a_worker_on_redis_polls_triages_and_sends_once(kit_a, redis_worker):
    kit_a.simulator.add_post("@acmetelecom via worker: sem internet de novo, não funciona!")
    poll_channel.delay(kit_a.tenant.pk, kit_a.channel.pk)
    case = _wait_for(lambda: Case.objects.filter(tenant=kit_a.tenant, subject__contains="via worker").first())
    assert case.first_response_due is not None

    case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent)
    case.refresh_from_db()
    reply = reply_create(tenant=kit_a.tenant, membership=kit_a.agent, case=case, text="Enviado pelo worker",
                         visibility="public", idempotency_key="worker-1")
    _wait_for(lambda: Reply.objects.filter(pk=reply.pk, state=Reply.State.SENT).exists())
    assert len([s for s in kit_a.simulator.sent if s["text"] == "Enviado pelo worker"]) == 1
