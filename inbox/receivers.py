"""The inbox listens to channels_ingest; channels_ingest never imports the inbox."""

from typing import Any

from channels_ingest.signals import mentions_stored
from sac.queueing import delay_or_leave_to_sweep


def _on_mentions_stored(sender: Any, *, tenant_id: int, mention_ids: list[int], **kwargs: Any) -> None:
    from .tasks import mentions_triage

    # Sent after the ingest transaction committed, so the task always finds the rows; with the broker down
    # the mentions stay untriaged and mentions_triage_sweep takes them, instead of failing the poll run.
    delay_or_leave_to_sweep(mentions_triage, tenant_id, mention_ids,
                            what=f"triage of {len(mention_ids)} mentions of tenant {tenant_id}")


mentions_stored.connect(_on_mentions_stored, dispatch_uid="inbox.triage_on_mentions_stored")
