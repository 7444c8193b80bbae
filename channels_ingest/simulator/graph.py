"""A simulated Facebook Page behind Graph API shapes (v21.0), so the demo and tests can run a Page channel.

Served by SimulatorServer under ``/graph/v21.0/``:

- ``GET  /{page-id}/feed?fields=…comments.filter(…).order(…).limit(n){…}`` — the page's posts, newest first,
  each with the first page of its comments (only when it has some, as Graph omits empty edges)
- ``GET  /{page-id}/conversations?platform=messenger&fields=participants,messages.limit(n){…}`` — Messenger
  conversations, the most recently updated first; ``participants`` (when asked) lists the customer and the page
  as ``{data: [{name, email, id}]}``, and a message's ``to`` names its recipient the same way (the recorded
  conversation in ../shared/fixtures/facebook/python_facebook/facebook/models/conversation.json;
  https://developers.facebook.com/docs/graph-api/reference/conversation)
- ``GET  /{object-id}/comments?filter=&order=&limit=&after=`` — a post's comments or a comment's replies

Lists page like Graph's cursor-based pagination: ``limit`` (25 by default), ``paging.cursors.{before,after}`` and
``paging.next`` only when another page exists; a cursor names the item it follows, so new items arriving at the
head of a list do not shift the pages after it. Comments follow the comments edge's parameters in Meta's reference
(https://developers.facebook.com/docs/graph-api/reference/object/comments): ``filter=toplevel`` (the default: no
replies) or ``stream`` (every comment, replies included, each with its ``parent``), ``order=chronological`` (the
default, oldest first) or ``reverse_chronological``. The same modifiers work in field expansion
(``comments.filter(stream).order(reverse_chronological).limit(50){…}``).
- ``POST /{object-id}/comments`` ``{message}`` → ``{id}`` (a public reply, from the page)
- ``POST /{page-id}/messages`` ``{recipient: {comment_id} | {id}, message: {text}}`` → ``{recipient_id,
  message_id}``; a second private reply to one comment is refused like Meta does (code 10, subcode 2018301)

- ``POST /{page-id}/photos`` (multipart ``source``, published=false) → ``{id}``, usable as a comment's
  ``attachment_id``; ``POST /{page-id}/message_attachments`` (multipart ``filedata``) → ``{attachment_id}``, usable
  in a Messenger ``message.attachment`` of type image (tests/fixtures/media/, from Meta's reference)

and for the demo, ``POST /_sim/fb/comments`` ``{text}`` and ``POST /_sim/fb/messages`` ``{text}``.
The brand's Instagram account (media, comments, replies, webhooks) is ``GraphSim.instagram``: see instagram.py.
Shapes follow the recordings in ../shared/fixtures/facebook (python-facebook testdata) and Meta's reference.
"""

from __future__ import annotations

import base64
import itertools
import random
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from .corpus import PostFactory

PAGE_ID = "1500000000000000100"
PAGE_NAME = "Acme Telecom"


def graph_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


class GraphError(Exception):
    def __init__(self, status: int, code: int, message: str, subcode: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"error": {"message": message, "type": "OAuthException", "code": code,
                                               "fbtrace_id": "AsimTrace0001"}}
        if subcode:
            self.body["error"]["error_subcode"] = subcode


GRAPH_URL = "https://graph.facebook.com/v21.0"
DEFAULT_LIMIT = 25  # Graph's page size when a request names none
MAX_LIMIT = 100


def _encode_cursor(item_id: str) -> str:
    return base64.urlsafe_b64encode(str(item_id).encode()).decode()


