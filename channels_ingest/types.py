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


@dataclass(frozen=True)
class BadItem:
    """One item of an otherwise good page that we cannot use: it goes to the dead letters."""

    reason: str
    payload: Any


@dataclass
class Page:
    items: list[MentionItem]
    cursor: dict[str, Any]
    bad_items: list[BadItem] = field(default_factory=list)
    more: bool = False


@dataclass(frozen=True)
class OutboundMessage:
    visibility: str  # "public" | "private"
    text: str
    in_reply_to_external_id: str = ""
    recipient_external_id: str = ""
