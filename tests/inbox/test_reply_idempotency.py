"""Sending exactly once: retries, duplicate tasks and double submits never post twice."""

import pytest

from channels_ingest.errors import TransientError
from inbox.models import Reply
from inbox.services import case_claim_next, replies_stale_sweep, reply_create, reply_deliver
from inbox.tasks import reply_deliver as reply_deliver_task

from ..factories import open_case


def _claimed_case(kit):
    case = open_case(kit)
    case_claim_next(tenant=kit.tenant, membership=kit.agent)
    case.refresh_from_db()
    return case


def _sent_with(kit, text):
    return [s for s in kit.simulator.sent if s["text"] == text]


def test_a_retried_task_never_sends_a_reply_twice(kit_a):
    case = _claimed_case(kit_a)
    reply = reply_create(tenant=kit_a.tenant, membership=kit_a.agent, case=case, text="Resposta única 1",
                         visibility="public", idempotency_key="once-1")
    reply_deliver_task.apply(args=[kit_a.tenant.pk, reply.pk])
    reply_deliver_task.apply(args=[kit_a.tenant.pk, reply.pk])  # a redelivered message
    assert reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk) is None  # a third try does nothing
    assert len(_sent_with(kit_a, "Resposta única 1")) == 1
    reply.refresh_from_db()
    assert reply.state == Reply.State.SENT and reply.attempts == 1


def test_a_rate_limited_reply_waits_for_the_reset_then_is_sent_once(kit_a):
    from datetime import timedelta

    from django.utils import timezone

    case = _claimed_case(kit_a)
    reply = reply_create(tenant=kit_a.tenant, membership=kit_a.agent, case=case, text="Resposta única 2",
                         visibility="public", idempotency_key="once-2")
    kit_a.simulator.inject_fault("rate_limit")  # a 429: refused before anything was posted
    with pytest.raises(TransientError):
        reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)
    reply.refresh_from_db()
    assert reply.state == Reply.State.QUEUED and "rate limit" in reply.error
    assert reply.next_attempt_at > timezone.now()
    # Neither the task nor the sweep sends it before X's reset.
    assert reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk) is None
    Reply.objects.filter(pk=reply.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    assert (kit_a.tenant.pk, reply.pk) not in replies_stale_sweep()
    assert _sent_with(kit_a, "Resposta única 2") == []
    # The reset has passed.
    Reply.objects.filter(pk=reply.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert (kit_a.tenant.pk, reply.pk) in replies_stale_sweep()
    reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)
    reply.refresh_from_db()
    assert reply.state == Reply.State.SENT and reply.attempts == 2
    assert len(_sent_with(kit_a, "Resposta única 2")) == 1


def test_a_reply_stuck_in_sending_is_failed_for_a_human_never_resent(kit_a):
    from datetime import timedelta

    from django.utils import timezone

    case = _claimed_case(kit_a)
    reply = reply_create(tenant=kit_a.tenant, membership=kit_a.agent, case=case, text="Resposta única 3",
                         visibility="public", idempotency_key="once-3")
    Reply.objects.filter(pk=reply.pk).update(state=Reply.State.SENDING,
                                             sending_started_at=timezone.now() - timedelta(minutes=10))
    assert (kit_a.tenant.pk, reply.pk) not in replies_stale_sweep()
    reply.refresh_from_db()
    assert reply.state == Reply.State.FAILED and reply.error.startswith("Delivery unknown:")
    assert _sent_with(kit_a, "Resposta única 3") == []


def test_the_same_idempotency_key_is_the_same_reply(kit_a):
    case = _claimed_case(kit_a)
    first = reply_create(tenant=kit_a.tenant, membership=kit_a.agent, case=case, text="oi", visibility="public",
                         idempotency_key="same")
    second = reply_create(tenant=kit_a.tenant, membership=kit_a.agent, case=case, text="oi", visibility="public",
                          idempotency_key="same")
    assert first.pk == second.pk


def test_a_task_with_another_tenants_id_sends_nothing(kit_a, kit_b):
    case = _claimed_case(kit_a)
    reply = reply_create(tenant=kit_a.tenant, membership=kit_a.agent, case=case, text="Resposta única 4",
                         visibility="public", idempotency_key="once-4")
    assert reply_deliver(tenant_id=kit_b.tenant.pk, reply_id=reply.pk) is None
    assert _sent_with(kit_a, "Resposta única 4") == []