def _decode_cursor(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise GraphError(400, 100, "(#100) The after cursor is not valid") from exc


def page_of(items: list[dict[str, Any]], *, limit: Any, after: Any, next_url: Callable[[str], str]) -> dict[str, Any]:
    """One page of `items` (already in the order asked for) the way Graph pages a list: a cursor names the item
    it follows, and `paging.next` is there only when another page exists."""
    try:
        size = min(max(int(limit or DEFAULT_LIMIT), 1), MAX_LIMIT)
    except (TypeError, ValueError) as exc:
        raise GraphError(400, 100, "(#100) limit must be an integer") from exc
    start = 0
    if after:
        anchor = _decode_cursor(str(after))
        start = next((n + 1 for n, item in enumerate(items) if str(item["id"]) == anchor), len(items))
    chunk = items[start:start + size]
    body: dict[str, Any] = {"data": chunk}
    if chunk:
        cursors = {"before": _encode_cursor(chunk[0]["id"]), "after": _encode_cursor(chunk[-1]["id"])}
        body["paging"] = {"cursors": cursors}
        if start + size < len(items):
            body["paging"]["next"] = next_url(cursors["after"])
    return body


def split_fields(fields: str) -> list[str]:
    """`a,b.limit(2){c,d{e}},f` → ["a", "b.limit(2){c,d{e}}", "f"]: commas inside braces or parentheses stay."""
    parts, depth, start = [], 0, 0
    for n, char in enumerate(fields):
        if char in "{(":
            depth += 1
        elif char in "})":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(fields[start:n].strip())
            start = n + 1
    parts.append(fields[start:].strip())
    return [p for p in parts if p]


def expansion(fields: Any, edge: str) -> tuple[dict[str, str], str] | None:
    """The modifiers and sub-fields of `edge` in a `fields` parameter (`comments.limit(50).order(x){id,…}` →
    ({"limit": "50", "order": "x"}, "id,…")), or None when the request does not ask for that edge."""
    for part in split_fields(str(fields or "")):
        name = re.match(r"[A-Za-z_]+", part)
        if name is None or name.group() != edge:
            continue
        head, _, sub = part[len(edge):].partition("{")
        return dict(re.findall(r"\.(\w+)\(([^)]*)\)", head)), sub[:-1] if sub.endswith("}") else sub
    return None


def edge_url(obj: str, edge: str, params: dict[str, Any]) -> Callable[[str], str]:
    """How `paging.next` is written: the edge's own URL with the same parameters and the next cursor."""
    kept = {k: v for k, v in params.items() if v not in (None, "") and k not in ("after", "before", "access_token")}
    return lambda after: f"{GRAPH_URL}/{obj}/{edge}?{urlencode({**kept, 'after': after})}"


class GraphSim:
    def __init__(self, *, seed: int | None = None, rate_per_minute: float = 0.0, page_id: str = PAGE_ID) -> None:
        self.page_id = page_id
        self.lock = threading.Lock()
        self._ids = itertools.count(int(time.time()) * 1000)
        self._factory = PostFactory(seed=None if seed is None else seed + 101)
        self._rng = random.Random(seed)
        self.rate_per_minute = rate_per_minute
        self._last = time.time()
        self.posts: list[dict[str, Any]] = []
        self.comments: dict[str, list[dict[str, Any]]] = {}
        self.conversations: dict[str, list[dict[str, Any]]] = {}  # psid -> messages, newest first
        # psid -> when its conversation last changed, as a sequence: Graph lists the latest updated first, and
        # times to the second tie in a test.
        self._conversation_updated: dict[str, int] = {}
        self._updates = itertools.count(1)
        self.private_replied: set[str] = set()
        self.sent: list[dict[str, Any]] = []
        # Unpublished photos and Messenger attachments by id: {"content", "content_type", "kind"}.
        self.media: dict[str, dict[str, Any]] = {}
        self._page_post("Nossa nova oferta de fibra chegou! Conte pra gente o que achou.")
        from .instagram import InstagramSim  # imported here: instagram.py builds on this module's GraphError

        # The brand's Instagram account on the same Graph host; it answers for its own ids (instagram.py).
        self.instagram = InstagramSim()

    def _id(self) -> str:
        return str(next(self._ids))

    def add_post(self, text: str) -> dict[str, Any]:
        """A new page post: it becomes the newest post, where new comments go."""
        with self.lock:
            return dict(self._page_post(text))

    def _page_post(self, text: str) -> dict[str, Any]:
        post = {"id": f"{self.page_id}_{self._id()}", "message": text, "created_time": graph_time(time.time()),
                "from": {"id": self.page_id, "name": PAGE_NAME}}
        post["permalink_url"] = f"https://www.facebook.com/{self.page_id}/posts/{post['id'].split('_')[1]}"
        self.posts.insert(0, post)
        self.comments[post["id"]] = []
        return post

    def _catch_up(self) -> None:
        if self.rate_per_minute <= 0:
            return
        now = time.time()
        due = int((now - self._last) * self.rate_per_minute / 60)
        if due:
            self._last = now
            for _ in range(min(due, 50)):
                sim_post = self._factory.next_post()
                self.add_comment_locked(sim_post.text.replace("@acmetelecom ", ""), sim_post.author.name)

    def add_comment(self, text: str, author_name: str | None = None, *, parent_id: str | None = None,
                    post_id: str | None = None, at: float | None = None) -> dict[str, Any]:
        """A customer's comment on the newest post (or `post_id`), or a reply under comment `parent_id`;
        `at` (epoch seconds) back-dates it. Comments are kept oldest first, as written."""
        with self.lock:
            return self.add_comment_locked(text, author_name, parent_id=parent_id, post_id=post_id, at=at)

    def add_comment_locked(self, text: str, author_name: str | None, *, parent_id: str | None = None,
                           post_id: str | None = None, at: float | None = None) -> dict[str, Any]:
        if parent_id:
            found = self._find_comment(parent_id)
            if found is None:
                raise GraphError(400, 100, f"(#100) Object with ID '{parent_id}' does not exist")
            post_id = found[0]
        post = next((p for p in self.posts if p["id"] == post_id), None) if post_id else self.posts[0]
        if post is None:
            raise GraphError(400, 100, f"(#100) Object with ID '{post_id}' does not exist")
        name = author_name or "Cliente Facebook"
        local = self._id()
        comment = {"id": f"{post['id'].split('_')[1]}_{local}", "message": text,
                   "created_time": graph_time(time.time() if at is None else at),
                   "from": {"id": str(abs(hash(name)) % 10**15), "name": name},
                   "permalink_url": f"{post['permalink_url']}?comment_id={local}"}
        if parent_id:
            comment["parent"] = {"id": parent_id}
        self.comments[post["id"]].append(comment)
        return comment

    def add_message(self, text: str, author_name: str | None = None) -> dict[str, Any]:
        with self.lock:
            name = author_name or "Cliente Messenger"
            psid = str(abs(hash(("psid", name))) % 10**16)
            message = {"id": f"m_{self._id()}", "message": text, "created_time": graph_time(time.time()),
                       "from": {"id": psid, "name": name}, "to": {"data": [{"id": self.page_id, "name": PAGE_NAME}]}}
            self._conversation_message(psid, message)
            return message

    def _conversation_message(self, psid: str, message: dict[str, Any]) -> None:
        self.conversations.setdefault(psid, []).insert(0, message)
        self._conversation_updated[psid] = next(self._updates)

    def uploaded(self, media_id: str) -> dict[str, Any] | None:
        with self.lock:
            return self.media.get(media_id)

    def _upload(self, edge: str, body: dict[str, Any], files: dict[str, tuple[str, bytes, str]]) -> dict[str, Any]:
        """POST /{page-id}/photos (source, published=false) → {id}; POST /{page-id}/message_attachments
        (message={"attachment": {"type": "image", …}}, filedata) → {attachment_id}. Shapes from Meta's reference
        (tests/fixtures/media/facebook_*.json)."""
        field = "source" if edge == "photos" else "filedata"
        upload = files.get(field)
        if upload is None or not upload[1]:
            raise GraphError(400, 324, f"(#324) Requires upload file ({field})")
        if not upload[2].startswith("image/"):
            raise GraphError(400, 100, "(#100) Invalid image: the file is not a supported image")
        limit = 4 if edge == "photos" else 25
        if len(upload[1]) > limit * 1024 * 1024:
            raise GraphError(400, 100, f"(#100) The image is larger than {limit} MB")
        if edge == "photos" and str(body.get("published", "true")).lower() != "false":
            raise GraphError(400, 100, "(#100) The simulator only takes unpublished photos (published=false)")
        media_id = self._id()
        self.media[media_id] = {"content": upload[1], "content_type": upload[2], "kind": edge}
        return {"id": media_id} if edge == "photos" else {"attachment_id": media_id}

    # -- API -----------------------------------------------------------------------------------------------
    def route(self, method: str, path: str, body: dict[str, Any],
              files: dict[str, tuple[str, bytes, str]] | None = None,
              params: dict[str, str] | None = None) -> dict[str, Any]:
        """One Graph request; `params` is the query string (fields, limit, after, filter, order, platform)."""
        params = params or {}
        parts = [p for p in path.split("/") if p]
        if len(parts) != 3 or parts[0] != "v21.0":
            raise GraphError(400, 100, f"Unknown path components: /{'/'.join(parts)}")
        _, obj, edge = parts
        if self.instagram.owns(obj):
            return self.instagram.route(method, obj, edge, body, params)
        with self.lock:
            self._catch_up()
            if method == "POST" and obj == self.page_id and edge in ("photos", "message_attachments"):
                return self._upload(edge, body, files or {})
            if method == "GET" and obj == self.page_id and edge == "feed":
                return self._feed(params)
            if method == "GET" and obj == self.page_id and edge == "conversations":
                return self._conversations(params)
            if method == "GET" and edge == "comments":
                return page_of(self._comments_of(obj, params), limit=params.get("limit"), after=params.get("after"),
                               next_url=edge_url(obj, "comments", params))
            if method == "POST" and edge == "comments":
                return self._reply_comment(obj, body)
            if method == "POST" and obj == self.page_id and edge == "messages":
                return self._send_message(body)
        raise GraphError(400, 100, f"Unsupported {method} request on {obj}/{edge}")

    def _find_comment(self, comment_id: str) -> tuple[str, dict[str, Any]] | None:
        for post_id, comments in self.comments.items():
            for comment in comments:
                if comment["id"] == comment_id:
                    return post_id, comment
        return None

    def _feed(self, params: dict[str, str]) -> dict[str, Any]:
        """GET /{page-id}/feed: posts newest first; with `comments…` in `fields`, each post's first page of
        comments under the modifiers asked for (a request without `fields` gets them with the defaults)."""
        fields = params.get("fields")
        wanted = expansion(fields, "comments") if fields else ({}, "")
        body = page_of(self.posts, limit=params.get("limit"), after=params.get("after"),
                       next_url=edge_url(self.page_id, "feed", params))
        posts = []
        for post in body["data"]:
            post = dict(post)
            if wanted is not None:
                modifiers = wanted[0]
                comments = self._comments_of(post["id"], modifiers)
                if comments:  # Graph leaves an edge with nothing in it out of the object
                    post["comments"] = page_of(comments, limit=modifiers.get("limit"), after=None,
                                               next_url=edge_url(post["id"], "comments", modifiers))
            posts.append(post)
        return {**body, "data": posts}

    def _conversations(self, params: dict[str, str]) -> dict[str, Any]:
        """GET /{page-id}/conversations: the most recently updated conversation first, each with its latest
        messages (newest first) as `messages.limit(n)` in `fields` asks."""
        order = sorted(self.conversations, key=lambda psid: self._conversation_updated.get(psid, 0), reverse=True)
        listed = [{"id": f"t_{psid}", "updated_time": self.conversations[psid][0]["created_time"], "_psid": psid}
                  for psid in order]
        body = page_of(listed, limit=params.get("limit"), after=params.get("after"),
                       next_url=edge_url(self.page_id, "conversations", params))
        wanted = expansion(params.get("fields"), "messages") or ({}, "")
        with_participants = expansion(params.get("fields"), "participants") is not None
        for conversation in body["data"]:
            psid = conversation.pop("_psid")
            if with_participants:  # the customer and the page, as Graph lists them (conversation.json fixture)
                conversation["participants"] = {"data": [self._participant(psid), self._participant(self.page_id)]}
            conversation["messages"] = page_of(self.conversations[psid], limit=wanted[0].get("limit"), after=None,
                                               next_url=edge_url(conversation["id"], "messages", wanted[0]))
        return body

    def _participant(self, person_id: str) -> dict[str, Any]:
        """A conversation participant or a message's `to` entry: {name, email, id}, the email being Graph's
        `{id}@facebook.com` stand-in; the name is the one the customer's comment or messages carry."""
        name = PAGE_NAME if person_id == self.page_id else next(
            (p.get("name") for m in self.conversations.get(person_id, []) for p in [m["from"], *m["to"]["data"]]
             if p.get("id") == person_id and p.get("name")), None)
        return {**({"name": name} if name else {}), "email": f"{person_id}@facebook.com", "id": person_id}

    def _comments_of(self, obj: str, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """What GET /{object-id}/comments lists: a post's comments (top-level only unless filter=stream), or a
        comment's replies; oldest first unless order=reverse_chronological."""
        params = params or {}
        filter_ = params.get("filter") or "toplevel"
        order = params.get("order") or "chronological"
        if filter_ not in ("toplevel", "stream") or order not in ("chronological", "reverse_chronological"):
            raise GraphError(400, 100, f"(#100) Invalid filter or order: {filter_!r}, {order!r}")
        if obj in self.comments:
            listed = [c for c in self.comments[obj] if filter_ == "stream" or not c.get("parent")]
        else:
            found = self._find_comment(obj)
            if found is None:
                raise GraphError(400, 100, f"(#100) Object with ID '{obj}' does not exist")
            listed = [c for c in self.comments[found[0]] if (c.get("parent") or {}).get("id") == obj]
        listed = sorted(listed, key=lambda c: c["created_time"])  # stable: written order within a second
        return listed[::-1] if order == "reverse_chronological" else listed

    def _reply_comment(self, obj: str, body: dict[str, Any]) -> dict[str, Any]:
        text = body.get("message")
        if not isinstance(text, str) or not text:
            raise GraphError(400, 100, "(#100) The parameter message is required")
        attachment_id = str(body.get("attachment_id") or "")
        if attachment_id and (self.media.get(attachment_id) or {}).get("kind") != "photos":
            raise GraphError(400, 100, f"(#100) Invalid attachment_id '{attachment_id}'")
        found = self._find_comment(obj)
        post_id = found[0] if found else obj
        if post_id not in self.comments:
            raise GraphError(400, 100, f"(#100) Object with ID '{obj}' does not exist")
        local = self._id()
        reply = {"id": f"{post_id.split('_')[1]}_{local}", "message": text, "created_time": graph_time(time.time()),
                 "from": {"id": self.page_id, "name": PAGE_NAME}}
        if found:  # an answer to a comment is a reply under it; one to the post is a top-level comment
            reply["parent"] = {"id": obj}
        if attachment_id:
            reply["attachment"] = {"type": "photo", "target": {"id": attachment_id}}
        self.comments[post_id].append(reply)
        self.sent.append({"kind": "comment", "in_reply_to": obj, "text": text, "id": reply["id"],
                          "media_ids": [attachment_id] if attachment_id else []})
        return {"id": reply["id"]}

    def _send_message(self, body: dict[str, Any]) -> dict[str, Any]:
        recipient = body.get("recipient") if isinstance(body.get("recipient"), dict) else {}
        content = body.get("message") if isinstance(body.get("message"), dict) else {}
        text = content.get("text")
        attachment = content.get("attachment") if isinstance(content.get("attachment"), dict) else None
        if text and attachment:
            raise GraphError(400, 100, "(#100) Only one of the message text and the attachment can be set")
        attachment_id = ""
        if attachment is not None:
            payload = attachment.get("payload") if isinstance(attachment.get("payload"), dict) else {}
            attachment_id = str(payload.get("attachment_id") or "")
            if attachment.get("type") != "image" or (self.media.get(attachment_id) or {}).get("kind") \
                    != "message_attachments":
                raise GraphError(400, 100, "(#100) Invalid attachment")
            if recipient.get("comment_id"):
                raise GraphError(400, 100, "(#100) The simulator takes private replies to comments as text only")
        elif not text:
            raise GraphError(400, 100, "(#100) The parameter message[text] is required")
        if recipient.get("comment_id"):
            comment_id = str(recipient["comment_id"])
            found = self._find_comment(comment_id)
            if found is None:
                raise GraphError(400, 100, f"(#100) Object with ID '{comment_id}' does not exist")
            if comment_id in self.private_replied:
                raise GraphError(400, 10, "(#10) This message is sent outside of allowed window or the comment "
                                          "already has a private reply.", subcode=2018301)
            self.private_replied.add(comment_id)
            psid = str(abs(hash(("psid", found[1]["from"]["name"]))) % 10**16)
            to = {"name": found[1]["from"]["name"], "email": f"{psid}@facebook.com", "id": psid}
        elif recipient.get("id"):
            psid = str(recipient["id"])
            to = self._participant(psid)
        else:
            raise GraphError(400, 100, "(#100) The parameter recipient is required")
        message = {"id": f"m_{self._id()}", "message": text or "", "created_time": graph_time(time.time()),
                   "from": {"id": self.page_id, "name": PAGE_NAME}, "to": {"data": [to]}}
        if attachment_id:
            message["attachments"] = {"data": [{"id": attachment_id, "mime_type":
                                                self.media[attachment_id]["content_type"]}]}
        self._conversation_message(psid, message)
        self.sent.append({"kind": "message", "recipient": recipient, "text": text or "", "id": message["id"],
                          "media_ids": [attachment_id] if attachment_id else []})
        return {"recipient_id": psid, "message_id": message["id"]}
