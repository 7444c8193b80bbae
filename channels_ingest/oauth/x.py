"""X OAuth 2.0 Authorization Code with PKCE (S256), against x.com / api.x.com or the simulator.

Reference: docs.x.com, "OAuth 2.0 Authorization Code Flow with PKCE". SAC is a confidential client: the token
endpoint is called with HTTP Basic client_id:client_secret. Access tokens live 2 hours; `offline.access` gives
a refresh token, and X rotates it on every refresh (the old one stops working).
"""

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.utils.translation import gettext as _

from channels_ingest.errors import AuthError, PermanentError, TransientError
from channels_ingest.texts import stored_text
from channels_ingest.x.client import X_API_HOST

from .errors import OAuthError

SCOPES = "tweet.read tweet.write users.read dm.read dm.write offline.access"


@dataclass(frozen=True)
class XTokens:
    access_token: str
    refresh_token: str
    expires_at: int
    scope: str

    def credentials(self) -> dict[str, Any]:
        return {"auth": "oauth2", "access_token": self.access_token, "refresh_token": self.refresh_token,
                "expires_at": self.expires_at, "scope": self.scope}


def configured() -> bool:
    return bool(settings.SAC_X_OAUTH_CLIENT_ID)


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge): 43-128 characters of [A-Za-z0-9-._~] (RFC 7636)."""
    verifier = secrets.token_urlsafe(64)[:96]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_url(*, state: str, challenge: str, redirect_uri: str) -> str:
    return settings.SAC_X_OAUTH_AUTHORIZE_URL + "?" + urlencode({
        "response_type": "code", "client_id": settings.SAC_X_OAUTH_CLIENT_ID, "redirect_uri": redirect_uri,
        "scope": SCOPES, "state": state, "code_challenge": challenge, "code_challenge_method": "S256",
    })


def api_base_url() -> str:
    """What the connected channel stores as its API host: empty for the real X, else the configured one."""
    url = settings.SAC_X_API_URL.rstrip("/")
    return "" if url in (X_API_HOST, "https://api.x.com") else url


class TokenRefused(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.status = status
        self.error = error


def _token_request(form: dict[str, str]) -> XTokens:
    try:
        # client_id in the body as X's examples show, and HTTP Basic because SAC is a confidential client.
        response = requests.post(settings.SAC_X_OAUTH_TOKEN_URL,
                                 data={**form, "client_id": settings.SAC_X_OAUTH_CLIENT_ID},
                                 auth=(settings.SAC_X_OAUTH_CLIENT_ID, settings.SAC_X_OAUTH_CLIENT_SECRET),
                                 timeout=settings.SAC_HTTP_TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        raise TransientError(f"X could not be reached ({exc.__class__.__name__})") from exc
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code >= 500:
        raise TransientError(f"X token endpoint answered {response.status_code}")
    if not isinstance(body, dict):
        raise TokenRefused(response.status_code, "invalid_response", "X answered without a JSON object")
    if response.status_code != 200 or not body.get("access_token"):
        raise TokenRefused(response.status_code, str(body.get("error") or "invalid_response"),
                           str(body.get("error_description") or ""))
    expires_in = int(body.get("expires_in") or 7200)
    return XTokens(access_token=str(body["access_token"]), refresh_token=str(body.get("refresh_token") or ""),
                   expires_at=int(time.time()) + expires_in, scope=str(body.get("scope") or ""))


def exchange_code(*, code: str, verifier: str, redirect_uri: str) -> XTokens:
    try:
        return _token_request({"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                               "code_verifier": verifier})
    except TokenRefused as exc:
        if exc.error == "invalid_client":
            raise OAuthError(_("X refused SAC's client credentials (invalid_client): the operator must check "
                               "SAC_X_OAUTH_CLIENT_ID and SAC_X_OAUTH_CLIENT_SECRET.")) from exc
        raise OAuthError(_("X refused the sign-in (%(error)s). Start again from the Connect page.")
                         % {"error": exc}) from exc
    except TransientError as exc:
        # The same request renews tokens in workers, where its English text is stored; here a person reads it.
        raise OAuthError(_("%(error)s. Try again in a moment.") % {"error": stored_text(str(exc))}) from exc


def refresh(refresh_token: str) -> XTokens:
    """A new access token (and a new refresh token). A refused refresh token means the admin must sign in again."""
    try:
        return _token_request({"grant_type": "refresh_token", "refresh_token": refresh_token})
    except TokenRefused as exc:
        if exc.error == "invalid_client":
            raise PermanentError("X refused SAC's client credentials (invalid_client): check "
                                 "SAC_X_OAUTH_CLIENT_ID and SAC_X_OAUTH_CLIENT_SECRET.") from exc
        # invalid_grant per RFC 6749; X itself answers invalid_request for a revoked or used refresh token.
        raise AuthError(f"X refused to renew the channel's access ({exc}): connect the X account again.") from exc


def me(*, access_token: str) -> dict[str, str]:
    """GET /2/users/me: the account that authorized SAC."""
    url = settings.SAC_X_API_URL.rstrip("/") + "/2/users/me"
    try:
        response = requests.get(url, headers={"Authorization": f"Bearer {access_token}"},
                                timeout=settings.SAC_HTTP_TIMEOUT_SECONDS)
        body = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise OAuthError(_("X did not tell who signed in (%(error)s). Try again.")
                         % {"error": exc.__class__.__name__}) from exc
    data = body.get("data") if isinstance(body, dict) else None
    if response.status_code != 200 or not isinstance(data, dict) or not data.get("id"):
        raise OAuthError(_("X did not tell who signed in (%(error)s). Try again.")
                         % {"error": f"HTTP {response.status_code}"})
    return {"id": str(data["id"]), "username": str(data.get("username") or ""), "name": str(data.get("name") or "")}
