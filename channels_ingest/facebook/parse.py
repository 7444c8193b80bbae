"""Graph API (Facebook Page) payloads → normalized items: feed posts and their comments, Messenger messages,
and the `feed` / `messages` webhook events. Tolerant of missing optional fields, strict on the ones we need."""

from datetime import UTC, datetime
from typing import Any

from channels_ingest.errors import MalformedPayload
from channels_ingest.types import BadItem, MentionItem, ProfileItem, media_ref

PLATFORM = "facebook"
COMMENT_FIELDS = "id,message,created_time,from,permalink_url,parent{id},attachment{type,url,media{image{src},source}}"
# The comments edge lists only top-level comments, oldest first, unless told otherwise
# (https://developers.facebook.com/docs/graph-api/reference/object/comments: filter=toplevel|stream,
# order=chronological|reverse_chronological; the defaults are toplevel and chronological). Polling asks for
# `stream` (replies too, each naming its `parent`, so a customer's answer inside a thread is seen) and newest
# first (so the comments that arrived since the last poll are on the first pages, however long the post's history).
COMMENT_PAGE_SIZE = 50
COMMENT_QUERY = {"filter": "stream", "order": "reverse_chronological", "limit": COMMENT_PAGE_SIZE}
POST_FIELDS = (f"id,message,created_time,from,permalink_url,attachments{{type,url,media{{image{{src}},source}}}},"
               f"comments.filter(stream).order(reverse_chronological).limit({COMMENT_PAGE_SIZE}){{{COMMENT_FIELDS}}}")
MESSAGE_FIELDS = ("id,message,created_time,from,to,"
                  "attachments{mime_type,image_data{url,preview_url},video_data{url,preview_url}}")
CONVERSATION_FIELDS = f"id,updated_time,link,messages.limit(25){{{MESSAGE_FIELDS}}}"
ATTACHMENT_LABELS = {"image": "[image]", "video": "[video]", "audio": "[audio]", "file": "[file]",
                     "location": "[location]", "fallback": "[link]", "template": "[template]"}


def parse_time(value: Any) -> datetime:
    """Graph sends "2021-08-10T18:45:03+0000"; webhooks send epoch seconds (feed) or milliseconds (Messenger)."""
    if isinstance(value, bool):
        raise ValueError("time is not a time")
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 10_000_000_000 else value
        return datetime.fromtimestamp(seconds, tz=UTC)
    if isinstance(value, str) and value:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")
    raise ValueError(f"unreadable time {value!r}")


def profile(who: Any, platform: str = PLATFORM) -> ProfileItem | None:
    if not isinstance(who, dict) or not who.get("id"):
        return None
    external_id = str(who["id"])
    return ProfileItem(platform=platform, external_id=external_id, name=str(who.get("name") or ""),
                       handle=str(who.get("username") or ""),
                       profile_url=f"https://www.facebook.com/{external_id}" if platform == PLATFORM else "")


def _graph_attachment(attachment: Any) -> dict[str, str] | None:
    """A comment's `attachment` or one of a post's `attachments`: {type, url, media{image{src}, source}}."""
    if not isinstance(attachment, dict):
        return None
    media = attachment.get("media") if isinstance(attachment.get("media"), dict) else {}
    image = media.get("image") if isinstance(media.get("image"), dict) else {}
    kind = str(attachment.get("type") or "")
    if kind.startswith(("video", "animated")):
        return media_ref("video", media.get("source") or attachment.get("url"), image.get("src"))
    if kind.startswith("photo") or kind in ("sticker", "cover_photo", "profile_media") or image.get("src"):
        return media_ref("image", image.get("src"), image.get("src"))
    return None


def _message_attachments(attachments: Any) -> list[dict[str, str]]:
    """Messenger attachments, from the Graph API ({data: [{image_data|video_data: {url, preview_url}}]}) or a
    webhook ([{type, payload: {url}}])."""
    if isinstance(attachments, dict):
        attachments = attachments.get("data")
    refs = []
    for a in attachments if isinstance(attachments, list) else []:
        if not isinstance(a, dict):
            continue
        payload = a.get("payload") if isinstance(a.get("payload"), dict) else {}
        if isinstance(a.get("image_data"), dict):
            ref = media_ref("image", a["image_data"].get("url"), a["image_data"].get("preview_url"))
        elif isinstance(a.get("video_data"), dict):
            ref = media_ref("video", a["video_data"].get("url"), a["video_data"].get("preview_url"))
        elif a.get("type") in ("image", "video"):
            ref = media_ref(a["type"], payload.get("url"), payload.get("url") if a["type"] == "image" else "")
        else:
            ref = None
        if ref is not None:
            refs.append(ref)
    return refs


