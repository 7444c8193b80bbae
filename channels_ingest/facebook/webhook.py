"""Meta webhooks (Facebook Page `feed` and `messages`; Instagram uses the same envelope and signature).

https://developers.facebook.com/docs/graph-api/webhooks/getting-started: the GET echoes `hub.challenge`
when `hub.verify_token` matches; every POST carries X-Hub-Signature-256 = "sha256=" + hex HMAC-SHA256 of the
raw body with the app secret.
"""

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from typing import Any

from channels_ingest.errors import MalformedPayload
from channels_ingest.types import BadItem, MentionItem, Page

from . import parse

SIGNATURE_HEADER = "X-Hub-Signature-256"
# The envelope `object` of each Meta platform we take webhooks for.
OBJECTS = {"facebook": "page", "instagram": "instagram"}


def verifying_secret(credentials: Mapping[str, Any]) -> str:
    """The secret a channel's deliveries are signed with: its app's secret (Connect with Facebook copies the
    installation's SAC_FACEBOOK_APP_SECRET into every channel it connects, so those channels share it)."""
    return str(credentials.get("app_secret") or "")


def digest_matches(digest: bytes, header: str | None) -> bool:
    """`digest` is the raw HMAC-SHA256 of the body with the app secret (computed whole or streamed)."""
    if not header or not header.startswith("sha256="):
        return False
    return hmac.compare_digest(("sha256=" + digest.hex()).encode(), header.strip().encode())


def signature_valid(*, app_secret: str, body: bytes, header: str | None) -> bool:
    if not app_secret:
        return False
    return digest_matches(hmac.new(app_secret.encode(), body, hashlib.sha256).digest(), header)


def subscription_challenge(params: Mapping[str, str], *, verify_token: str) -> str | None:
    """The challenge to echo back, or None when the request is not a subscription with our token."""
    if params.get("hub.mode") != "subscribe" or not verify_token:
        return None
    if not hmac.compare_digest(str(params.get("hub.verify_token", "")).encode(), verify_token.encode()):
        return None
    return params.get("hub.challenge")


def load_envelope(body: bytes, expected_object: str) -> list[Any]:
    try:
        envelope = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedPayload(f"webhook body is not JSON: {exc}", body[:100_000].decode("utf-8", "replace")) from exc
    if not isinstance(envelope, dict) or not isinstance(envelope.get("entry"), list):
        raise MalformedPayload("webhook body has no entry list", body[:100_000].decode("utf-8", "replace"))
    if envelope.get("object") != expected_object:
        raise MalformedPayload(f"webhook object is {envelope.get('object')!r}, expected {expected_object!r}",
                               body[:100_000].decode("utf-8", "replace"))
    return envelope["entry"]


def entry_summary(entry: Any) -> dict[str, Any]:
    """What may be kept of an entry that is not ours to read: who it is for, when, how much; never its text."""
    if not isinstance(entry, dict):
        return {"entry": type(entry).__name__}
    changes = [c for c in entry.get("changes") or [] if isinstance(c, dict)]
    messaging = entry.get("messaging") or []
    fields = sorted({str(c.get("field")) for c in changes} | ({"messaging"} if messaging else set()))
    return {"account_id": str(entry.get("id", "")), "time": entry.get("time"),
            "events": len(changes) + (len(messaging) if isinstance(messaging, list) else 0), "fields": fields}


def envelope_read(body: bytes) -> dict[str, Any] | None:
    """The delivery's envelope when it is a JSON object with an entry list (what routing can split), else None."""
    try:
        envelope = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return envelope if isinstance(envelope, dict) and isinstance(envelope.get("entry"), list) else None


def entries_split(body: bytes, *, expected_object: str, account_id: str) -> tuple[bytes, dict[str, list[Any]]]:
    """(the body with only `account_id`'s entries, the other accounts' entries by account id).

    One Meta app sends every page's (every Instagram account's) events to the one callback URL it has, so a
    delivery to this channel may carry entries of pages other tenants connected with the same app. A body that
    does not parse or is another object is returned whole: the parser dead-letters it as malformed.
    """
    envelope = envelope_read(body)
    if envelope is None or envelope.get("object") != expected_object:
        return body, {}
    own: list[Any] = []
    foreign: dict[str, list[Any]] = {}
    for entry in envelope["entry"]:
        if isinstance(entry, dict) and str(entry.get("id", "")) != account_id:
            foreign.setdefault(str(entry.get("id", "")), []).append(entry)
        else:
            own.append(entry)
    if not foreign:
        return body, {}
    return envelope_body(expected_object, own, like=envelope), foreign


def envelope_body(expected_object: str, entries: list[Any], *, like: Mapping[str, Any] | None = None) -> bytes:
    """A delivery body of the same shape as Meta's, holding only `entries`."""
    return json.dumps({**(like or {}), "object": expected_object, "entry": entries}, ensure_ascii=False).encode()


def collect(entries: list[Any], *, account_id: str,
            handlers: dict[str, Callable[[Any], MentionItem | None]]) -> Page:
    """Run each change/messaging event through its handler; unreadable ones become bad items, never a crash."""
    items: list[MentionItem] = []
    bad: list[BadItem] = []
    for entry in entries:
        if not isinstance(entry, dict):
            bad.append(BadItem(reason="webhook entry is not an object", payload=entry))
            continue
        if str(entry.get("id", "")) != account_id:
            # Routing (services._webhook_route) takes these out before parsing; one that still gets here (an
            # old dead letter replayed) is another account's: keep who and when, never its customers' text.
            bad.append(BadItem(reason=f"webhook entry for account {entry.get('id')!r}, not this channel's",
                               payload=entry_summary(entry)))
            continue
        events = [("messaging", e) for e in entry.get("messaging") or []]
        events += [(c.get("field") if isinstance(c, dict) else None, c) for c in entry.get("changes") or []]
        for field, event in events:
            handler = handlers.get(str(field))
            if handler is None:
                continue  # a field we did not subscribe to the handling of (e.g. `mention`, `ratings`)
            try:
                value = event if field == "messaging" else event.get("value")
                item = handler(value)
            except (ValueError, TypeError, AttributeError, KeyError) as exc:
                bad.append(BadItem(reason=f"{field} event: {exc}", payload=event))
                continue
            if item is not None:
                items.append(item)
    return Page(items=items, bad_items=bad, cursor=None)


def parse_delivery(body: bytes, *, page_id: str) -> Page:
    entries = load_envelope(body, "page")
    return collect(entries, account_id=page_id, handlers={
        "feed": lambda value: parse.feed_change_item(value, page_id=page_id),
        "messaging": lambda event: parse.messaging_item(event, page_id=page_id),
    })
