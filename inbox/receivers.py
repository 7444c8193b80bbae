"""The inbox listens to channels_ingest; channels_ingest never imports the inbox."""

from typing import Any

from channels_ingest.signals import mentions_stored
from sac.queueing import drain_request


def _on_mentions_stored(sender: Any, *, tenant_id: int, mention_ids: list[int], **kwargs: Any) -> None:
    from .tasks import mentions_triage_drain

    # Sent after the ingest transaction committed, so the drain always finds the rows. Not a message per page:
    # the tenant's triage drain (one waiting at most) takes its untriaged mentions oldest first, so a tenant in
    # a viral crisis does not fill the queue ahead of everyone else (sac/queueing.py). With the broker down the
    # mentions stay untriaged and mentions_triage_sweep asks again, instead of failing the poll run.
    drain_request(mentions_triage_drain, tenant_id, kind="triage")


mentions_stored.connect(_on_mentions_stored, dispatch_uid="inbox.triage_on_mentions_stored")