def _with_media(raw: dict[str, Any], refs: list[dict[str, str] | None]) -> dict[str, Any]:
    """The payload as stored, with its images and videos in one shape for the inbox (`sac_media`)."""
    kept = [r for r in refs if r is not None]
    return {**raw, "sac_media": kept} if kept else raw


def _direction(author: ProfileItem | None, page_id: str) -> str:
    return "out" if author is not None and author.external_id == page_id else "in"


def _need(obj: Any, key: str, what: str) -> Any:
    if not isinstance(obj, dict):
        raise ValueError(f"{what} is not an object")
    value = obj.get(key)
    if value in (None, ""):
        raise ValueError(f"{what} {obj.get('id', '?')} has no {key}")
    return value


def comment_item(comment: Any, *, page_id: str, post_id: str) -> MentionItem:
    comment_id = str(_need(comment, "id", "comment"))
    author = profile(comment.get("from"))
    parent = comment.get("parent") if isinstance(comment.get("parent"), dict) else {}
    return MentionItem(
        external_id=comment_id, kind="comment", text=str(comment.get("message") or ""),
        posted_at=parse_time(_need(comment, "created_time", "comment")),
        raw=_with_media(comment, [_graph_attachment(comment.get("attachment"))]), author=author,
        conversation_id=post_id, in_reply_to_external_id=str(parent.get("id") or post_id),
        permalink=str(comment.get("permalink_url") or ""), direction=_direction(author, page_id),
    )


def post_item(post: Any, *, page_id: str) -> MentionItem:
    post_id = str(_need(post, "id", "post"))
    author = profile(post.get("from"))
    raw = {k: v for k, v in post.items() if k != "comments"}
    attachments = post.get("attachments") if isinstance(post.get("attachments"), dict) else {}
    raw = _with_media(raw, [_graph_attachment(a) for a in attachments.get("data") or []])
    return MentionItem(
        external_id=post_id, kind="post", text=str(post.get("message") or ""),
        posted_at=parse_time(_need(post, "created_time", "post")), raw=raw, author=author,
        conversation_id=post_id, permalink=str(post.get("permalink_url") or ""),
        direction=_direction(author, page_id),
    )


def _data(body: Any, what: str) -> list[Any]:
    if not isinstance(body, dict) or not isinstance(body.get("data", []), list):
        raise MalformedPayload(f"{what} is not a Graph list ({{data: [...]}})", repr(body)[:100_000])
    return body.get("data") or []


def next_cursor(body: dict[str, Any]) -> str | None:
    paging = body.get("paging") if isinstance(body.get("paging"), dict) else {}
    cursors = paging.get("cursors") if isinstance(paging.get("cursors"), dict) else {}
    # Graph gives a next URL only when there is a next page; `after` alone may point past the end.
    return str(cursors["after"]) if paging.get("next") and cursors.get("after") else None


def parse_feed(body: Any, *, page_id: str) -> tuple[list[MentionItem], list[BadItem], list[tuple[str, str]]]:
    """GET /{page-id}/feed?fields=…comments{…}. Returns items, bad items and (post id, comments `after`) for
    posts whose comments continue on another page."""
    items: list[MentionItem] = []
    bad: list[BadItem] = []
    more_comments: list[tuple[str, str]] = []
    for post in _data(body, "feed page"):
        try:
            item = post_item(post, page_id=page_id)
        except (ValueError, TypeError, AttributeError) as exc:
            bad.append(BadItem(reason=str(exc), payload=post))
            continue
        items.append(item)
        comments = post.get("comments") if isinstance(post.get("comments"), dict) else {"data": []}
        c_items, c_bad = parse_comments(comments, page_id=page_id, post_id=item.external_id)
        items += c_items
        bad += c_bad
        after = next_cursor(comments)
        if after:
            more_comments.append((item.external_id, after))
    return items, bad, more_comments


def parse_comments(body: Any, *, page_id: str, post_id: str) -> tuple[list[MentionItem], list[BadItem]]:
    items, bad = [], []
    for comment in _data(body, "comments page"):
        try:
            items.append(comment_item(comment, page_id=page_id, post_id=post_id))
        except (ValueError, TypeError, AttributeError) as exc:
            bad.append(BadItem(reason=str(exc), payload=comment))
    return items, bad


def message_item(message: Any, *, page_id: str, conversation_id: str) -> MentionItem:
    message_id = str(_need(message, "id", "message"))
    author = profile(message.get("from"))
    text = message.get("message")
    return MentionItem(
        external_id=message_id, kind="direct", text=str(text) if text else "[attachment]",
        posted_at=parse_time(_need(message, "created_time", "message")),
        raw=_with_media(message, _message_attachments(message.get("attachments"))), author=author,
        conversation_id=conversation_id, direction=_direction(author, page_id),
    )


