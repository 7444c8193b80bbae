"""Loopback HTTP server speaking the X API v2 shapes used by SAC (mentions, replies, DMs)."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import queries
from .corpus import x_time
from .graph import PAGE_ID, PAGE_NAME, GraphError, GraphSim
from .instagram import InstagramSim
from .oauth import OAuthReply, OAuthSim
from .page import render_page
from .store import AFTER_POST_FAULTS, FAULT_KINDS, RATE_WINDOW_SECONDS, ApiError, SimStore
from .subscriptions import SubscriptionsSim

JSON_TYPE = "application/json; charset=utf-8"
RATE_LIMIT_PENALTY_SECONDS = 3  # short on purpose: clients sleeping until reset should not stall demos/tests
UNAUTHORIZED = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
SERVICE_UNAVAILABLE = {"title": "Service Unavailable", "detail": "Service Unavailable", "type": "about:blank",
                       "status": 503}
TOO_MANY_REQUESTS = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank",
                     "status": 429}
# X's answer when the app's access does not include an endpoint (the X API v2 error reference, docs.x.com "Error
# responses": a client-forbidden problem; no recording of it exists): the `forbidden` fault.
CLIENT_FORBIDDEN = {"title": "Client Forbidden", "type": "https://api.twitter.com/2/problems/client-forbidden",
                    "status": 403, "reason": "client-not-enrolled",
                    "required_enrollment": "Appropriate Level of API Access",
                    "detail": "When authenticating requests to the Twitter API v2 endpoints, you must use keys and "
                              "tokens from a Twitter developer App that is attached to a Project."}
# X's answers when the app's own allowance is spent (the `credits_depleted` and `usage_capped` faults; no recording
# exists): the credits-depleted problem X answers with 402 to reads and posts once pay-per-use credits are used up,
# and the UsageCapExceededProblem of X API v2's OpenAPI specification, a 429 whose rate headers are not the point.
CREDITS_DEPLETED = {"detail": "credits depleted", "status": 402, "title": "Payment Required",
                    "type": "https://api.x.com/2/problems/credits-depleted"}
USAGE_CAPPED = {"title": "UsageCapExceeded", "period": "Monthly", "scope": "Product",
                "detail": "Usage cap exceeded: Monthly product cap", "type": "https://api.twitter.com/2/problems/usage-capped"}
INTERNAL_ERROR = {"title": "Internal Server Error", "detail": "Internal Server Error", "type": "about:blank",
                  "status": 500}
GRAPH_UNEXPECTED = {"error": {"message": "An unexpected error has occurred. Please retry your request later.",
                              "type": "OAuthException", "is_transient": True, "code": 2,
                              "fbtrace_id": "AsimTrace0002"}}
_TRUNCATED_JSON = b'{"data":[{"edit_history_tweet_ids":["18'


@dataclass
class _Reply:
    status: int
    body: bytes
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    rate_key: tuple[str, int] = ("default", 300)
    drop: bool = False  # hang up without answering (the request was processed)


def _json_reply(status: int, payload: Any, **kwargs: Any) -> _Reply:
    return _Reply(status, json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode(), **kwargs)


def _parse_body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        raise ApiError(400, {"errors": [{"message": "Request body is not valid JSON"}],
                             "title": "Invalid Request",
                             "detail": "One or more parameters to your request was invalid.",
                             "type": "https://api.twitter.com/2/problems/invalid-request"})
    return body


def parse_multipart(raw: bytes, content_type: str) -> dict[str, tuple[str, bytes, str]]:
    """A multipart/form-data body as {field: (file name, bytes, content type)} (standard library only)."""
    if not content_type.lower().startswith("multipart/form-data"):
        return {}
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
    parts: dict[str, tuple[str, bytes, str]] = {}
    if not message.is_multipart():
        return parts
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            payload = part.get_payload(decode=True)
            parts[name] = (part.get_filename() or "", payload if isinstance(payload, bytes) else b"",
                           part.get_content_type())
    return parts


# (method, path pattern, rate-limit bucket, limit per 15 min window, handler(sim, match, params, raw))
_Route = tuple[str, re.Pattern[str], str, int, Callable[..., Any] | None]
_ROUTES: list[_Route] = [
    ("GET", re.compile(r"/2/users/me"), "users_me", 75,
     lambda s, m, p, raw: queries.get_user(s.store, p)),
    ("GET", re.compile(r"/2/users/by/username/([^/]+)"), "users_lookup", 300,
     lambda s, m, p, raw: queries.get_user(s.store, p, username=m.group(1))),
    ("GET", re.compile(r"/2/users/([^/]+)/mentions"), "mentions", 450,
     lambda s, m, p, raw: queries.mentions(s.store, m.group(1), p)),
    ("GET", re.compile(r"/2/users/([^/]+)/tweets"), "user_tweets", 900,
     lambda s, m, p, raw: queries.user_tweets(s.store, m.group(1), p)),
    ("GET", re.compile(r"/2/users/([^/]+)"), "users_lookup", 300,
     lambda s, m, p, raw: queries.get_user(s.store, p, user_id=m.group(1))),
    ("GET", re.compile(r"/2/tweets/search/recent"), "search_recent", 450,
     lambda s, m, p, raw: queries.search_recent(s.store, p)),
    ("GET", re.compile(r"/2/tweets/([^/]+)"), "tweet_lookup", 900,
     lambda s, m, p, raw: queries.get_tweet(s.store, m.group(1), p)),
    ("POST", re.compile(r"/2/media/upload"), "media_upload", 500, None),  # multipart: parsed in _route
    ("POST", re.compile(r"/2/tweets"), "create_tweet", 200,
     lambda s, m, p, raw: s.store.create_tweet(_parse_body(raw))),
    ("POST", re.compile(r"/2/dm_conversations/with/([^/]+)/messages"), "dm_create", 200,
     lambda s, m, p, raw: s.store.create_dm(_parse_body(raw), participant_id=m.group(1))),
    ("POST", re.compile(r"/2/dm_conversations/([^/]+)/messages"), "dm_create", 200,
     lambda s, m, p, raw: s.store.create_dm(_parse_body(raw), conversation_id=m.group(1))),
    ("GET", re.compile(r"/2/dm_events"), "dm_events", 300,
     lambda s, m, p, raw: queries.dm_events(s.store, p)),
    ("GET", re.compile(r"/2/dm_conversations/with/([^/]+)/dm_events"), "dm_events", 300,
     lambda s, m, p, raw: queries.dm_events(s.store, p, participant_id=m.group(1))),
    ("GET", re.compile(r"/2/dm_conversations/([^/]+)/dm_events"), "dm_events", 300,
     lambda s, m, p, raw: queries.dm_events(s.store, p, conversation_id=m.group(1))),
]


class SimulatorServer:
    """X API v2 simulator for the Acme Telecom brand account; see the package docstring for endpoints."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, seed: int | None = None,
                 rate_per_minute: float = 6.0, initial_posts: int = 8,
                 brand_user_id: str = "1500000000000000001", brand_username: str = "acmetelecom") -> None:
        self.host = host
        self.port = port
        self.store = SimStore(seed=seed, rate_per_minute=rate_per_minute, initial_posts=initial_posts,
                              brand_user_id=brand_user_id, brand_username=brand_username)
        self.graph = GraphSim(seed=seed, rate_per_minute=rate_per_minute)
        self.oauth = OAuthSim(brand_user_id=brand_user_id, brand_username=brand_username, page_id=PAGE_ID,
                              page_name=PAGE_NAME)
        # Graph's /{page-id}/subscribed_apps and X's webhooks / Account Activity subscriptions (subscriptions.py).
        self.subscriptions = SubscriptionsSim(page_ids={PAGE_ID}, brand_user_id=brand_user_id)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------------------
    def start(self) -> SimulatorServer:
        if self._httpd is not None:
            return self
        server_cls = _HTTPServer6 if ":" in self.host else _HTTPServer
        httpd = server_cls((self.host, self.port), _Handler)
        httpd.sim = self  # type: ignore[attr-defined]
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"x-simulator:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        self._httpd = self._thread = None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("SimulatorServer is not started")
        host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    # -- test / demo controls -----------------------------------------------------------------------------
    @property
    def instagram(self) -> InstagramSim:
        """The brand's simulated Instagram account (same Graph host): add comments, subscribe webhooks."""
        return self.graph.instagram

    @property
    def brand_user_id(self) -> str:
        return self.store.brand.id

    @property
    def brand_username(self) -> str:
        return self.store.brand.username

    def add_post(self, text: str, *, author_username: str | None = None, lang: str = "pt",
                 in_reply_to_tweet_id: str | None = None) -> dict[str, Any]:
        """Inject one customer tweet (mentions-visible) and return it with all tweet fields."""
        return self.store.add_post(text, author_username, lang, in_reply_to_tweet_id)

    def generate(self, n: int) -> list[dict[str, Any]]:
        """Append ``n`` corpus posts now, regardless of the rate."""
        return self.store.generate(n)

    def add_dm(self, text: str, *, author_username: str | None = None, lang: str = "pt") -> dict[str, Any]:
        """Inject a DM from a customer to the brand (a MessageCreate event)."""
        return dict(self.store.add_dm(text, author_username, lang))

    def close_dms(self, user: str, *, closed: bool = True) -> str:
        """Make a user (a known username, or any user id) refuse DMs from the brand, or accept them again;
        returns the user id."""
        with self.store.lock:
            user_id = user if user.isdigit() else self.store.by_username[user.lower()].id
            (self.store.dms_closed.add if closed else self.store.dms_closed.discard)(user_id)
        return user_id

    def inject_fault(self, kind: str, count: int = 1, *, route: str = "") -> None:
        """Make the next ``count`` matching API requests fail with ``kind`` (see FAULT_KINDS); with ``route``,
        only requests to that route (an X rate-limit bucket such as ``create_tweet`` or ``media_upload``, or a
        Graph edge such as ``photos`` or ``comments``)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        if int(count) < 1:
            raise ValueError("count must be >= 1")
        with self.store.lock:
            self.store.faults.extend([f"{kind}@{route}" if route else kind] * int(count))

    def media(self, media_id: str) -> dict[str, Any] | None:
        """An image uploaded to the simulated X or Graph API, by its id."""
        with self.store.lock:
            found = self.store.media.get(media_id)
        return found or self.graph.uploaded(media_id)

    @property
    def pending_faults(self) -> list[str]:
        with self.store.lock:
            return list(self.store.faults)

    @property
    def sent(self) -> list[dict[str, Any]]:
        with self.store.lock:
            return [dict(item) for item in self.store.sent]

    @property
    def posts(self) -> list[dict[str, Any]]:
        """Customer tweets, oldest first, with all tweet fields plus ``kind``."""
        with self.store.lock:
            self.store.catch_up()
            return [{**self.store.full_tweet(self.store.tweets[tid]), "kind": self.store.tweets[tid]["kind"]}
                    for tid in self.store.customer_ids]

    @property
    def requests(self) -> list[dict[str, Any]]:
        with self.store.lock:
            return [dict(item) for item in self.store.requests]

    # -- request handling -------------------------------------------------------------------------------
    def _rate_headers(self, key: str, limit: int, *, exhausted: bool = False) -> dict[str, str]:
        now = time.time()
        with self.store.lock:
            window = self.store.rate_windows.get(key)
            if window is None or now >= window[0]:
                window = self.store.rate_windows[key] = [float(int(now) + RATE_WINDOW_SECONDS), float(limit)]
            window[1] = max(0.0, window[1] - 1)
            reset, remaining = int(window[0]), int(window[1])
        if exhausted:
            reset, remaining = int(now) + RATE_LIMIT_PENALTY_SECONDS, 0
        return {"x-rate-limit-limit": str(limit), "x-rate-limit-remaining": str(remaining),
                "x-rate-limit-reset": str(reset)}

    def _take_fault(self, is_mentions: bool, method: str = "GET", *, after_post_only: bool = False,
                    route: str = "") -> str | None:
        with self.store.lock:
            for i, entry in enumerate(self.store.faults):
                kind, _, only = entry.partition("@")
                if only and only != route:
                    continue
                if kind in AFTER_POST_FAULTS and method != "POST" or after_post_only and kind not in AFTER_POST_FAULTS:
                    continue
                if kind != "bad_item" or is_mentions:
                    self.store.faults.pop(i)
                    return kind
        return None

    @staticmethod
    def _after_post_fault(fault: str | None, error: _Reply) -> _Reply | None:
        if fault == "drop_after_post":
            return _Reply(0, b"", drop=True)
        if fault == "error_after_post":
            return error
        return None

    def _route(self, method: str, path: str, params: dict[str, str], raw: bytes, headers: Any) -> _Reply:
        if path == "/healthz":
            return _Reply(200, b"ok", "text/plain; charset=utf-8")
        if path in ("/_sim", "/_sim/") and method == "GET":
            self.store.catch_up()
            return _Reply(200, render_page(self.store, self.graph).encode(), "text/html; charset=utf-8")
        if path.startswith("/_sim/media/") and method == "GET":
            found = self.media(path[len("/_sim/media/"):])
            if found is None:
                return _json_reply(404, {"error": "no such media"}, rate_key=("_sim", 10_000))
            return _Reply(200, found["content"], found["content_type"], rate_key=("_sim", 10_000))
        if path.startswith(("/_sim/fb/", "/_sim/ig/")) and method == "POST":
            return self._route_sim_fb(path, raw)
        if path.startswith("/_sim/"):
            return self._route_sim(method, path, params, raw)
        auth = headers.get("Authorization") or ""
        oauth = self.oauth.route(method, path, params, raw, auth)
        if oauth is not None:
            return _oauth_reply(oauth)
        if path.startswith("/graph/"):
            return self._route_graph(method, path[len("/graph"):], raw, auth, headers.get("Content-Type") or "",
                                     params=params)
        if not auth.startswith(("Bearer ", "OAuth ")) or self.oauth.x_bearer_refused(auth):
            return _json_reply(401, UNAUTHORIZED)
        activity = self.subscriptions.x_route(method, path, raw, auth)
        if activity is not None:
            return _json_reply(*activity, rate_key=("account_activity", 500))
        self.store.catch_up()
        for route_method, pattern, key, limit, handler in _ROUTES:
            match = pattern.fullmatch(path)
            if match is None or route_method != method:
                continue
            is_mentions = key == "mentions"
            fault = self._take_fault(is_mentions, method, route=key)
            if fault == "invalid_json":
                return _Reply(200, _TRUNCATED_JSON, rate_key=(key, limit))
            if fault == "server_error":
                return _json_reply(503, SERVICE_UNAVAILABLE, rate_key=(key, limit))
            if fault == "forbidden":
                return _json_reply(403, CLIENT_FORBIDDEN, rate_key=(key, limit))
            if fault == "rate_limit":
                return _json_reply(429, TOO_MANY_REQUESTS, rate_key=(key, limit),
                                   headers=self._rate_headers(key, limit, exhausted=True))
            if fault == "credits_depleted":
                return _json_reply(402, CREDITS_DEPLETED, rate_key=(key, limit))
            if fault == "usage_capped":
                return _json_reply(429, USAGE_CAPPED, rate_key=(key, limit))  # the usual rate headers, calls left
            try:
                if key == "media_upload":
                    payload = self.store.upload_media(parse_multipart(raw, headers.get("Content-Type") or ""))
                else:
                    payload = handler(self, match, params, raw)
            except ApiError as exc:
                return _json_reply(exc.status, exc.body, rate_key=(key, limit))
            if fault == "bad_item":
                _add_bad_item(payload, self.store.brand.username)
            failed = self._after_post_fault(fault, _json_reply(500, INTERNAL_ERROR, rate_key=(key, limit)))
            if failed is not None:
                return failed
            if method == "POST" and key != "media_upload":
                location = payload["data"].get("id") or payload["data"].get("dm_event_id")
                where = "tweets" if key == "create_tweet" else "dm_events"
                return _json_reply(201, payload, rate_key=(key, limit),
                                   headers={"location": f"https://api.twitter.com/2/{where}/{location}"})
            return _json_reply(200, payload, rate_key=(key, limit))
        return _json_reply(404, {"errors": [{"message": "The requested resource could not be found."}],
                                 "title": "Not Found Error", "detail": f"No route for {method} {path}",
                                 "type": "about:blank", "status": 404})

    def _route_graph(self, method: str, path: str, raw: bytes, auth: str, content_type: str = "",
                     params: dict[str, str] | None = None) -> _Reply:
        key = ("graph", 10_000)
        if not auth.startswith("Bearer ") and "access_token=" not in path:
            return _json_reply(400, GraphError(400, 190, "An active access token must be used to query "
                                                         "information about the current user.").body, rate_key=key)
        edge = path.rstrip("/").rsplit("/", 1)[-1]
        try:
            files: dict[str, tuple[str, bytes, str]] = {}
            if method == "POST" and content_type.lower().startswith("multipart/form-data"):
                # Uploads (an unpublished photo, a Messenger attachment): form fields plus the file.
                parts = parse_multipart(raw, content_type)
                body = {name: value.decode(errors="replace") for name, (fname, value, _) in parts.items() if not fname}
                files = {name: part for name, part in parts.items() if part[0]}
            else:
                body = json.loads(raw or b"{}") if method == "POST" else {}
            if not isinstance(body, dict):
                raise GraphError(400, 100, "(#100) Request body is not a JSON object")
            answer = (self.subscriptions.graph_route(method, path, body, params or {}, auth)
                      if edge == "subscribed_apps" else self.graph.route(method, path, body, files, params))
            failed = self._after_post_fault(self._take_fault(False, method, after_post_only=True, route=edge),
                                            _json_reply(500, GRAPH_UNEXPECTED, rate_key=key))
            if failed is not None:
                return failed
            return _json_reply(200, answer, rate_key=key,
                               headers={"X-App-Usage": '{"call_count":1,"total_cputime":1,"total_time":1}'})
        except GraphError as exc:
            return _json_reply(exc.status, exc.body, rate_key=key)
        except ValueError:
            return _json_reply(400, GraphError(400, 100, "(#100) Invalid JSON").body, rate_key=key)

    def _route_sim_fb(self, path: str, raw: bytes) -> _Reply:
        key = ("_sim", 10_000)
        try:
            body = json.loads(raw or b"{}")
            text = body.get("text") if isinstance(body, dict) else None
            if not isinstance(text, str) or not text.strip():
                raise ValueError("'text' is required")
        except ValueError as exc:
            return _json_reply(400, {"error": str(exc)}, rate_key=key)
        if path == "/_sim/fb/comments":
            return _json_reply(201, self.graph.add_comment(text, body.get("author_name")), rate_key=key)
        if path == "/_sim/fb/messages":
            return _json_reply(201, self.graph.add_message(text, body.get("author_name")), rate_key=key)
        if path == "/_sim/ig/comments":
            try:
                comment = self.instagram.add_comment(text, author_username=str(body.get("author_username")
                                                                               or "cliente_insta"),
                                                     parent_id=body.get("parent_id") or None)
            except GraphError as exc:
                return _json_reply(exc.status, exc.body, rate_key=key)
            return _json_reply(201, comment, rate_key=key)
        return _json_reply(404, {"error": f"no route for POST {path}"}, rate_key=key)

    def _route_sim(self, method: str, path: str, params: dict[str, str], raw: bytes) -> _Reply:
        sim_key = ("_sim", 10_000)
        if method == "GET" and path == "/_sim/sent.json":
            return _json_reply(200, self.sent, rate_key=sim_key)
        if method == "GET" and path == "/_sim/posts.json":
            return _json_reply(200, self.posts[::-1][: int(params.get("limit", "50"))], rate_key=sim_key)
        if method == "GET" and path == "/_sim/requests.json":
            return _json_reply(200, self.requests, rate_key=sim_key)
        if method == "POST" and path in ("/_sim/posts", "/_sim/dms", "/_sim/faults"):
            try:
                body = json.loads(raw or b"{}")
                if not isinstance(body, dict):
                    raise ValueError("body must be a JSON object")
                if path == "/_sim/faults":
                    self.inject_fault(str(body.get("kind")), int(body.get("count", 1)))
                    return _json_reply(201, {"pending": self.pending_faults}, rate_key=sim_key)
                text = body.get("text")
                if not isinstance(text, str) or not text.strip():
                    raise ValueError("'text' is required")
                add = self.add_post if path == "/_sim/posts" else self.add_dm
                return _json_reply(201, add(text, author_username=body.get("author_username"),
                                            lang=body.get("lang") or "pt"), rate_key=sim_key)
            except (ValueError, TypeError) as exc:
                return _json_reply(400, {"error": str(exc)}, rate_key=sim_key)
        return _json_reply(404, {"error": f"no route for {method} {path}"}, rate_key=sim_key)

    def _log(self, method: str, path: str, status: int, auth: str) -> None:
        with self.store.lock:
            self.store.requests.append({"at": x_time(time.time()), "method": method, "path": path,
                                        "status": status, "auth": auth.split(" ", 1)[0] if auth else None})


def _oauth_reply(reply: OAuthReply) -> _Reply:
    if isinstance(reply.payload, str):
        return _Reply(reply.status, reply.payload.encode(), "text/html; charset=utf-8", headers=reply.headers,
                      rate_key=("oauth", 10_000))
    # Token responses must not be cached (RFC 6749 5.1).
    return _json_reply(reply.status, reply.payload, headers={"cache-control": "no-store", **reply.headers},
                       rate_key=("oauth", 10_000))


def _add_bad_item(payload: dict[str, Any], brand_username: str) -> None:
    bad = {"edit_history_tweet_ids": [], "text": f"@{brand_username} this item has no id"}
    data = payload.setdefault("data", [])
    data.insert(len(data) // 2, bad)
    payload["meta"] = {**payload.get("meta", {}), "result_count": len(data)}


class _Handler(BaseHTTPRequestHandler):
    server_version = "tsa_b"  # what api.twitter.com reports
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the simulator keeps its own bounded request log

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        sim: SimulatorServer = self.server.sim  # type: ignore[attr-defined]
        split = urlsplit(self.path)
        params = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        try:
            reply = sim._route(method, split.path, params, raw, self.headers)
        except ApiError as exc:
            reply = _json_reply(exc.status, exc.body)
        except Exception as exc:  # a simulator bug must still answer like a server, not hang the client
            reply = _json_reply(500, {"title": "Internal Server Error", "detail": repr(exc),
                                      "type": "about:blank", "status": 500})
        headers = {"content-type": reply.content_type, "content-length": str(len(reply.body)),
                   "api-version": "2.112", "x-access-level": "read-write-directmessages",
                   **sim._rate_headers(*reply.rate_key), **reply.headers}
        sim._log(method, self.path, reply.status, self.headers.get("Authorization") or "")
        if reply.drop:
            self.close_connection = True  # closed with nothing written: the client sees the connection drop
            return
        try:
            self.send_response(reply.status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            return  # the client hung up (a poll timed out); nothing to answer


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True


class _HTTPServer6(_HTTPServer):
    address_family = socket.AF_INET6
