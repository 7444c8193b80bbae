"""Enqueueing work whose row is already in the database (DESIGN.md: the database is the source of truth).

Ingest work (webhook deliveries, triage) is not one message per item: a tenant in a viral crisis would put
thousands of them in the shared FIFO queue, and every other tenant's work would wait behind them. Instead each
tenant has a *drain* per kind of work: a task that takes a bounded slice of that tenant's backlog from the
database (oldest first) and, when more is left, asks for another run at the back of the queue. So the queue holds
at most one waiting drain per tenant and kind (a flag in the cache, `drain_request`), each tenant's work advances a
slice per turn, round robin, and at most SAC_MAX_CONCURRENT_INGEST_PER_TENANT drains of one tenant run at once (a
few slots in the cache, `drain_run`): one tenant cannot take every worker while the others wait.

The cache only coordinates: with it down a drain runs without flag or slot (at worst two drains of a tenant find
less to do each), and the work itself is never kept anywhere but in the database.
"""

import logging
import time
import uuid
from collections.abc import Callable, Iterable
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
# An item whose processing raised is left out of its tenant's slices for this long (then the sweep retries it),
# so items that keep failing at the head of the backlog never hold back the newer ones behind them.
FAILED_HOLD_SECONDS = 300
FAILED_KEPT = 1000  # ids remembered per tenant and kind; the oldest marks go first


def _queued_key(kind: str, tenant_id: int) -> str:
    return f"sac:drain:{kind}:{tenant_id}"


def _slot_key(tenant_id: int, slot: int) -> str:
    # One pool for every kind: the limit is on the tenant's ingest work as a whole.
    return f"sac:ingest-slot:{tenant_id}:{slot}"


def _failed_key(kind: str, tenant_id: int) -> str:
    return f"sac:drain-failed:{kind}:{tenant_id}"


def drain_request(task: Any, tenant_id: int, *, kind: str, countdown: float | None = None) -> bool:
    """Queue one run of `task(tenant_id)` unless one is already waiting; its work is in the database.

    Returns whether a message was sent. With the broker down the flag is taken back and the work is left to
    the sweep, which asks again once the broker is back; nothing is raised into the caller (an ingest or a
    webhook that has already committed)."""
    key = _queued_key(kind, tenant_id)
    # None when the cache is down: no flag to share, so send anyway (a second drain only finds less to do).
    flagged = _cache_call(cache.add, key, 1, timeout=DRAIN_QUEUED_SECONDS)
    if flagged is False:
        return False  # a drain is waiting: it starts after this work was committed, so it will see it
    try:
        task.apply_async((tenant_id,), countdown=countdown)
    except BrokerUnavailable as exc:
        if flagged:
            _cache_call(cache.delete, key)
        log.warning("%s drain of tenant %s: broker unavailable (%s), left to the sweep", kind, tenant_id, exc)
        return False
    return True


def _cache_call(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """A coordinating cache call; None when the cache is down (logged), never an exception into the drain."""
    try:
        return call(*args, **kwargs)
    except RedisError as exc:
        log.warning("drain coordination without the cache (%s)", exc)
        return None


def _slot_take(tenant_id: int, token: str) -> str | None:
    """A free slot of the tenant's; "" when the cache is down (the drain runs without one); None when all are
    taken. A slot outlives the task's hard time limit, so one a killed worker held comes back by itself."""
    ttl = int(getattr(settings, "CELERY_TASK_TIME_LIMIT", 120)) + 30
    for slot in range(max(1, settings.SAC_MAX_CONCURRENT_INGEST_PER_TENANT)):
        key = _slot_key(tenant_id, slot)
        taken = _cache_call(cache.add, key, token, timeout=ttl)
        if taken is None:
            return ""
        if taken:
            return key
    return None


def _slot_give_back(key: str, token: str) -> None:
    if key and _cache_call(cache.get, key) == token:  # not one a later drain took after ours expired
        _cache_call(cache.delete, key)


def drain_run(task: Any, tenant_id: int, *, kind: str, work: Callable[[int], bool]) -> None:
    """The body of a drain task: `work(tenant_id)` does one bounded slice and says whether more is left.

    The waiting flag is dropped before any work is read, so whatever is committed from now on either is seen by
    this run or asks for a new one. Run eagerly (the demo, most tests) there is no queue to share: the slices
    simply follow each other in the caller."""
    _cache_call(cache.delete, _queued_key(kind, tenant_id))
    if task.request.is_eager:
        more = True
        while more:
            more = work(tenant_id)
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


def failed_mark(kind: str, tenant_id: int, ids: Iterable[int]) -> None:
    """Hold items whose processing raised out of the tenant's next slices for a while (see FAILED_HOLD_SECONDS)."""
    ids = list(ids)
    if not ids:
        return
    key, until = _failed_key(kind, tenant_id), time.time() + FAILED_HOLD_SECONDS
    # Read, merge, write: two drains marking at once may lose one's marks, and those items are then only
    # retried sooner; the marks steer the order of work, they never decide whether it is done.
    held = _cache_call(cache.get, key) or {}
    held.update(dict.fromkeys(ids, until))
    if len(held) > FAILED_KEPT:
        held = dict(sorted(held.items(), key=lambda pair: pair[1])[-FAILED_KEPT:])
    _cache_call(cache.set, key, held, timeout=FAILED_HOLD_SECONDS)


def failed_held(kind: str, tenant_id: int) -> list[int]:
    """The tenant's items of this kind still held out of its slices."""
    now = time.time()
    held = _cache_call(cache.get, _failed_key(kind, tenant_id)) or {}
    return [item for item, until in held.items() if until > now]
