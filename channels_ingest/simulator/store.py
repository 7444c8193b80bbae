"""In-memory state of the X simulator: users, tweets, DM events, sent log, faults and the post stream."""

from __future__ import annotations

import math
import random
import re
import threading
import time
from collections import deque
from datetime import UTC, datetime
from typing import Any

from .corpus import AUTHORS, PostFactory, SimPost, SimUser, snowflake, x_time

FAULT_KINDS = ("invalid_json", "bad_item", "server_error", "rate_limit", "forbidden", "credits_depleted",
               "usage_capped", "error_after_post", "drop_after_post")
# Taken only by a POST (X or Graph), which is processed first: the send happened, the client cannot know.
AFTER_POST_FAULTS = ("error_after_post", "drop_after_post")
RATE_WINDOW_SECONDS = 900
MB = 1024 * 1024
UPLOAD_CATEGORIES = ("tweet_image", "tweet_gif", "dm_image", "dm_gif")
MAX_BURST = 500  # after a long pause (laptop sleep) do not flood the inbox with the whole backlog
_TOKEN_PREFIX = "7140dibdnow9"
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_MENTION_RE = re.compile(r"(?<![\w@])@(\w{1,15})", re.ASCII)
_HASHTAG_RE = re.compile(r"(?<![\w#])#(\w+)")


