"""X API v2 payloads → normalized items. Tolerant of missing optional fields, strict on the ones we need."""

from datetime import datetime
from typing import Any

from channels_ingest.errors import MalformedPayload
from channels_ingest.types import BadItem, MentionItem, Page, ProfileItem, media_ref

TWEET_FIELDS = ["author_id", "created_at", "conversation_id", "lang", "in_reply_to_user_id", "referenced_tweets",
                "entities", "edit_history_tweet_ids"]
USER_FIELDS = ["name", "username", "public_metrics", "verified", "created_at", "profile_image_url"]
EXPANSIONS = ["author_id", "referenced_tweets.id", "in_reply_to_user_id", "attachments.media_keys"]
MEDIA_FIELDS = ["type", "url", "preview_image_url", "variants"]
DM_EVENT_FIELDS = ["id", "text", "event_type", "created_at", "dm_conversation_id", "sender_id"]


def parse_time(value: str) -> datetime:
    # X sends "2026-11-23T10:15:42.000Z"; fromisoformat reads it from Python 3.11 on.
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def parse_user(platform: str, user: dict[str, Any]) -> ProfileItem:
    metrics = user.get("public_metrics") or {}
    handle = str(user.get("username", ""))
    return ProfileItem(
        platform=platform,
        external_id=str(user["id"]),
        handle=handle,
        name=str(user.get("name", "")),
        followers_count=int(metrics.get("followers_count") or 0),
        verified=bool(user.get("verified", False)),
        profile_url=f"https://x.com/{handle}" if handle else "",
    )


def parse_media(includes: Any) -> dict[str, dict[str, str]]:
    """includes.media by media_key → a media_ref: photos by their url; videos and GIFs link to their best
    MP4 variant, shown by their preview image."""
    found: dict[str, dict[str, str]] = {}
    media = includes.get("media") if isinstance(includes, dict) else None
    for item in media if isinstance(media, list) else []:
        if not isinstance(item, dict) or not item.get("media_key"):
            continue
        if item.get("type") == "photo":
            ref = media_ref("image", item.get("url"), item.get("url"))
        else:
            variants = [v for v in item.get("variants") or [] if isinstance(v, dict)
                        and v.get("content_type") == "video/mp4"]
            best = max(variants, key=lambda v: v.get("bit_rate") or 0, default={})
            ref = media_ref("video", best.get("url"), item.get("preview_image_url"))
        if ref is not None:
            found[str(item["media_key"])] = ref
    return found


def _with_media(tweet: dict[str, Any], media: dict[str, dict[str, str]]) -> dict[str, Any]:
    """The tweet as stored, with its images and videos from includes.media (the inbox shows them)."""
    keys = (tweet.get("attachments") or {}).get("media_keys") if isinstance(tweet.get("attachments"), dict) else None
    refs = [media[str(k)] for k in keys or [] if str(k) in media]
    return {**tweet, "sac_media": refs} if refs else tweet


def _tweet_item(platform: str, tweet: Any, users: dict[str, ProfileItem],
                media: dict[str, dict[str, str]] | None = None) -> MentionItem:
    if not isinstance(tweet, dict):
        raise ValueError("tweet is not an object")
    tweet = _with_media(tweet, media or {})
    tweet_id, text = tweet.get("id"), tweet.get("text")
    if not isinstance(tweet_id, str) or not tweet_id.isdigit():
        raise ValueError("tweet has no numeric string id")
    if not isinstance(text, str):
        raise ValueError(f"tweet {tweet_id} has no text")
    if not isinstance(tweet.get("created_at"), str):
        raise ValueError(f"tweet {tweet_id} has no created_at (request tweet.fields=created_at)")
    replied_to = next(
        (ref.get("id", "") for ref in tweet.get("referenced_tweets") or [] if ref.get("type") == "replied_to"), ""
    )
    history = [str(i) for i in tweet.get("edit_history_tweet_ids") or [] if str(i).isdigit()]
    if history and history[0] != tweet_id:
        # An edited post: X gives the new version a new id and lists the original first. We keep one
        # mention under the original id and record the new text as its edit.
        return MentionItem(
            external_id=history[0], kind="post", text=text, posted_at=parse_time(tweet["created_at"]), raw=tweet,
            author=users.get(str(tweet.get("author_id", ""))), language=str(tweet.get("lang", "")),
            conversation_id=str(tweet.get("conversation_id", "")), in_reply_to_external_id=str(replied_to),
            action="edit",
        )
    return MentionItem(
        external_id=tweet_id,
        kind="post",
        text=text,
        posted_at=parse_time(tweet["created_at"]),
        raw=tweet,
        author=users.get(str(tweet.get("author_id", ""))),
        language=str(tweet.get("lang", "")),
        conversation_id=str(tweet.get("conversation_id", "")),
        in_reply_to_external_id=str(replied_to),
    )


