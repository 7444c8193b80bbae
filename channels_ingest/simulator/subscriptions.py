"""The simulator's webhook subscriptions: Graph's Page Subscribed Apps edge and X's Account Activity API v2.

Graph (under ``/graph/v21.0/``), shapes from the reference "Page Subscribed Apps"
(developers.facebook.com/docs/graph-api/reference/page/subscribed_apps):

- ``GET    /{page-id}/subscribed_apps`` → ``{"data": [{"id", "name", "link", "category", "subscribed_fields"}]}``
- ``POST   /{page-id}/subscribed_apps?subscribed_fields=feed,messages`` → ``{"success": true}`` (sets the app's
  whole field list on the page; ``subscribed_fields`` is required and must name Page fields)
- ``DELETE /{page-id}/subscribed_apps`` → ``{"success": true}``

X, shapes from X's OpenAPI (api.x.com/2/openapi.json v2.168: createWebhooks, createAccountActivitySubscription,
validateAccountActivitySubscription, getAccountActivitySubscriptions, deleteAccountActivitySubscription):

- ``POST /2/webhooks`` ``{"url"}`` → ``{"data": {"id", "url", "valid", "created_at"}}``; ``GET /2/webhooks``. Unlike
  X, no CRC request is sent to the URL before it is saved.
- ``POST /2/account_activity/webhooks/{id}/subscriptions/all`` ``{}`` with a *user* token (an OAuth 2.0 user
  token this simulator issued, or OAuth 1.0a) → ``{"data": {"subscribed": true}}``; an app-only bearer token is
  refused with 403 as X does. ``GET`` of the same path validates, ``GET …/subscriptions/all/list`` lists,
  ``DELETE …/subscriptions/{user_id}/all`` removes.

Tests read ``page_fields`` / ``page_requests`` and ``x_subscriptions`` / ``x_requests``, and make the next
subscription fail with ``refuse_page_subscription`` / ``refuse_x_subscription``.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from typing import Any

from .corpus import x_time
from .graph import GraphError

APP_ID = "sac-demo"  # the simulator's one Meta app (oauth.DEMO_CLIENTS)
# Page fields an app may subscribe to (a subset of the reference's list; enough to refuse a typo).
PAGE_FIELDS = {"feed", "messages", "mention", "message_echoes", "message_deliveries", "message_reads",
               "messaging_postbacks", "messaging_optins", "messaging_referrals", "messaging_handovers", "ratings",
               "conversations", "standby", "name", "picture", "category", "description", "email", "website"}
_ACCOUNT_ACTIVITY = re.compile(r"/2/account_activity/webhooks/(?P<webhook>[^/]+)/subscriptions/"
                               r"(?:(?P<all>all)(?P<list>/list)?|(?P<user>[^/]+)/all)")


def _problem(status: int, title: str, detail: str, kind: str) -> tuple[int, dict[str, Any]]:
    return status, {"title": title, "detail": detail, "type": f"https://api.x.com/2/problems/{kind}",
                    "status": status, "errors": [{"message": detail}]}


class SubscriptionsSim:
    def __init__(self, *, page_ids: set[str], brand_user_id: str) -> None:
        self.lock = threading.Lock()
        self.page_ids = set(page_ids)
        self.brand_user_id = brand_user_id
        self.page_fields: dict[str, list[str]] = {}  # page id -> the app's subscribed fields
        self.page_requests: list[dict[str, Any]] = []
        self.webhooks: dict[str, dict[str, Any]] = {}
        self.x_subscriptions: dict[str, set[str]] = {}  # webhook id -> subscribed user ids
        self.x_requests: list[dict[str, Any]] = []
        self._page_refusals: list[GraphError] = []
        self._x_refusals: list[tuple[int, dict[str, Any]]] = []

    # -- test controls -----------------------------------------------------------------------------------
    def refuse_page_subscription(self, message: str = "(#200) Requires pages_manage_metadata permission to manage "
                                 "the object", code: int = 200, count: int = 1) -> None:
        """The next `count` POSTs to subscribed_apps answer with this Graph error."""
        with self.lock:
            self._page_refusals += [GraphError(403 if code == 200 else 400, code, message)] * count

    def refuse_x_subscription(self, detail: str = "The user has not authorized the app for Account Activity.",
                              status: int = 403, count: int = 1) -> None:
        with self.lock:
            self._x_refusals += [_problem(status, "Forbidden", detail, "client-forbidden")] * count

    # -- Graph: /{page-id}/subscribed_apps ----------------------------------------------------------------
    def graph_route(self, method: str, path: str, body: dict[str, Any], params: dict[str, str],
                    auth: str) -> dict[str, Any]:
        parts = [p for p in path.split("/") if p]
        page_id = parts[1] if len(parts) == 3 else ""
        token = auth.split(" ", 1)[1] if auth.startswith("Bearer ") else params.get("access_token", "")
        fields_param = params.get("subscribed_fields", body.get("subscribed_fields", ""))
        fields = fields_param if isinstance(fields_param, list) else [f for f in str(fields_param).split(",") if f]
        with self.lock:
            self.page_requests.append({"method": method, "page_id": page_id, "fields": fields, "token": token})
            if page_id not in self.page_ids:
                raise GraphError(400, 100, f"Unsupported {method.lower()} request. Object with ID '{page_id}' does "
                                           "not exist, cannot be loaded due to missing permissions, or does not "
                                           "support this operation.", subcode=33)
            if method == "GET":
                found = self.page_fields.get(page_id)
                return {"data": [] if found is None else [{
                    "category": "Business", "link": "https://sac.example/", "name": "SAC", "id": APP_ID,
                    "subscribed_fields": list(found)}]}
            if method == "DELETE":
                self.page_fields.pop(page_id, None)
                return {"success": True}
            if method != "POST":
                raise GraphError(400, 100, f"Unsupported {method} request on {page_id}/subscribed_apps")
            if self._page_refusals:
                raise self._page_refusals.pop(0)
            if not fields:
                raise GraphError(400, 100, "(#100) The parameter subscribed_fields is required")
            unknown = [f for f in fields if f not in PAGE_FIELDS]
            if unknown:
                raise GraphError(400, 100, f"(#100) Param subscribed_fields[{fields.index(unknown[0])}] must be "
                                           f"one of {{{', '.join(sorted(PAGE_FIELDS))}}} - got \"{unknown[0]}\"")
            self.page_fields[page_id] = list(dict.fromkeys(fields))
        return {"success": True}

    # -- X: /2/webhooks and /2/account_activity/… ---------------------------------------------------------
    def x_route(self, method: str, path: str, raw: bytes, auth: str) -> tuple[int, dict[str, Any]] | None:
        """(status, JSON body) for the endpoints above, None for any other path."""
        if path == "/2/webhooks":
            return self._webhooks(method, raw, auth)
        match = _ACCOUNT_ACTIVITY.fullmatch(path)
        if match is None:
            return None
        user_context = auth.startswith("OAuth ") or auth.startswith("Bearer simx-at-")
        webhook_id = match.group("webhook")
        with self.lock:
            self.x_requests.append({"method": method, "path": path, "auth": auth.split(" ", 1)[0],
                                    "user_context": user_context})
            if webhook_id not in self.webhooks:
                return _problem(400, "Invalid Request", f"Webhook {webhook_id} is not a webhook of this app.",
                                "invalid-request")
            subscribed = self.x_subscriptions.setdefault(webhook_id, set())
            if match.group("list") and method == "GET":
                return 200, {"data": {"application_id": APP_ID, "webhook_id": webhook_id,
                                      "webhook_url": self.webhooks[webhook_id]["url"],
                                      "subscriptions": [{"user_id": u} for u in sorted(subscribed)]}}
            if match.group("user") and method == "DELETE":
                subscribed.discard(match.group("user"))
                return 200, {"data": {"subscribed": False}}
            if match.group("all") and not match.group("list") and method in ("GET", "POST"):
                if not user_context:
                    return _problem(403, "Unsupported Authentication", "Authenticating with OAuth 2.0 "
                                    "Application-Only is forbidden for this endpoint.  Supported authentication "
                                    "types are [OAuth 1.0a User Context, OAuth 2.0 User Context].",
                                    "unsupported-authentication")
                if method == "GET":
                    return 200, {"data": {"subscribed": self.brand_user_id in subscribed}}
                if self._x_refusals:
                    return self._x_refusals.pop(0)
                subscribed.add(self.brand_user_id)
                return 200, {"data": {"subscribed": True}}
        return None

    def _webhooks(self, method: str, raw: bytes, auth: str) -> tuple[int, dict[str, Any]] | None:
        with self.lock:
            self.x_requests.append({"method": method, "path": "/2/webhooks", "auth": auth.split(" ", 1)[0],
                                    "user_context": False})
            if method == "GET":
                listed = list(self.webhooks.values())
                return 200, {"data": listed, "meta": {"result_count": len(listed)}}
            if method != "POST":
                return None
            try:
                body = json.loads(raw or b"{}")
            except (ValueError, UnicodeDecodeError):
                body = None
            url = body.get("url") if isinstance(body, dict) else None
            if not isinstance(url, str) or not url.startswith("https://") or len(url) > 200:
                return _problem(400, "Invalid Request", "The url must be an https URL of at most 200 characters.",
                                "invalid-request")
            if any(w["url"] == url for w in self.webhooks.values()):
                return _problem(400, "Invalid Request", "A webhook with this url is already registered.",
                                "invalid-request")
            webhook_id = str(1_900_000_000_000_000_000 + secrets.randbelow(10**17))
            self.webhooks[webhook_id] = {"id": webhook_id, "url": url, "valid": True,
                                         "created_at": x_time(time.time())}
            return 200, {"data": dict(self.webhooks[webhook_id])}
