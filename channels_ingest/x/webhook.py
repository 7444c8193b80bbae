"""X Account Activity webhooks: the CRC challenge and signed POSTs.

https://docs.x.com/x-api/enterprise-gnip-2.0/fundamentals/account-activity (securing webhooks): the GET carries
`crc_token`; we answer {"response_token": "sha256=" + base64(HMAC-SHA256(consumer_secret, crc_token))}. Each POST
carries `x-twitter-webhooks-signature` = "sha256=" + base64(HMAC-SHA256(consumer_secret, raw body)). Events are
API v1.1 objects: tweet_create_events (statuses), tweet_delete_events, direct_message_events (message_create).
"""

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.conf import settings

from channels_ingest.errors import MalformedPayload
from channels_ingest.types import BadItem, MentionItem, Page, ProfileItem

SIGNATURE_HEADER = "X-Twitter-Webhooks-Signature"


def _signature(digest: bytes) -> str:
    """How X writes an HMAC-SHA256: in the CRC response and in x-twitter-webhooks-signature."""
    return "sha256=" + base64.b64encode(digest).decode()


def _digest(secret: str, message: bytes) -> str:
    return _signature(hmac.new(secret.encode(), message, hashlib.sha256).digest())


def crc_response(*, consumer_secret: str, crc_token: str) -> dict[str, str]:
    return {"response_token": _digest(consumer_secret, crc_token.encode())}


def verifying_secret(credentials: Mapping[str, Any]) -> str:
    """A channel connected by hand carries its app's consumer secret; one connected with OAuth 2.0 has none and
    is verified with the installation's (SAC_X_CONSUMER_SECRET), which all such channels share."""
    return str(credentials.get("consumer_secret") or "") or settings.SAC_X_CONSUMER_SECRET


def digest_matches(digest: bytes, header: str | None) -> bool:
    """`digest` is the raw HMAC-SHA256 of the body with the consumer secret (computed whole or streamed)."""
    if not header:
        return False
    return hmac.compare_digest(_signature(digest).encode(), header.strip().encode())


