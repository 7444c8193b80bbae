"""A simulated Facebook Page behind Graph API shapes (v21.0), so the demo and tests can run a Page channel.

Served by SimulatorServer under ``/graph/v21.0/``:

- ``GET  /{page-id}/feed?fields=…comments{…}`` — the page's posts, newest first, each with its comments
- ``GET  /{page-id}/conversations?platform=messenger&fields=messages{…}`` — Messenger conversations
- ``GET  /{object-id}/comments`` — a post's comments or a comment's replies, newest first
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

import itertools
import random
import threading
import time
from datetime import UTC, datetime
from typing import Any

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
        self.conversations: dict[str, list[dict[str, Any]]] = {}  # psid -> messages
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

    def add_comment(self, text: str, author_name: str | None = None) -> dict[str, Any]:
        with self.lock:
            return self.add_comment_locked(text, author_name)

    def add_comment_locked(self, text: str, author_name: str | None) -> dict[str, Any]:
        post = self.posts[0]
        name = author_name or "Cliente Facebook"
        local = self._id()
        comment = {"id": f"{post['id'].split('_')[1]}_{local}", "message": text,
                   "created_time": graph_time(time.time()),
                   "from": {"id": str(abs(hash(name)) % 10**15), "name": name},
                   "permalink_url": f"{post['permalink_url']}?comment_id={local}"}
        self.comments[post["id"]].append(comment)
        return comment

    def add_message(self, text: str, author_name: str | None = None) -> dict[str, Any]:
        with self.lock:
            name = author_name or "Cliente Messenger"
            psid = str(abs(hash(("psid", name))) % 10**16)
            message = {"id": f"m_{self._id()}", "message": text, "created_time": graph_time(time.time()),
                       "from": {"id": psid, "name": name}, "to": {"data": [{"id": self.page_id, "name": PAGE_NAME}]}}
            self.conversations.setdefault(psid, []).insert(0, message)
            return message

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
              files: dict[str, tuple[str, bytes, str]] | None = None) -> dict[str, Any]:
        parts = [p for p in path.split("/") if p]
        if len(parts) != 3 or parts[0] != "v21.0":
            raise GraphError(400, 100, f"Unknown path components: /{'/'.join(parts)}")
        _, obj, edge = parts
        if self.instagram.owns(obj):
            return self.instagram.route(method, obj, edge, body)
        with self.lock:
            self._catch_up()
            if method == "POST" and obj == self.page_id and edge in ("photos", "message_attachments"):
                return self._upload(edge, body, files or {})
            if method == "GET" and obj == self.page_id and edge == "feed":
                return {"data": [{**p, "comments": {"data": list(self.comments.get(p["id"], []))}}
                                 for p in self.posts[:25]]}
            if method == "GET" and obj == self.page_id and edge == "conversations":
                return {"data": [{"id": f"t_{psid}", "updated_time": msgs[0]["created_time"],
                                  "messages": {"data": msgs[:25]}} for psid, msgs in self.conversations.items()]}
            if method == "GET" and edge == "comments":
                return {"data": self._comments_of(obj)}
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

    def _comments_of(self, obj: str) -> list[dict[str, Any]]:
        """A post's comments, or a comment's replies (what GET /{object-id}/comments lists), newest first."""
        if obj in self.comments:
            return list(reversed(self.comments[obj]))
        found = self._find_comment(obj)
        if found is None:
            raise GraphError(400, 100, f"(#100) Object with ID '{obj}' does not exist")
        return [c for c in reversed(self.comments[found[0]]) if (c.get("parent") or {}).get("id") == obj]

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
                 "from": {"id": self.page_id, "name": PAGE_NAME}, "parent": {"id": obj}}
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
        elif recipient.get("id"):
            psid = str(recipient["id"])
        else:
            raise GraphError(400, 100, "(#100) The parameter recipient is required")
        message = {"id": f"m_{self._id()}", "message": text or "", "created_time": graph_time(time.time()),
                   "from": {"id": self.page_id, "name": PAGE_NAME}, "to": {"data": [{"id": psid}]}}
        if attachment_id:
            message["attachments"] = {"data": [{"id": attachment_id, "mime_type":
                                                self.media[attachment_id]["content_type"]}]}
        self.conversations.setdefault(psid, []).insert(0, message)
        self.sent.append({"kind": "message", "recipient": recipient, "text": text or "", "id": message["id"],
                          "media_ids": [attachment_id] if attachment_id else []})
        return {"recipient_id": psid, "message_id": message["id"]}