def parse_mentions_page(platform: str, body: Any, *, cursor: dict[str, Any], follow_pages: bool) -> Page:
    """One page of GET /2/users/:id/mentions. `cursor` is the state this page was fetched with.

    Cursor protocol: X pages newest→oldest below `since_id`. While paging we keep the
    newest id seen in `newest_seen` and only move `since_id` up once the last page is
    stored, so a crash mid-way resumes from the saved `next_token` and loses nothing.
    """
    if not isinstance(body, dict) or not isinstance(body.get("meta", {}), dict):
        raise MalformedPayload("mentions page is not a JSON object with a meta object", repr(body)[:100_000])
    data = body.get("data", [])
    if not isinstance(data, list):
        raise MalformedPayload("mentions page 'data' is not a list", repr(body)[:100_000])
    users: dict[str, ProfileItem] = {}
    for user in (body.get("includes") or {}).get("users") or []:
        try:
            users[str(user["id"])] = parse_user(platform, user)
        except (KeyError, TypeError, ValueError):
            continue  # an unreadable expansion only costs us the author's details
    media = parse_media(body.get("includes"))
    items, bad = [], []
    for tweet in data:
        try:
            items.append(_tweet_item(platform, tweet, users, media))
        except (ValueError, TypeError, AttributeError) as exc:
            bad.append(BadItem(reason=str(exc), payload=tweet))
    meta = body.get("meta") or {}
    newest_seen = cursor.get("newest_seen") or meta.get("newest_id")
    next_token = meta.get("next_token") if follow_pages else None
    if next_token:
        new_cursor = {**cursor, "since_id": cursor.get("since_id"), "next_token": next_token,
                      "newest_seen": newest_seen}
    else:
        new_cursor = {**cursor, "since_id": newest_seen or cursor.get("since_id"), "next_token": None,
                      "newest_seen": None}
    return Page(items=items, bad_items=bad, cursor=new_cursor, more=bool(next_token))


def parse_dm_page(platform: str, body: Any, *, brand_id: str) -> tuple[list[MentionItem], list[BadItem], str | None]:
    """One page of GET /2/dm_events (MessageCreate), newest first. Returns items, bad items, next_token."""
    if not isinstance(body, dict) or not isinstance(body.get("data", []), list):
        raise MalformedPayload("dm_events page is not a JSON object with a data list", repr(body)[:100_000])
    users: dict[str, ProfileItem] = {}
    for user in (body.get("includes") or {}).get("users") or []:
        try:
            users[str(user["id"])] = parse_user(platform, user)
        except (KeyError, TypeError, ValueError):
            continue
    items, bad = [], []
    for event in body.get("data") or []:
        try:
            if not isinstance(event, dict) or not str(event.get("id", "")).isdigit():
                raise ValueError("dm event has no numeric id")
            if not isinstance(event.get("created_at"), str):
                raise ValueError(f"dm event {event['id']} has no created_at")
            sender = str(event.get("sender_id", ""))
            items.append(MentionItem(
                external_id=str(event["id"]), kind="direct", text=str(event.get("text") or ""),
                posted_at=parse_time(event["created_at"]), raw=event,
                author=users.get(sender) or (ProfileItem(platform=platform, external_id=sender) if sender else None),
                conversation_id=str(event.get("dm_conversation_id", "")),
                direction="out" if sender == brand_id else "in",
            ))
        except (ValueError, TypeError, AttributeError) as exc:
            bad.append(BadItem(reason=str(exc), payload=event))
    meta = body.get("meta") if isinstance(body.get("meta"), dict) else {}
    return items, bad, meta.get("next_token")