class ApiError(Exception):
    """An HTTP error answered with an X-style JSON body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{status} {body}")
        self.status = status
        self.body = body


def invalid_request(param: str, value: str, message: str) -> ApiError:
    return ApiError(400, {
        "errors": [{"parameters": {param: [value]}, "message": message}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    })


def dm_forbidden(participant_id: str) -> ApiError:
    """X's answer to a DM the person does not accept from the brand. Built from the X API v2 error reference
    (docs.x.com, "Error responses": a 403 problem with title, type and detail); no recording exists of it."""
    return ApiError(403, {
        "title": "Forbidden", "type": "about:blank", "status": 403,
        "detail": f"You are not permitted to send Direct Messages to user {participant_id}.",
    })


def not_found(resource: str, parameter: str, value: str) -> ApiError:
    detail = f"Could not find {resource} with {parameter}: [{value}]."
    problem = "https://api.twitter.com/2/problems/resource-not-found"
    return ApiError(404, {
        "errors": [{"value": value, "detail": detail, "title": "Not Found Error", "resource_type": resource,
                    "parameter": parameter, "resource_id": value, "type": problem}],
        "title": "Not Found Error", "detail": detail, "type": problem,
    })


def encode_token(tweet_id: str) -> str:
    n, out = int(tweet_id), ""
    while n:
        n, rem = divmod(n, 36)
        out = _B36[rem] + out
    return _TOKEN_PREFIX + (out or "0")


def decode_token(token: str) -> int:
    rest = token[len(_TOKEN_PREFIX):] if token.startswith(_TOKEN_PREFIX) else ""
    if not rest or not rest.isalnum() or not rest.isascii():
        message = f"The `pagination_token` query parameter value [{token}] is not valid"
        raise invalid_request("pagination_token", token, message)
    return int(rest, 36)


def csv_param(params: dict[str, str], name: str) -> set[str]:
    return {part.strip() for part in params.get(name, "").split(",") if part.strip()}


def int_param(params: dict[str, str], name: str, lo: int, hi: int, default: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = lo - 1
    if not lo <= value <= hi:
        message = f"The `{name}` query parameter value [{raw}] is not between {lo} and {hi}"
        raise invalid_request(name, raw, message)
    return value


def id_param(params: dict[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    if not raw.isdigit():
        raise invalid_request(name, raw, f"The `{name}` query parameter value [{raw}] is not valid")
    return int(raw)


def time_param(params: dict[str, str], name: str) -> float | None:
    raw = params.get(name)
    if raw is None:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ"):
        try:
            return datetime.strptime(raw, fmt).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    raise invalid_request(name, raw, f"The `{name}` query parameter value [{raw}] is not a valid date")


class SimStore:
    def __init__(self, *, seed: int | None, rate_per_minute: float, initial_posts: int,
                 brand_user_id: str, brand_username: str) -> None:
        self.lock = threading.RLock()
        self.factory = PostFactory(seed, brand_username=brand_username)
        self.rng = random.Random(None if seed is None else f"sim:{seed}")
        self.brand = SimUser(
            id=brand_user_id, username=brand_username, name="Acme Telecom", followers_count=482_310,
            verified=True, created_at="2022-03-04T12:00:00.000Z", following_count=118, tweet_count=96_402,
            listed_count=1_204,
            description="Canal oficial de atendimento da Acme Telecom. Seg a dom, 8h às 22h. "
                        "Internet, celular e TV.",
        )
        self.users: dict[str, SimUser] = {}
        self.by_username: dict[str, SimUser] = {}
        for user in (*AUTHORS, self.brand):
            self._register(user)
        self.tweets: dict[str, dict[str, Any]] = {}
        self.customer_ids: list[str] = []  # ascending, i.e. oldest first
        self.dm_events: list[dict[str, Any]] = []
        # Users who do not accept DMs from the brand: creating a DM to them is refused with a 403.
        self.dms_closed: set[str] = set()
        self.sent: list[dict[str, Any]] = []
        # Each entry is a fault kind, or "kind@route" to hit only that route (e.g. "rate_limit@create_tweet").
        self.faults: list[str] = []
        # Uploaded images by media id: {"content", "content_type", "category", "size"} (POST /2/media/upload).
        self.media: dict[str, dict[str, Any]] = {}
        self.follow_ups: list[tuple[str, str, str]] = []  # (customer id, brand reply id, lang)
        self.requests: deque[dict[str, Any]] = deque(maxlen=300)
        self.rate_windows: dict[str, list[float]] = {}
        self._last_id = 0
        self._last_ts = 0.0
        self.rate = max(0.0, float(rate_per_minute))
        self._mono0 = time.monotonic()
        self._wall0 = time.time()
        self._next_due = self._gap() if self.rate else math.inf
        gaps = [self.rng.uniform(20, 90) for _ in range(max(0, initial_posts))]
        ts = self._wall0 - sum(gaps)
        for gap in gaps:
            self._create_customer_post(self.factory.next_post(), ts)
            ts += gap

    # -- creation -------------------------------------------------------------------------------------
    def _register(self, user: SimUser) -> None:
        self.users[user.id] = user
        self.by_username[user.username.lower()] = user

    def _gap(self) -> float:
        return 60.0 / self.rate * self.rng.uniform(0.5, 1.5)

    def _new_id(self, ts: float) -> str:
        self._last_id = max(snowflake(ts, self.rng.randrange(1 << 12)), self._last_id + 1)
        return str(self._last_id)

    def _entities(self, text: str) -> dict[str, Any]:
        entities: dict[str, Any] = {}
        mentions = []
        for m in _MENTION_RE.finditer(text):
            mention: dict[str, Any] = {"start": m.start(), "end": m.end(), "username": m.group(1)}
            user = self.by_username.get(m.group(1).lower())
            if user:
                mention["id"] = user.id
            mentions.append(mention)
        hashtags = [{"start": m.start(), "end": m.end(), "tag": m.group(1)}
                    for m in _HASHTAG_RE.finditer(text)]
        if hashtags:
            entities["hashtags"] = hashtags
        if mentions:
            entities["mentions"] = mentions
        return entities

    def _create_tweet(self, text: str, author: SimUser, lang: str, kind: str, ts: float,
                      parent: dict[str, Any] | None = None, pii: tuple[str, ...] = ()) -> dict[str, Any]:
        ts = max(ts, self._last_ts)
        self._last_ts = ts
        tweet_id = self._new_id(ts)
        big = author.followers_count > 50_000
        rec: dict[str, Any] = {
            "id": tweet_id, "text": text, "author_id": author.id, "created_at": x_time(ts), "ts": ts,
            "lang": lang, "kind": kind, "pii": pii, "entities": self._entities(text),
            "conversation_id": parent["conversation_id"] if parent else tweet_id,
            "public_metrics": {
                "retweet_count": self.rng.randrange(40 if big else 3), "reply_count": 0,
                "like_count": self.rng.randrange(300 if big else 8), "quote_count": self.rng.randrange(2),
                "bookmark_count": 0, "impression_count": self.rng.randrange(20, 20_000 if big else 400),
            },
        }
        if parent:
            rec["in_reply_to_user_id"] = parent["author_id"]
            rec["referenced_tweets"] = [{"type": "replied_to", "id": parent["id"]}]
            parent["public_metrics"]["reply_count"] += 1
        self.tweets[tweet_id] = rec
        if author.id != self.brand.id:
            self.customer_ids.append(tweet_id)
        return rec

    def _create_customer_post(self, post: SimPost, ts: float, parent: dict[str, Any] | None = None) -> dict:
        return self._create_tweet(post.text, post.author, post.lang, post.kind, ts, parent, post.pii)

    def catch_up(self) -> None:
        """Generate the stream posts that are due according to wall time."""
        with self.lock:
            elapsed = time.monotonic() - self._mono0
            made = 0
            while self._next_due <= elapsed:
                if made >= MAX_BURST:
                    self._next_due = elapsed + self._gap()
                    break
                ts = self._wall0 + self._next_due
                if self.follow_ups and self.rng.random() < 0.35:
                    author_id, reply_id, lang = self.follow_ups.pop(0)
                    post = self.factory.next_follow_up(self.users[author_id], lang)
                    self._create_customer_post(post, ts, self.tweets[reply_id])
                else:
                    self._create_customer_post(self.factory.next_post(), ts)
                self._next_due += self._gap()
                made += 1

    def generate(self, n: int) -> list[dict[str, Any]]:
        with self.lock:
            self.catch_up()
            return [self.full_tweet(self._create_customer_post(self.factory.next_post(), time.time()))
                    for _ in range(n)]

    def user_for(self, username: str | None, lang: str) -> SimUser:
        if username is None:
            return self.rng.choice([a for a in AUTHORS if a.lang == lang] or list(AUTHORS))
        username = username.lstrip("@")
        user = self.by_username.get(username.lower())
        if user is None:
            user = SimUser(id=str(snowflake(time.time(), self.rng.randrange(1 << 22))), username=username,
                           name=username.replace("_", " ").strip().title() or username,
                           followers_count=self.rng.randrange(5, 900), verified=False,
                           created_at=x_time(time.time() - self.rng.randrange(86400, 86400 * 3000)),
                           following_count=self.rng.randrange(20, 600),
                           tweet_count=self.rng.randrange(10, 5000), lang=lang)
            self._register(user)
        return user

    def add_post(self, text: str, author_username: str | None, lang: str,
                 in_reply_to_tweet_id: str | None = None) -> dict[str, Any]:
        with self.lock:
            self.catch_up()
            parent = self.tweets.get(str(in_reply_to_tweet_id)) if in_reply_to_tweet_id else None
            if in_reply_to_tweet_id and parent is None:
                raise KeyError(f"unknown tweet {in_reply_to_tweet_id}")
            author = self.user_for(author_username, lang)
            return self.full_tweet(self._create_tweet(text, author, lang, "manual", time.time(), parent))

    def add_dm(self, text: str, author_username: str | None, lang: str) -> dict[str, Any]:
        with self.lock:
            author = self.user_for(author_username, lang)
            return self._create_dm(text, sender_id=author.id, participant_id=author.id)

    def _conversation_id(self, participant_id: str) -> str:
        low, high = sorted((int(self.brand.id), int(participant_id)))  # X orders the pair numerically
        return f"{low}-{high}"

    def _create_dm(self, text: str, *, sender_id: str, participant_id: str) -> dict[str, Any]:
        ts = max(time.time(), self._last_ts)
        self._last_ts = ts
        event = {"id": self._new_id(ts), "text": text, "event_type": "MessageCreate",
                 "dm_conversation_id": self._conversation_id(participant_id), "created_at": x_time(ts),
                 "sender_id": sender_id, "participant_id": participant_id, "ts": ts}
        self.dm_events.append(event)
        return event

    # -- brand actions ----------------------------------------------------------------------------------
    def upload_media(self, parts: dict[str, tuple[str, bytes, str]]) -> dict[str, Any]:
        """POST /2/media/upload, one-shot multipart (media, media_category, media_type): the answer's shape is
        the reference's (tests/fixtures/media/x_media_upload.json)."""
        media = parts.get("media")
        if media is None or not media[1]:
            raise invalid_request("media", "", "The `media` field is required")
        category = parts.get("media_category", ("", b"tweet_image", ""))[1].decode(errors="replace")
        if category not in UPLOAD_CATEGORIES:
            raise invalid_request("media_category", category, f"The `media_category` value [{category}] is not valid")
        content_type = parts.get("media_type", ("", media[2].encode(), ""))[1].decode(errors="replace")
        if not content_type.startswith("image/") or len(media[1]) > (15 if content_type == "image/gif" else 5) * MB:
            raise invalid_request("media", content_type, "The media is not a supported image or is too large")
        with self.lock:
            media_id = self._new_id(time.time())
            self.media[media_id] = {"content": media[1], "content_type": content_type, "category": category,
                                    "size": len(media[1])}
        return {"data": {"id": media_id, "media_key": f"3_{media_id}", "size": len(media[1]),
                         "expires_after_secs": 86400, "image": {"image_type": content_type}}}

    def _media_ids(self, ids: Any, *, prefix: str, param: str) -> list[str]:
        """Uploaded ids of the right category (tweet_* for posts, dm_* for DMs), as X checks them."""
        if not isinstance(ids, list) or not ids or len(ids) > 4:
            raise invalid_request(param, str(ids), "Your media IDs are invalid.")
        with self.lock:
            for media_id in ids:
                known = self.media.get(str(media_id))
                if known is None or not known["category"].startswith(prefix):
                    raise invalid_request(param, str(media_id), "Your media IDs are invalid.")
        return [str(i) for i in ids]

    def create_tweet(self, body: dict[str, Any]) -> dict[str, Any]:
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            raise invalid_request("text", str(text), "Tweet text must be a non-empty string")
        media = body.get("media")
        media_ids = self._media_ids(media.get("media_ids") if isinstance(media, dict) else None, prefix="tweet_",
                                    param="media.media_ids") if media is not None else []
        reply = body.get("reply") or {}
        parent = None
        if isinstance(reply, dict) and reply.get("in_reply_to_tweet_id") is not None:
            parent_id = str(reply["in_reply_to_tweet_id"])
            with self.lock:
                parent = self.tweets.get(parent_id)
            if parent is None:
                message = "You attempted to reply to a Tweet that is deleted or not visible to you."
                raise invalid_request("reply.in_reply_to_tweet_id", parent_id, message)
        with self.lock:
            lang = parent["lang"] if parent else "pt"
            rec = self._create_tweet(text, self.brand, lang, "brand", time.time(), parent)
            self.sent.append({"kind": "reply" if parent else "tweet", "id": rec["id"], "text": text,
                              "in_reply_to_tweet_id": parent["id"] if parent else None,
                              "at": rec["created_at"], "media_ids": media_ids})
            if parent and parent["author_id"] != self.brand.id:
                self.follow_ups.append((parent["author_id"], rec["id"], parent["lang"]))
        return {"data": {"id": rec["id"], "text": text, "edit_history_tweet_ids": [rec["id"]]}}

    def create_dm(self, body: dict[str, Any], *, participant_id: str | None = None,
                  conversation_id: str | None = None) -> dict[str, Any]:
        if conversation_id is not None:
            ends = conversation_id.split("-")
            if len(ends) != 2 or self.brand.id not in ends or not all(e.isdigit() for e in ends):
                raise invalid_request("dm_conversation_id", conversation_id,
                                      f"The `dm_conversation_id` value [{conversation_id}] is not valid")
            participant_id = ends[1] if ends[0] == self.brand.id else ends[0]
        if not participant_id or not participant_id.isdigit():
            message = f"The `participant_id` query parameter value [{participant_id}] is not valid"
            raise invalid_request("participant_id", str(participant_id), message)
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            raise invalid_request("text", str(text), "Direct Message text must be a non-empty string")
        attachments = body.get("attachments")
        media_ids = self._media_ids([a.get("media_id") for a in attachments if isinstance(a, dict)]
                                    if isinstance(attachments, list) else None, prefix="dm_",
                                    param="attachments") if attachments is not None else []
        with self.lock:
            if participant_id in self.dms_closed:
                raise dm_forbidden(participant_id)
            event = self._create_dm(text, sender_id=self.brand.id, participant_id=participant_id)
            self.sent.append({"kind": "dm", "id": event["id"], "text": text, "participant_id": participant_id,
                              "dm_conversation_id": event["dm_conversation_id"], "at": event["created_at"],
                              "media_ids": media_ids})
        return {"data": {"dm_conversation_id": event["dm_conversation_id"], "dm_event_id": event["id"]}}

    # -- rendering --------------------------------------------------------------------------------------
    def render_tweet(self, rec: dict[str, Any], fields: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in ("author_id", "conversation_id", "created_at", "in_reply_to_user_id", "lang",
                     "public_metrics", "referenced_tweets"):
            if name in fields and name in rec:
                out[name] = rec[name]
        if "entities" in fields and rec["entities"]:
            out["entities"] = rec["entities"]
        if "possibly_sensitive" in fields:
            out["possibly_sensitive"] = False
        if "reply_settings" in fields:
            out["reply_settings"] = "everyone"
        out["edit_history_tweet_ids"] = [rec["id"]]
        out["id"] = rec["id"]
        out["text"] = rec["text"]
        return out

    def full_tweet(self, rec: dict[str, Any]) -> dict[str, Any]:
        return self.render_tweet(rec, {"author_id", "conversation_id", "created_at", "in_reply_to_user_id",
                                       "lang", "public_metrics", "referenced_tweets", "entities"})

    @staticmethod
    def render_user(user: SimUser, fields: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"id": user.id, "name": user.name, "username": user.username}
        if "created_at" in fields:
            out["created_at"] = user.created_at
        if "description" in fields:
            out["description"] = user.description
        if "profile_image_url" in fields:
            out["profile_image_url"] = user.profile_image_url
        if "protected" in fields:
            out["protected"] = False
        if "public_metrics" in fields:
            out["public_metrics"] = {"followers_count": user.followers_count,
                                     "following_count": user.following_count,
                                     "tweet_count": user.tweet_count, "listed_count": user.listed_count}
        if "verified" in fields:
            out["verified"] = user.verified
        return out
