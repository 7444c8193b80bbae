"""The simulator's OAuth servers: X OAuth 2.0 (Authorization Code with PKCE) and Facebook Login for pages.

Served by SimulatorServer at the same paths as the real hosts, so only the host differs:

- ``GET  /i/oauth2/authorize`` (x.com) — an "Authorize SAC" page; its button redirects back with code and state
- ``POST /2/oauth2/token`` (api.x.com) — ``authorization_code`` (checks the PKCE S256 verifier, the redirect
  URI and the client's HTTP Basic credentials) and ``refresh_token`` (rotates the refresh token); RFC 6749
  error bodies (``invalid_request``, ``invalid_client``, ``invalid_grant``)
- ``GET  /v21.0/dialog/oauth`` (www.facebook.com) — a "Continue as …" page that redirects back with code and state
- ``GET  /graph/v21.0/oauth/access_token`` — code → user token, and ``grant_type=fb_exchange_token`` → long-lived
- ``GET  /graph/v21.0/me/accounts`` — the user's pages with their page access tokens
- ``GET  /graph/v21.0/{page-id}?fields=instagram_business_account`` — the Instagram account linked to the page

Shapes follow the platforms' API reference (docs.x.com "OAuth 2.0 Authorization Code Flow with PKCE";
developers.facebook.com "Manually Build a Login Flow", "Long-Lived Access Tokens", "Page Access Tokens").
Access tokens issued here expire (X: 2 hours unless a test shortens it) and the simulator's X endpoints refuse
an expired one with 401, as X does; tokens it never issued (the fixtures' "t") are still accepted.
"""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

DEMO_CLIENTS = {"sac-demo": "sac-demo-secret"}
X_SCOPES_KNOWN = {"tweet.read", "tweet.write", "users.read", "dm.read", "dm.write", "offline.access",
                  "follows.read", "like.read"}
X_CODE_LIFETIME_SECONDS = 30  # X: "the authorization code is valid for 30 seconds"
X_ACCESS_TOKEN_LIFETIME_SECONDS = 7200
FB_TOKEN_LIFETIME_SECONDS = 5183944  # what Meta's reference shows for a long-lived user token (~60 days)
INSTAGRAM_ACCOUNT_ID = "17841400000000100"
INSTAGRAM_USERNAME = "acmetelecom"


@dataclass
class OAuthReply:
    status: int
    payload: Any  # a dict (JSON) or a str (HTML)
    headers: dict[str, str] = field(default_factory=dict)


def _error(status: int, error: str, description: str) -> OAuthReply:
    return OAuthReply(status, {"error": error, "error_description": description})


def _graph_error(message: str, code: int, subcode: int | None = None) -> OAuthReply:
    body: dict[str, Any] = {"error": {"message": message, "type": "OAuthException", "code": code,
                                      "fbtrace_id": "AsimOAuthTrace01"}}
    if subcode:
        body["error"]["error_subcode"] = subcode
    return OAuthReply(400, body)


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            "<style>body{font:16px system-ui;max-width:32rem;margin:4rem auto}"
            "a.button{display:inline-block;padding:.6rem 1.2rem;background:#1d9bf0;color:#fff;border-radius:2rem;"
            "text-decoration:none}a.cancel{margin-left:1rem}</style></head>"
            f"<body><p><small>Loopback simulator — not the real site</small></p>{body}</body></html>")


