"""Normalized items every network parser produces (STYLE rule 12: types at the edges)."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class ProfileItem:
    platform: str
    external_id: str
    handle: str = ""
    name: str = ""
    followers_count: int = 0
    verified: bool = False
    profile_url: str = ""


@dataclass(frozen=True)
class MentionItem:
    external_id: str
    kind: str  # channels_ingest.models.Mention.Kind
    text: str
    posted_at: datetime
    raw: dict[str, Any]
    author: ProfileItem | None = None
    language: str = ""
    conversation_id: str = ""
    in_reply_to_external_id: str = ""
    # add | edit | remove: webhooks (and X edit history) report changes to items we may already hold.
    action: str = "add"
    # "out" when the network says the brand itself wrote it (a page-sent comment, our own tweet).
    direction: str = "in"
    permalink: str = ""


@dataclass(frozen=True)
class BadItem:
    """One item of an otherwise good page that we cannot use: it goes to the dead letters."""

    reason: str
    payload: Any


@dataclass
class Page:
    items: list[MentionItem]
    # None: this batch does not move the channel's cursor (a webhook delivery).
    cursor: dict[str, Any] | None
    bad_items: list[BadItem] = field(default_factory=list)
    more: bool = False
    # The network asked us to slow down (X-App-Usage near 100 %, x-rate-limit-remaining 0): poll again no sooner.
    next_poll_in_seconds: int | None = None
    # What the network's last answer said is left of its rate budget, for the poll run's record (English, as
    # stored; channels_ingest.texts shows it in the reader's language).
    rate_budget: str = ""
    # What the fetch had to leave out and why (a post whose comments Graph refused to list), for the poll run's
    # record: English, one line each, like rate_budget.
    notes: list[str] = field(default_factory=list)
    # The network refused part of the fetch for its app's own allowance (errors.QuotaExhausted): the channel keeps
    # why, as when the whole poll is refused so.
    quota_refusal: str = ""


@dataclass(frozen=True)
class OutboundMessage:
    visibility: str  # "public" | "private"
    text: str
    in_reply_to_external_id: str = ""
    recipient_external_id: str = ""
    # The network's id of an image uploaded for this message (connector.upload_media), sent with it.
    media_id: str = ""


@dataclass(frozen=True)
class OutboundMedia:
    """An image to upload before a message that carries it (the inbox checked type and size per network)."""

    content: bytes
    content_type: str
    filename: str


def media_ref(kind: str, url: Any, preview_url: Any = "") -> dict[str, str] | None:
    """One image or video of a post or message, as parsers keep it in the stored payload (`raw["sac_media"]`):
    {"type": "image" | "video", "url": the original, "preview_url": a thumbnail or poster}. Only http(s)
    addresses are kept; None when there is nothing usable."""
    def safe(value: Any) -> str:
        return value if isinstance(value, str) and value.startswith(("https://", "http://")) else ""

    url, preview_url = safe(url), safe(preview_url)
    if not url and not preview_url:
        return None
    return {"type": "video" if kind == "video" else "image", "url": url or preview_url, "preview_url": preview_url}