def for_user(body: bytes) -> str | None:
    """The account a delivery is for (`for_user_id`), or None when the body is not a JSON object."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return str(payload.get("for_user_id", "")) if isinstance(payload, dict) else None


def _event_counts(payload: Any) -> dict[str, int]:
    """How many events of each kind (`tweet_create_events`, `direct_message_events`…) a delivery carries."""
    if not isinstance(payload, dict):
        return {}
    return {k: len(v) for k, v in payload.items() if k.endswith("_events") and isinstance(v, list)}


def event_counts(body: bytes) -> dict[str, int]:
    return _event_counts(json.loads(body))


def delivery_summary(body: bytes) -> dict[str, Any]:
    """What may be kept of a delivery for another account: who, when, how many events; never the text."""
    payload = json.loads(body)
    events = _event_counts(payload)
    times = [e.get("timestamp_ms") or e.get("created_timestamp") for v in payload.values() if isinstance(v, list)
             for e in v if isinstance(e, dict)]
    return {"account_id": str(payload.get("for_user_id", "")), "time": next((t for t in times if t), None),
            "events": sum(events.values()), "fields": sorted(events)}


def v1_time(value: str) -> datetime:
    # v1.1 statuses: "Wed Oct 10 20:19:24 +0000 2018"
    return datetime.strptime(value, "%a %b %d %H:%M:%S %z %Y")


def v1_user(platform: str, user: dict[str, Any]) -> ProfileItem:
    handle = str(user.get("screen_name", ""))
    return ProfileItem(platform=platform, external_id=str(user["id_str"] if "id_str" in user else user["id"]),
                       handle=handle, name=str(user.get("name", "")),
                       followers_count=int(user.get("followers_count") or 0), verified=bool(user.get("verified")),
                       profile_url=f"https://x.com/{handle}" if handle else "")


def status_item(platform: str, status: Any, *, brand_id: str) -> MentionItem:
    if not isinstance(status, dict) or not status.get("id_str"):
        raise ValueError("status has no id_str")
    text = (status.get("extended_tweet") or {}).get("full_text") or status.get("full_text") or status.get("text")
    if not isinstance(text, str):
        raise ValueError(f"status {status['id_str']} has no text")
    author = v1_user(platform, status["user"]) if isinstance(status.get("user"), dict) else None
    initial = initial_status_id(status)
    edited = initial != str(status["id_str"])
    return MentionItem(
        # An edited post has a new id of its own; we keep one mention under the original id and record the new
        # text as its edit (as polling does with v2 `edit_history_tweet_ids`).
        external_id=initial, kind="post", text=text, posted_at=v1_time(status["created_at"]),
        raw=status, author=author, language=str(status.get("lang") or ""),
        conversation_id=str(status.get("in_reply_to_status_id_str") or initial),
        in_reply_to_external_id=str(status.get("in_reply_to_status_id_str") or ""),
        direction="out" if author is not None and author.external_id == brand_id else "in",
        action="edit" if edited else "add",
    )


def initial_status_id(status: dict[str, Any]) -> str:
    """The id of the original post of an edit chain (the status's own id when it was never edited).

    Account Activity delivers enterprise status objects, which carry, at the root, `edit_history`:
    {"initial_tweet_id": "…", "edit_tweet_ids": ["…", …]} (https://developer.x.com/en/docs/x-api/enterprise/edit-tweets;
    "if the Post has not been edited, this array will contain a single ID"). The v2 form
    (`edit_history_tweet_ids`, original first) is read too.
    """
    history = status.get("edit_history") if isinstance(status.get("edit_history"), dict) else {}
    ids = [str(i) for i in history.get("edit_tweet_ids") or status.get("edit_history_tweet_ids") or []]
    initial = str(history.get("initial_tweet_id") or (ids[0] if ids else ""))
    return initial if initial.isdigit() else str(status["id_str"])


def dm_item(platform: str, event: Any, users: dict[str, Any], *, brand_id: str) -> MentionItem | None:
    if not isinstance(event, dict) or event.get("type") != "message_create":
        return None
    create = event["message_create"]
    sender = str(create["sender_id"])
    recipient = str((create.get("target") or {}).get("recipient_id", ""))
    customer = recipient if sender == brand_id else sender
    user = users.get(sender)
    author = v1_user(platform, user) if isinstance(user, dict) else ProfileItem(platform=platform,
                                                                                 external_id=sender)
    return MentionItem(
        external_id=str(event["id"]), kind="direct", text=str((create.get("message_data") or {}).get("text", "")),
        posted_at=datetime.fromtimestamp(int(event["created_timestamp"]) / 1000).astimezone(),
        raw=event, author=author, conversation_id=f"dm:{customer}",
        direction="out" if sender == brand_id else "in",
    )


def parse_delivery(platform: str, body: bytes, *, brand_id: str) -> Page:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedPayload(f"webhook body is not JSON: {exc}", body[:100_000].decode("utf-8", "replace")) from exc
    if not isinstance(payload, dict):
        raise MalformedPayload("webhook body is not an object", body[:100_000].decode("utf-8", "replace"))
    if str(payload.get("for_user_id", "")) != brand_id:
        # Routing (services._webhook_route) sends these to their channel before parsing; one that still gets
        # here is another account's: keep who and when, never its customers' text.
        raise MalformedPayload(f"webhook for user {payload.get('for_user_id')!r}, not this channel's",
                               json.dumps(delivery_summary(body)))
    items: list[MentionItem] = []
    bad: list[BadItem] = []
    for status in payload.get("tweet_create_events") or []:
        try:
            items.append(status_item(platform, status, brand_id=brand_id))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            bad.append(BadItem(reason=f"tweet_create_event: {exc}", payload=status))
    users = payload.get("users") if isinstance(payload.get("users"), dict) else {}
    for event in payload.get("direct_message_events") or []:
        try:
            item = dm_item(platform, event, users, brand_id=brand_id)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            bad.append(BadItem(reason=f"direct_message_event: {exc}", payload=event))
            continue
        if item is not None:
            items.append(item)
    for deletion in payload.get("tweet_delete_events") or []:
        try:
            status = deletion["status"]
            items.append(MentionItem(
                external_id=str(status["id"]), kind="post", text="",
                posted_at=datetime.fromtimestamp(int(deletion["timestamp_ms"]) / 1000).astimezone(),
                raw=deletion, action="remove"))
        except (ValueError, TypeError, KeyError) as exc:
            bad.append(BadItem(reason=f"tweet_delete_event: {exc}", payload=deletion))
    return Page(items=items, bad_items=bad, cursor=None)
