"""Instagram Graph API payloads → normalized items: comments (and their replies) on the account's media, and
the `comments` webhook field."""

from typing import Any

from channels_ingest.errors import MalformedPayload
from channels_ingest.facebook.parse import next_cursor, parse_time
from channels_ingest.types import BadItem, MentionItem, ProfileItem

PLATFORM = "instagram"
COMMENT_FIELDS = "id,text,timestamp,username,from,parent_id,like_count"
PAGE_SIZE = 50
# A comment with its first page of replies (GET /{ig-comment-id}/replies lists the rest; Instagram threads one level
# deep: https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-comment/replies).
THREAD_FIELDS = f"{COMMENT_FIELDS},replies.limit({PAGE_SIZE}){{{COMMENT_FIELDS}}}"
MEDIA_FIELDS = f"id,caption,timestamp,permalink,username,comments.limit({PAGE_SIZE}){{{THREAD_FIELDS}}}"


def replies_left(body: Any) -> list[tuple[str, str]]:
    """(comment id, `after`) for each comment of a comments page whose replies continue on another page."""
    left = []
    for comment in body.get("data") or [] if isinstance(body, dict) else []:
        replies = comment.get("replies") if isinstance(comment, dict) else None
        after = next_cursor(replies) if isinstance(replies, dict) else None
        if after and comment.get("id"):
            left.append((str(comment["id"]), after))
    return left


def comments_left(body: Any) -> list[tuple[str, str, str]]:
    """(media id, permalink, `after`) for each media of a media page whose comments continue on another page."""
    left = []
    for media in body.get("data") or [] if isinstance(body, dict) else []:
        comments = media.get("comments") if isinstance(media, dict) else None
        after = next_cursor(comments) if isinstance(comments, dict) else None
        if after and media.get("id"):
            left.append((str(media["id"]), str(media.get("permalink") or ""), after))
    return left


def _profile(comment: dict[str, Any]) -> ProfileItem | None:
    who = comment.get("from") if isinstance(comment.get("from"), dict) else {}
    user = comment.get("user") if isinstance(comment.get("user"), dict) else {}
    external_id = str(who.get("id") or user.get("id") or "")
    username = str(who.get("username") or comment.get("username") or "")
    if not external_id and not username:
        return None
    # Without `from` (older API versions) the username is the only stable handle we get.
    return ProfileItem(platform=PLATFORM, external_id=external_id or f"u:{username}", handle=username,
                       profile_url=f"https://www.instagram.com/{username}/" if username else "")


def comment_item(comment: Any, *, account_id: str, media_id: str, parent_id: str = "",
                 media_permalink: str = "", brand_username: str = "") -> MentionItem:
    if not isinstance(comment, dict) or not comment.get("id"):
        raise ValueError("comment has no id")
    if not comment.get("timestamp"):
        raise ValueError(f"comment {comment['id']} has no timestamp")
    author = _profile(comment)
    ours = author is not None and (author.external_id == account_id
                                   or (brand_username and author.handle == brand_username))
    return MentionItem(
        external_id=str(comment["id"]), kind="comment", text=str(comment.get("text") or ""),
        posted_at=parse_time(comment["timestamp"]), raw=comment, author=author, conversation_id=media_id,
        in_reply_to_external_id=str(parent_id or comment.get("parent_id") or media_id),
        permalink=media_permalink, direction="out" if ours else "in",
    )


def parse_comments(body: Any, *, account_id: str, media_id: str, parent_id: str = "", media_permalink: str = "",
                   brand_username: str = "") -> tuple[list[MentionItem], list[BadItem]]:
    """GET /{media-id}/comments or /{comment-id}/replies, and the `comments{…,replies{…}}` field of a media."""
    if not isinstance(body, dict) or not isinstance(body.get("data", []), list):
        raise MalformedPayload("comments page is not a Graph list", repr(body)[:100_000])
    items: list[MentionItem] = []
    bad: list[BadItem] = []
    for comment in body.get("data") or []:
        try:
            items.append(comment_item(comment, account_id=account_id, media_id=media_id, parent_id=parent_id,
                                      media_permalink=media_permalink, brand_username=brand_username))
        except (ValueError, TypeError, AttributeError) as exc:
            bad.append(BadItem(reason=str(exc), payload=comment))
            continue
        replies = comment.get("replies")
        if isinstance(replies, dict):
            r_items, r_bad = parse_comments(replies, account_id=account_id, media_id=media_id,
                                            parent_id=str(comment["id"]), media_permalink=media_permalink,
                                            brand_username=brand_username)
            items += r_items
            bad += r_bad
    return items, bad


def parse_media_page(body: Any, *, account_id: str, brand_username: str = "") -> tuple[list[MentionItem],
                                                                                        list[BadItem]]:
    """GET /{ig-user-id}/media?fields=…comments{…replies{…}}: the media themselves are the brand's posts,
    context only; their comments are what customers say."""
    if not isinstance(body, dict) or not isinstance(body.get("data", []), list):
        raise MalformedPayload("media page is not a Graph list", repr(body)[:100_000])
    items: list[MentionItem] = []
    bad: list[BadItem] = []
    for media in body.get("data") or []:
        if not isinstance(media, dict) or not media.get("id"):
            bad.append(BadItem(reason="media has no id", payload=media))
            continue
        comments = media.get("comments") if isinstance(media.get("comments"), dict) else {"data": []}
        c_items, c_bad = parse_comments(comments, account_id=account_id, media_id=str(media["id"]),
                                        media_permalink=str(media.get("permalink") or ""),
                                        brand_username=brand_username)
        items += c_items
        bad += c_bad
    return items, bad


def webhook_comment_item(value: Any, *, account_id: str) -> MentionItem:
    """entry[].changes[] with field=comments: {from{id,username}, media{id,media_product_type}, id, text,
    parent_id?}. Instagram webhooks carry no time: the entry's `time` is passed in as `_entry_time`."""
    if not isinstance(value, dict):
        raise ValueError("comments change value is not an object")
    media = value.get("media") if isinstance(value.get("media"), dict) else {}
    # No permalink: an Instagram address is /p/{shortcode}/, and the shortcode is not derivable from the Graph
    # media id the webhook carries (the media's `permalink` needs a Graph call; polling stores it).
    comment = {**value, "timestamp": value.get("timestamp") or value.get("_entry_time")}
    return comment_item(comment, account_id=account_id, media_id=str(media.get("id") or ""),
                        parent_id=str(value.get("parent_id") or ""))