def conversation_times(body: Any) -> list[datetime]:
    """The `updated_time` of each conversation of a /{page-id}/conversations page (those that have a readable one)."""
    times = []
    for conversation in _data(body, "conversations page"):
        try:
            times.append(parse_time(conversation.get("updated_time")))
        except (ValueError, TypeError, AttributeError):
            continue
    return times


def parse_conversations(body: Any, *, page_id: str) -> tuple[list[MentionItem], list[BadItem]]:
    """GET /{page-id}/conversations?platform=messenger&fields=messages{…}."""
    items, bad = [], []
    for conversation in _data(body, "conversations page"):
        if not isinstance(conversation, dict) or not conversation.get("id"):
            bad.append(BadItem(reason="conversation has no id", payload=conversation))
            continue
        messages = conversation.get("messages") if isinstance(conversation.get("messages"), dict) else {}
        for message in messages.get("data") or []:
            try:
                items.append(message_item(message, page_id=page_id, conversation_id=str(conversation["id"])))
            except (ValueError, TypeError, AttributeError) as exc:
                bad.append(BadItem(reason=str(exc), payload=message))
    return items, bad


# ---------------------------------------------------------------- webhooks

def feed_change_item(value: Any, *, page_id: str) -> MentionItem | None:
    """One `feed` change (entry[].changes[].value). None for events we do not keep (likes, reactions, shares)."""
    if not isinstance(value, dict):
        raise ValueError("feed change value is not an object")
    item, verb = value.get("item"), value.get("verb")
    if item not in ("comment", "status", "post", "photo", "video"):
        return None
    action = {"add": "add", "edited": "edit", "edit": "edit", "remove": "remove", "hide": "remove"}.get(str(verb))
    if action is None:
        return None
    author = profile(value.get("from"))
    when = parse_time(_need(value, "created_time", "feed change"))
    post_id = str(value.get("post_id") or "")
    photos = value.get("photos") if isinstance(value.get("photos"), list) else [value.get("photo")]
    raw = _with_media(value, [media_ref("image", p, p) for p in photos] + [media_ref("video", value.get("video"))])
    if item == "comment":
        external_id = str(_need(value, "comment_id", "comment change"))
        return MentionItem(
            external_id=external_id, kind="comment", text=str(value.get("message") or ""), posted_at=when,
            raw=raw, author=author, conversation_id=post_id,
            in_reply_to_external_id=str(value.get("parent_id") or post_id), action=action,
            direction=_direction(author, page_id), permalink=webhook_permalink(post_id, external_id),
        )
    if not post_id:
        raise ValueError(f"{item} change has no post_id")
    return MentionItem(external_id=post_id, kind="post", text=str(value.get("message") or ""), posted_at=when,
                       raw=raw, author=author, conversation_id=post_id, action=action,
                       direction=_direction(author, page_id), permalink=webhook_permalink(post_id))


def webhook_permalink(post_id: str, comment_id: str = "") -> str:
    """The link a `feed` change carries none of, built from its ids: a page post "{page}_{post}" is at
    https://www.facebook.com/{page}/posts/{post}/ (the Graph `permalink_url` of such posts, recorded in
    ../shared/fixtures/facebook/python_facebook), and one of its comments at that address with
    ?comment_id={the comment id's last part}. Empty when the ids are not of that form."""
    page, _, post = post_id.partition("_")
    if not (page.isdigit() and post.isdigit()):
        return ""
    link = f"https://www.facebook.com/{page}/posts/{post}/"
    local = comment_id.rpartition("_")[2]
    return f"{link}?comment_id={local}" if local.isdigit() else link


def messaging_item(event: Any, *, page_id: str) -> MentionItem | None:
    """One Messenger event (entry[].messaging[]). None for deliveries, reads, postbacks, reactions, handovers."""
    if not isinstance(event, dict):
        raise ValueError("messaging event is not an object")
    message = event.get("message")
    if not isinstance(message, dict):
        return None
    mid = _need(message, "mid", "message")
    sender = _need(event, "sender", "messaging event")
    text = message.get("text")
    if not text:
        kinds = [a.get("type") for a in message.get("attachments") or [] if isinstance(a, dict)]
        text = " ".join(ATTACHMENT_LABELS.get(k, "[attachment]") for k in kinds) or "[sticker]"
    # Echoes are what the page itself sent (from our inbox or another tool).
    is_echo = bool(message.get("is_echo"))
    customer = event.get("recipient") if is_echo else sender
    author = profile(sender)
    return MentionItem(
        external_id=str(mid), kind="direct", text=str(text),
        posted_at=parse_time(_need(event, "timestamp", "messaging event")),
        raw=_with_media(event, _message_attachments(message.get("attachments"))), author=author,
        conversation_id=f"psid:{(customer or {}).get('id', '')}",
        direction="out" if is_echo else _direction(author, page_id),
    )
