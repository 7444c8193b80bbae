"""Instagram webhooks: the Meta envelope (object="instagram") and signature of channels_ingest.facebook.webhook."""

from typing import Any

from channels_ingest.facebook.webhook import collect, load_envelope, signature_valid, subscription_challenge
from channels_ingest.types import Page

from . import parse

__all__ = ["parse_delivery", "signature_valid", "subscription_challenge"]


def parse_delivery(body: bytes, *, account_id: str) -> Page:
    entries = load_envelope(body, "instagram")
    # Comment changes carry no time of their own; the entry's `time` (epoch seconds) is when it happened.
    for entry in entries:
        if isinstance(entry, dict):
            for change in entry.get("changes") or []:
                if isinstance(change, dict) and isinstance(change.get("value"), dict):
                    change["value"].setdefault("_entry_time", entry.get("time"))

    def comment(value: Any) -> Any:
        return parse.webhook_comment_item(value, account_id=account_id)

    return collect(entries, account_id=account_id, handlers={"comments": comment, "live_comments": comment})
