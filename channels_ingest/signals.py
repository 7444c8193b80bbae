"""The one event channels_ingest sends. Receivers get (tenant_id, mention_ids) after commit."""

from django.dispatch import Signal

# Sent with sender=None, tenant_id=int, mention_ids=list[int], once the transaction storing them commits.
mentions_stored = Signal()
