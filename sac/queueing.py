"""Enqueueing work whose row is already in the database (DESIGN.md: the database is the source of truth)."""

import logging
from typing import Any

from kombu.exceptions import OperationalError as BrokerUnavailable

log = logging.getLogger(__name__)


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
