"""The inbox listens to channels_ingest; channels_ingest never imports the inbox."""

from typing import Any

from channels_ingest.signals import mentions_stored


def _on_mentions_stored(sender: Any, *, tenant_id: int, mention_ids: list[int], **kwargs: Any) -> None:
    from .tasks import mentions_triage

    # Sent after the ingest transaction committed, so the task always finds the rows.
    mentions_triage.delay(tenant_id, mention_ids)


mentions_stored.connect(_on_mentions_stored, dispatch_uid="inbox.triage_on_mentions_stored")
