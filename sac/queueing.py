"""Enqueueing work whose row is already in the database (DESIGN.md: the database is the source of truth).

Ingest work (webhook deliveries, triage) is not one message per item: a tenant in a viral crisis would put
thousands of them in the shared FIFO queue, and every other tenant's work would wait behind them. Instead each
tenant has a *drain* per kind of work: a task that takes a bounded slice of that tenant's backlog from the
database (oldest first) and, when more is left, asks for another run at the back of the queue. So the queue holds
at most one waiting drain per tenant and kind (a flag in the cache, `drain_request`), each tenant's work advances a
slice per turn, round robin, and at most SAC_MAX_CONCURRENT_INGEST_PER_TENANT drains of one tenant run at once (a
few slots in the cache, `drain_run`): one tenant cannot take every worker while the others wait.
"""

import logging
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from kombu.exceptions import OperationalError as BrokerUnavailable
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# A waiting drain's flag outlives a message the broker lost by this much; the sweeps ask again after it.
DRAIN_QUEUED_SECONDS = 60
# A drain that found every slot of its tenant taken tries again after this (one waiting message per tenant).
DRAIN_SLOT_WAIT_SECONDS = 2


def delay_or_leave_to_sweep(task: Any, *args: Any, what: str) -> bool:
    """`task.delay(*args)`, the fast path. With the broker down, the work is not lost — its row is committed
    and a periodic sweep picks it up — so a broker outage is logged, not raised into the caller (an ingest
    or a webhook that has already committed). Returns whether the message was sent."""
    try:
        task.delay(*args)
    except BrokerUnavailable as exc:
        log.warning("%s: broker unavailable (%s), left to the sweep", what, exc)
        return False
    return True


def _queued_key(kind: str, tenant_id: int) -> str:
    return f"sac:drain:{kind}:{tenant_id}"


def _slot_key(tenant_id: int, slot: int) -> str:
    # One pool for every kind: the limit is on the tenant's ingest work as a whole.
    return f"sac:ingest-slot:{tenant_id}:{slot}"


def drain_request(task: Any, tenant_id: int, *, kind: str, countdown: float | None = None) -> bool:
    """Queue one run of `task(tenant_id)` unless one is already waiting; its work is in the database.

    Returns whether a message was sent. With the broker down the flag is taken back and the work is left to
    the sweep, as `delay_or_leave_to_sweep` does."""
    key = _queued_key(kind, tenant_id)
    try:
        flagged = cache.add(key, 1, timeout=DRAIN_QUEUED_SECONDS)
    except RedisError as exc:
        # No flag to share without the cache: send anyway (a second drain of a tenant only finds less to do).
        log.warning("%s drain of tenant %s: cache unavailable (%s), asking without the flag", kind, tenant_id, exc)
        flagged = None
    if flagged is False:
        return False  # a drain is waiting: it starts after this work was committed, so it will see it
    try:
        task.apply_async((tenant_id,), countdown=countdown)
    except BrokerUnavailable as exc:
        if flagged:
            cache.delete(key)
        log.warning("%s drain of tenant %s: broker unavailable (%s), left to the sweep", kind, tenant_id, exc)
        return False
    return True


def _slot_take(tenant_id: int, token: str) -> str | None:
    # A slot outlives the task's hard time limit, so one a killed worker held comes back by itself.
    ttl = int(getattr(settings, "CELERY_TASK_TIME_LIMIT", 120)) + 30
    for slot in range(max(1, settings.SAC_MAX_CONCURRENT_INGEST_PER_TENANT)):
        key = _slot_key(tenant_id, slot)
        if cache.add(key, token, timeout=ttl):
            return key
    return None


def _slot_give_back(key: str, token: str) -> None:
    if cache.get(key) == token:  # not one a later drain took after ours expired
        cache.delete(key)


def drain_run(task: Any, tenant_id: int, *, kind: str, work: Callable[[int], bool]) -> None:
    """The body of a drain task: `work(tenant_id)` does one bounded slice and says whether more is left.

    The waiting flag is dropped before any work is read, so whatever is committed from now on either is seen by
    this run or asks for a new one. Run eagerly (the demo, most tests) there is no queue to share: the slices
    simply follow each other in the caller."""
    cache.delete(_queued_key(kind, tenant_id))
    if task.request.is_eager:
        while work(tenant_id):
            pass
        return
    token = uuid.uuid4().hex
    slot = _slot_take(tenant_id, token)
    if slot is None:
        # The tenant's slots are busy; those drains ask again when they finish a slice, and so does this one.
        drain_request(task, tenant_id, kind=kind, countdown=DRAIN_SLOT_WAIT_SECONDS)
        return
    try:
        more = work(tenant_id)
    finally:
        _slot_give_back(slot, token)
    if more:
        drain_request(task, tenant_id, kind=kind)