class OAuthSim:
    def __init__(self, *, brand_user_id: str, brand_username: str, page_id: str, page_name: str,
                 clients: dict[str, str] | None = None) -> None:
        self.brand_user_id = brand_user_id
        self.brand_username = brand_username
        self.page_id = page_id
        self.page_name = page_name
        self.clients = dict(DEMO_CLIENTS if clients is None else clients)
        self.lock = threading.Lock()
        self.x_access_lifetime = X_ACCESS_TOKEN_LIFETIME_SECONDS
        self.token_delay_seconds = 0.0  # a slow token endpoint, for race tests
        self._x_codes: dict[str, dict[str, Any]] = {}
        self._x_access: dict[str, float] = {}  # token -> expires at
        self._x_refresh: dict[str, str] = {}  # refresh token -> the scope it was granted
        self._fb_codes: dict[str, dict[str, Any]] = {}
        self._fb_user_tokens: set[str] = set()
        self.page_tokens: set[str] = set()
        self.token_requests: list[dict[str, Any]] = []  # grant types seen, for tests

    # -- test controls ---------------------------------------------------------------------------------
    def expire_x_access_tokens(self) -> None:
        with self.lock:
            self._x_access = dict.fromkeys(self._x_access, 0.0)

    def revoke_x_refresh_tokens(self) -> None:
        with self.lock:
            self._x_refresh.clear()

    def x_bearer_refused(self, auth: str) -> bool:
        """An access token this simulator issued that has expired (or was never valid in its format)."""
        token = auth.split(" ", 1)[1] if " " in auth else ""
        if not token.startswith("simx-at-"):
            return False
        with self.lock:
            return self._x_access.get(token, 0.0) < time.time()

    # -- routing -----------------------------------------------------------------------------------------
    def route(self, method: str, path: str, params: dict[str, str], raw: bytes, auth: str) -> OAuthReply | None:
        if method == "GET" and path == "/i/oauth2/authorize":
            return self._x_authorize(params)
        if method == "POST" and path == "/2/oauth2/token":
            return self._x_token(raw, auth)
        if method == "GET" and path == "/v21.0/dialog/oauth":
            return self._fb_dialog(params)
        if method == "GET" and path == "/graph/v21.0/oauth/access_token":
            return self._fb_access_token(params)
        if method == "GET" and path == "/graph/v21.0/me/accounts":
            return self._fb_accounts(params, auth)
        if method == "GET" and path == f"/graph/v21.0/{self.page_id}" \
                and "instagram_business_account" in params.get("fields", ""):
            return self._fb_instagram(params, auth)
        return None

    # -- X ------------------------------------------------------------------------------------------------
    def _x_authorize(self, p: dict[str, str]) -> OAuthReply:
        problems = []
        if p.get("response_type") != "code":
            problems.append("response_type must be code")
        if p.get("client_id") not in self.clients:
            problems.append("unknown client_id")
        if not p.get("redirect_uri", "").startswith(("http://", "https://")):
            problems.append("redirect_uri is missing")
        if not p.get("state"):
            problems.append("state is missing")
        if not p.get("code_challenge") or p.get("code_challenge_method") != "S256":
            problems.append("code_challenge with code_challenge_method=S256 is required")
        scopes = set(p.get("scope", "").split())
        if not scopes or scopes - X_SCOPES_KNOWN:
            problems.append(f"unknown scopes: {' '.join(sorted(scopes - X_SCOPES_KNOWN)) or '(none)'}")
        if problems:
            return OAuthReply(400, _page("Something went wrong", "<h1>Something went wrong</h1><p>"
                                         + html.escape("; ".join(problems)) + "</p>"))
        code = secrets.token_urlsafe(24)
        with self.lock:
            self._x_codes[code] = {"client_id": p["client_id"], "redirect_uri": p["redirect_uri"],
                                   "challenge": p["code_challenge"], "scope": " ".join(sorted(scopes)),
                                   "expires": time.time() + X_CODE_LIFETIME_SECONDS}
        sep = "&" if "?" in p["redirect_uri"] else "?"
        approve = p["redirect_uri"] + sep + urlencode({"state": p["state"], "code": code})
        deny = p["redirect_uri"] + sep + urlencode({"state": p["state"], "error": "access_denied"})
        body = (f"<h1>Authorize SAC to access your account?</h1><p>Signed in as <b>@{self.brand_username}</b>.</p>"
                f"<p>Permissions: {html.escape(' '.join(sorted(scopes)))}</p>"
                f"<a class='button' id='authorize-app' href='{html.escape(approve)}'>Authorize SAC</a>"
                f"<a class='cancel' id='cancel' href='{html.escape(deny)}'>Cancel</a>")
        return OAuthReply(200, _page("Authorize SAC", body))

    def _x_client(self, form: dict[str, str], auth: str) -> str | OAuthReply:
        if auth.startswith("Basic "):
            try:
                client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return _error(401, "invalid_client", "Malformed client credentials.")
            if self.clients.get(client_id) != secret:
                return _error(401, "invalid_client", "Missing valid authorization header")
            return client_id
        client_id = form.get("client_id", "")
        if client_id not in self.clients:
            return _error(401, "invalid_client", "Missing valid authorization header")
        if self.clients[client_id]:  # a confidential client must authenticate
            return _error(401, "invalid_client", "Missing valid authorization header")
        return client_id

    def _x_token(self, raw: bytes, auth: str) -> OAuthReply:
        form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True).items()}
        grant = form.get("grant_type", "")
        with self.lock:
            self.token_requests.append({"grant_type": grant, "basic_auth": auth.startswith("Basic ")})
        if self.token_delay_seconds:
            time.sleep(self.token_delay_seconds)
        client = self._x_client(form, auth)
        if isinstance(client, OAuthReply):
            return client
        if grant == "authorization_code":
            with self.lock:
                issued = self._x_codes.pop(form.get("code", ""), None)
            if issued is None or issued["expires"] < time.time():
                return _error(400, "invalid_request", "Value passed for the authorization code was invalid.")
            if issued["client_id"] != client or issued["redirect_uri"] != form.get("redirect_uri"):
                return _error(400, "invalid_request", "Value passed for the redirect uri did not match the uri "
                                                      "of the authorization code.")
            if s256(form.get("code_verifier", "")) != issued["challenge"]:
                return _error(400, "invalid_grant", "Value passed for the code verifier did not match the "
                                                    "code challenge.")
            return self._x_issue(issued["scope"])
        if grant == "refresh_token":
            token = form.get("refresh_token", "")
            with self.lock:
                scope = self._x_refresh.pop(token, None)  # X rotates refresh tokens: each one works once
            if scope is None:
                return _error(400, "invalid_grant", "Value passed for the token was invalid.")
            return self._x_issue(scope)
        return _error(400, "invalid_request", "Missing required parameter [grant_type].")

    def _x_issue(self, scope: str) -> OAuthReply:
        access = "simx-at-" + secrets.token_urlsafe(24)
        body: dict[str, Any] = {"token_type": "bearer", "expires_in": self.x_access_lifetime,
                                "access_token": access, "scope": scope}
        with self.lock:
            self._x_access[access] = time.time() + self.x_access_lifetime
            if "offline.access" in scope.split():
                body["refresh_token"] = "simx-rt-" + secrets.token_urlsafe(24)
                self._x_refresh[body["refresh_token"]] = scope
        return OAuthReply(200, body)

    # -- Facebook -----------------------------------------------------------------------------------------
    def _fb_dialog(self, p: dict[str, str]) -> OAuthReply:
        if p.get("client_id") not in self.clients or not p.get("redirect_uri", "").startswith(("http://",
                                                                                              "https://")):
            return OAuthReply(400, _page("Error", "<h1>Invalid App ID or redirect URI</h1>"))
        code = "AQ" + secrets.token_urlsafe(32)
        with self.lock:
            self._fb_codes[code] = {"client_id": p["client_id"], "redirect_uri": p["redirect_uri"]}
        sep = "&" if "?" in p["redirect_uri"] else "?"
        approve = p["redirect_uri"] + sep + urlencode({"code": code, "state": p.get("state", "")})
        deny = p["redirect_uri"] + sep + urlencode({"error": "access_denied", "error_reason": "user_denied",
                                                    "error_description": "Permissions error",
                                                    "state": p.get("state", "")})
        body = (f"<h1>SAC is requesting access to your Pages</h1><p>Scope: {html.escape(p.get('scope', ''))}</p>"
                f"<a class='button' id='continue-as' href='{html.escape(approve)}'>Continue as Ana (Acme)</a>"
                f"<a class='cancel' id='cancel' href='{html.escape(deny)}'>Cancel</a>")
        return OAuthReply(200, _page("Log in with Facebook", body))

    def _fb_access_token(self, p: dict[str, str]) -> OAuthReply:
        client_id = p.get("client_id", "")
        if client_id not in self.clients:
            return _graph_error("Error validating application. Invalid application ID.", 101)
        if self.clients[client_id] != p.get("client_secret"):
            return _graph_error("Error validating client secret.", 1)
        if p.get("grant_type") == "fb_exchange_token":
            if p.get("fb_exchange_token") not in self._fb_user_tokens:
                return _graph_error("Invalid OAuth access token - Cannot parse access token", 190)
            return OAuthReply(200, self._fb_user_token())
        with self.lock:
            issued = self._fb_codes.pop(p.get("code", ""), None)
        if issued is None:
            return _graph_error("This authorization code has been used.", 100, subcode=36009)
        if issued["redirect_uri"] != p.get("redirect_uri"):
            return _graph_error("Error validating verification code. Please make sure your redirect_uri is "
                                "identical to the one you used in the OAuth dialog request", 100, subcode=36008)
        return OAuthReply(200, self._fb_user_token())

    def _fb_user_token(self) -> dict[str, Any]:
        token = "EAAsimU" + secrets.token_urlsafe(32)
        with self.lock:
            self._fb_user_tokens.add(token)
        return {"access_token": token, "token_type": "bearer", "expires_in": FB_TOKEN_LIFETIME_SECONDS}

    @staticmethod
    def _token(params: dict[str, str], auth: str) -> str:
        return params.get("access_token") or (auth.split(" ", 1)[1] if auth.startswith("Bearer ") else "")

    def _fb_accounts(self, params: dict[str, str], auth: str) -> OAuthReply:
        if self._token(params, auth) not in self._fb_user_tokens:
            return _graph_error("Invalid OAuth access token - Cannot parse access token", 190)
        page_token = "EAAsimP" + secrets.token_urlsafe(32)
        with self.lock:
            self.page_tokens.add(page_token)
        return OAuthReply(200, {"data": [{
            "access_token": page_token, "category": "Telecommunication Company",
            "category_list": [{"id": "2256", "name": "Telecommunication Company"}],
            "name": self.page_name, "id": self.page_id,
            "tasks": ["ANALYZE", "ADVERTISE", "MESSAGING", "MODERATE", "CREATE_CONTENT", "MANAGE"],
        }], "paging": {"cursors": {"before": "QVFIUsimBefore", "after": "QVFIUsimAfter"}}})

    def _fb_instagram(self, params: dict[str, str], auth: str) -> OAuthReply:
        if self._token(params, auth) not in self.page_tokens:
            return _graph_error("Invalid OAuth access token - Cannot parse access token", 190)
        return OAuthReply(200, {"instagram_business_account": {"id": INSTAGRAM_ACCOUNT_ID,
                                                               "username": INSTAGRAM_USERNAME},
                                "id": self.page_id})
