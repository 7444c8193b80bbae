"""A simulated Instagram professional account behind Instagram Graph API shapes (v21.0), so the demo and tests
can run an Instagram channel end to end: poll → mentions → cases → reply, and signed webhooks.

Served by SimulatorServer under ``/graph/v21.0/`` (GraphSim hands over the ids it does not own):

- ``GET  /{ig-user-id}/media`` — the account's media, newest first, each with the first page of
  ``comments.limit(n){id,text,timestamp,username,from,parent_id,like_count,replies.limit(m){…}}`` as asked
- ``GET  /{media-id}/comments?limit=&after=`` — top-level comments, newest first, each with its ``replies``
- ``GET  /{comment-id}/replies?limit=&after=`` — a comment's replies, newest first

Every list pages like Graph (``limit``, 25 by default; ``paging.cursors.after``; ``paging.next`` only when
another page exists; see graph.page_of).
- ``POST /{comment-id}/replies`` ``{message}`` → ``{id}`` (a reply from the account)
- ``POST /{media-id}/comments`` ``{message}`` → ``{id}``
- ``POST /{ig-user-id}/messages`` ``{recipient: {comment_id}, message: {text}}`` → ``{recipient_id, message_id}``
  (a private reply: once per comment, refused like Meta does with code 10 / subcode 2018301)
- ``GET  /{ig-user-id}/conversations?platform=instagram`` — the private conversations those replies opened (with
  ``fields=participants``, the customer and the account as ``{data: [{username, id}]}``)

and webhooks: ``subscribe(target, app_secret)`` sends every new customer comment as a signed ``comments``
delivery (``object: instagram``, ``X-Hub-Signature-256``) to a URL or a callable; ``lose_webhooks(n)`` drops the
next n deliveries, as Meta does during incidents. ``POST /_sim/ig/comments`` ``{text, author_username?,
parent_id?}`` adds a customer comment for the demo.

No recording of Instagram Graph responses beyond the python-facebook testdata (comment and reply objects, a
media's comments page: ../shared/fixtures/facebook/python_facebook/instagram) exists in ../shared, and none of
an Instagram webhook. The media list, reply and webhook shapes are built from Meta's reference:
https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media ,
…/reference/ig-media/comments , …/reference/ig-comment/replies ,
https://developers.facebook.com/docs/instagram-platform/webhooks (field ``comments``: value {from {id,
username}, media {id, media_product_type}, id, parent_id?, text}).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from .graph import GraphError, edge_url, expansion, graph_time, page_of

IG_USER_ID = "17841400000000100"
IG_USERNAME = "acmetelecom"

WebhookTarget = str | Callable[[bytes, dict[str, str]], Any]


class InstagramSim:
    def __init__(self, *, account_id: str = IG_USER_ID, username: str = IG_USERNAME) -> None:
        self.account_id = account_id
        self.username = username
        self.lock = threading.RLock()
        self._ids = itertools.count(17_900_000_000_000_000 + int(time.time()) % 1_000_000 * 1000)
        self.media: list[dict[str, Any]] = []  # newest first
        self.comments: dict[str, dict[str, Any]] = {}  # id -> comment (top-level and replies)
        self.private_replied: set[str] = set()
        self.conversations: dict[str, list[dict[str, Any]]] = {}  # customer id -> messages, newest first
        self.sent: list[dict[str, Any]] = []
        self.webhooks: list[tuple[WebhookTarget, str]] = []
        self.deliveries: list[dict[str, Any]] = []  # every delivery made or lost: {body, delivered}
        self._lose = 0
        self.add_media("Nossa fibra de 1 giga chegou! Conte pra gente nos comentários 💜")

    def _id(self) -> str:
        return str(next(self._ids))

    def owns(self, obj: str) -> bool:
        with self.lock:
            return obj == self.account_id or obj in self.comments or any(m["id"] == obj for m in self.media)

    # -- content ---------------------------------------------------------------------------------------------
    def add_media(self, caption: str) -> dict[str, Any]:
        with self.lock:
            media_id = self._id()
            media = {"id": media_id, "caption": caption, "media_type": "IMAGE", "media_product_type": "FEED",
                     "timestamp": graph_time(time.time()), "username": self.username,
                     "permalink": f"https://www.instagram.com/p/Sim{media_id[-8:]}/", "comments_count": 0}
            self.media.insert(0, media)
            return dict(media)

    def add_comment(self, text: str, *, author_username: str = "cliente_insta", parent_id: str | None = None,
                    media_id: str | None = None) -> dict[str, Any]:
        """A customer's comment (or reply, with parent_id) on the newest media; webhooks go out for it."""
        with self.lock:
            comment = self._comment_locked(text, author_username, self._user_id(author_username), parent_id,
                                           media_id)
        self._deliver(comment)
        return comment

    def _user_id(self, username: str) -> str:
        if username == self.username:
            return self.account_id
        # Instagram-scoped ids are stable per user: derive one from the name.
        return str(17_841_000_000_000_000 + int(hashlib.sha256(username.encode()).hexdigest()[:12], 16) % 10**12)

    def _comment_locked(self, text: str, username: str, user_id: str, parent_id: str | None,
                        media_id: str | None) -> dict[str, Any]:
        if parent_id:
            parent = self.comments.get(parent_id)
            if parent is None:
                raise GraphError(400, 100, f"(#100) Object with ID '{parent_id}' does not exist")
            media_id = parent["media"]["id"]
        media_id = media_id or self.media[0]["id"]
        media = next((m for m in self.media if m["id"] == media_id), None)
        if media is None:
            raise GraphError(400, 100, f"(#100) Object with ID '{media_id}' does not exist")
        comment = {"id": self._id(), "text": text, "timestamp": graph_time(time.time()), "username": username,
                   "from": {"id": user_id, "username": username}, "like_count": 0, "hidden": False,
                   "media": {"id": media_id, "media_product_type": media["media_product_type"]}}
        if parent_id:
            comment["parent_id"] = parent_id
        self.comments[comment["id"]] = comment
        media["comments_count"] += 1
        return dict(comment)

    def _replies(self, comment_id: str) -> list[dict[str, Any]]:
        return [self._public(c) for c in reversed(self.comments.values()) if c.get("parent_id") == comment_id]

    def _top_level(self, media_id: str, replies: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """Top-level comments, newest first, each with the first page of its replies (`replies` holds the
        modifiers asked for, e.g. {"limit": "50"}; None: no replies asked). Graph leaves out an empty edge."""
        listed = []
        for c in reversed(self.comments.values()):
            if c["media"]["id"] != media_id or c.get("parent_id"):
                continue
            comment = self._public(c)
            thread = self._replies(c["id"]) if replies is not None else []
            if thread:
                comment["replies"] = page_of(thread, limit=replies.get("limit"), after=None,
                                             next_url=edge_url(c["id"], "replies", replies))
            listed.append(comment)
        return listed

    @staticmethod
    def _wanted_replies(fields: Any) -> dict[str, str] | None:
        """The `replies` modifiers inside `fields` (or inside its `comments{…}`); a request naming no fields
        gets every edge, with the defaults."""
        if not fields:
            return {}
        comments = expansion(fields, "comments")
        found = expansion(comments[1] if comments else fields, "replies")
        return found[0] if found else None

    @staticmethod
    def _public(comment: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in comment.items() if k != "media"}

    # -- API -------------------------------------------------------------------------------------------------
    def route(self, method: str, obj: str, edge: str, body: dict[str, Any],
              params: dict[str, str] | None = None) -> dict[str, Any]:
        params = params or {}
        page = {"limit": params.get("limit"), "after": params.get("after")}
        with self.lock:
            if method == "GET" and obj == self.account_id and edge == "media":
                return self._media(params)
            if method == "GET" and edge == "comments" and obj not in self.comments and obj != self.account_id:
                return page_of(self._top_level(obj, self._wanted_replies(params.get("fields"))), **page,
                               next_url=edge_url(obj, "comments", params))
            if method == "GET" and edge == "replies" and obj in self.comments:
                return page_of(self._replies(obj), **page, next_url=edge_url(obj, "replies", params))
            if method == "GET" and obj == self.account_id and edge == "conversations":
                listed = [{"id": f"ig_t_{uid}", "updated_time": msgs[0]["created_time"],
                           "messages": {"data": msgs[:25]}} for uid, msgs in self.conversations.items()]
                if expansion(params.get("fields"), "participants") is not None:
                    # The customer (as our message's `to` names them) and the account, {username, id} each.
                    for conversation, msgs in zip(listed, self.conversations.values(), strict=True):
                        conversation["participants"] = {"data": [msgs[-1]["to"]["data"][0],
                                                                 {"username": self.username, "id": self.account_id}]}
                return {"data": listed}
            if method == "POST" and edge in ("replies", "comments") and obj != self.account_id:
                return self._answer_publicly(obj, edge, body)
            if method == "POST" and obj == self.account_id and edge == "messages":
                return self._private_reply(body)
        raise GraphError(400, 100, f"Unsupported {method} request on Instagram object {obj}/{edge}")

    def _media(self, params: dict[str, str]) -> dict[str, Any]:
        fields = params.get("fields")
        comments = expansion(fields, "comments") if fields else ({}, "")
        body = page_of(self.media, limit=params.get("limit"), after=params.get("after"),
                       next_url=edge_url(self.account_id, "media", params))
        listed = []
        for media in body["data"]:
            media = dict(media)
            top = self._top_level(media["id"], self._wanted_replies(fields)) if comments is not None else []
            if top:
                media["comments"] = page_of(top, limit=comments[0].get("limit"), after=None,
                                            next_url=edge_url(media["id"], "comments", comments[0]))
            listed.append(media)
        return {**body, "data": listed}

    def _answer_publicly(self, obj: str, edge: str, body: dict[str, Any]) -> dict[str, Any]:
        text = body.get("message")
        if not isinstance(text, str) or not text.strip():
            raise GraphError(400, 100, "(#100) The parameter message is required")
        if edge == "replies" and obj not in self.comments:
            raise GraphError(400, 100, f"(#100) Object with ID '{obj}' does not exist")
        # Instagram threads one level deep: a reply to a reply lands under the top-level comment.
        parent = (self.comments[obj].get("parent_id") or obj) if edge == "replies" else None
        reply = self._comment_locked(text, self.username, self.account_id, parent, None if parent else obj)
        self.sent.append({"kind": "reply" if parent else "comment", "in_reply_to": obj, "text": text,
                          "id": reply["id"]})
        return {"id": reply["id"]}

    def _private_reply(self, body: dict[str, Any]) -> dict[str, Any]:
        recipient = body.get("recipient") if isinstance(body.get("recipient"), dict) else {}
        message = body.get("message") if isinstance(body.get("message"), dict) else {}
        text = message.get("text")
        if not isinstance(text, str) or not text:
            raise GraphError(400, 100, "(#100) The parameter message[text] is required")
        comment_id = str(recipient.get("comment_id") or "")
        comment = self.comments.get(comment_id)
        if comment is None:
            raise GraphError(400, 100, f"(#100) Object with ID '{comment_id}' does not exist")
        if comment_id in self.private_replied:
            raise GraphError(400, 10, "(#10) This message is sent outside of allowed window or the comment "
                                      "already has a private reply.", subcode=2018301)
        self.private_replied.add(comment_id)
        customer = comment["from"]["id"]
        sent = {"id": f"aWdfZAG1_{self._id()}", "message": text, "created_time": graph_time(time.time()),
                "from": {"id": self.account_id, "username": self.username}, "to": {"data": [dict(comment["from"])]}}
        self.conversations.setdefault(customer, []).insert(0, sent)
        self.sent.append({"kind": "message", "recipient": recipient, "text": text, "id": sent["id"]})
        return {"recipient_id": customer, "message_id": sent["id"]}

    # -- webhooks --------------------------------------------------------------------------------------------
    def subscribe(self, target: WebhookTarget, app_secret: str) -> None:
        """Deliver every new customer comment to `target` (a URL, or a callable taking (body, headers))."""
        with self.lock:
            self.webhooks.append((target, app_secret))

    def lose_webhooks(self, count: int) -> None:
        """The next `count` deliveries never arrive (Meta drops some during incidents; only polling sees them)."""
        with self.lock:
            self._lose += int(count)

    def webhook_body(self, comment: dict[str, Any]) -> bytes:
        value = {"from": dict(comment["from"]), "media": dict(comment["media"]), "id": comment["id"],
                 "text": comment["text"]}
        if comment.get("parent_id"):
            value["parent_id"] = comment["parent_id"]
        return json.dumps({"object": "instagram", "entry": [{
            "id": self.account_id, "time": int(time.time()), "changes": [{"field": "comments", "value": value}],
        }]}, ensure_ascii=False).encode()

    @staticmethod
    def signature(body: bytes, app_secret: str) -> str:
        return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()

    def _deliver(self, comment: dict[str, Any]) -> None:
        if comment["from"]["id"] == self.account_id:
            return
        with self.lock:
            targets = list(self.webhooks)
            lost = self._lose > 0
            if lost:
                self._lose -= 1
        body = self.webhook_body(comment)
        self.deliveries.append({"comment_id": comment["id"], "delivered": not lost and bool(targets)})
        if lost:
            return
        for target, secret in targets:
            headers = {"Content-Type": "application/json", "X-Hub-Signature-256": self.signature(body, secret)}
            if callable(target):
                target(body, headers)
                continue
            request = urllib.request.Request(target, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310  (loopback URLs)
                    response.read()  # Meta only cares that the subscriber answered; the body is ignored
            except OSError:
                continue  # Meta retries for a while, then gives up: the reconciliation poll is the safety net
