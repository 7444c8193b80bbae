"""Facebook Login for pages, against www.facebook.com / graph.facebook.com or the simulator.

Reference: developers.facebook.com, "Manually Build a Login Flow", "Long-Lived Access Tokens" and "Page Access
Tokens": dialog → code → user token → long-lived user token → GET /me/accounts (each page with its page
token). Page tokens obtained from a long-lived user token do not expire, so there is nothing to refresh;
a revoked one (Graph error 190) marks the channel needs_reauth through the connector.
"""

from typing import Any
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.utils.translation import gettext as _

from .errors import OAuthError

SCOPES = ["pages_show_list", "pages_manage_metadata", "pages_read_engagement", "pages_manage_engagement",
          "pages_messaging", "instagram_basic", "instagram_manage_comments"]


def configured() -> bool:
    return bool(settings.SAC_FACEBOOK_APP_ID)


def dialog_url(*, state: str, redirect_uri: str) -> str:
    return settings.SAC_FACEBOOK_DIALOG_URL + "?" + urlencode({
        "client_id": settings.SAC_FACEBOOK_APP_ID, "redirect_uri": redirect_uri, "state": state,
        "scope": ",".join(SCOPES), "response_type": "code",
    })


def api_base_url() -> str:
    url = settings.SAC_GRAPH_API_URL.rstrip("/")
    return "" if url.startswith("https://graph.facebook.com/") else url


def _get(path: str, params: dict[str, str]) -> dict[str, Any]:
    url = settings.SAC_GRAPH_API_URL.rstrip("/") + "/" + path
    try:
        response = requests.get(url, params=params, timeout=settings.SAC_HTTP_TIMEOUT_SECONDS)
        body = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise OAuthError(_("Facebook could not be reached (%(error)s). Try again.")
                         % {"error": exc.__class__.__name__}) from exc
    if not isinstance(body, dict):
        raise OAuthError(_("Facebook answered something unreadable. Try again."))
    error = body.get("error")
    if response.status_code != 200 or error:
        detail = error.get("message") if isinstance(error, dict) else f"HTTP {response.status_code}"
        code = error.get("code") if isinstance(error, dict) else None
        raise OAuthError(_("Facebook refused the sign-in (%(detail)s). Start again from the Connect page.")
                         % {"detail": f"{detail}, code {code}" if code else detail})
    return body


def exchange_code(*, code: str, redirect_uri: str) -> str:
    """The code for a user token, then that for a long-lived one (about 60 days; page tokens from it do not expire)."""
    app = {"client_id": settings.SAC_FACEBOOK_APP_ID, "client_secret": settings.SAC_FACEBOOK_APP_SECRET}
    short = _get("oauth/access_token", {**app, "redirect_uri": redirect_uri, "code": code})
    long = _get("oauth/access_token", {**app, "grant_type": "fb_exchange_token",
                                       "fb_exchange_token": str(short.get("access_token") or "")})
    token = str(long.get("access_token") or "")
    if not token:
        raise OAuthError(_("Facebook answered without an access token. Start again from the Connect page."))
    return token


def pages(*, user_token: str) -> list[dict[str, str]]:
    """The pages the admin manages, each {id, name, access_token}."""
    body = _get("me/accounts", {"access_token": user_token, "fields": "id,name,access_token,tasks", "limit": "100"})
    found = []
    for page in body.get("data") or []:
        if isinstance(page, dict) and page.get("id") and page.get("access_token"):
            found.append({"id": str(page["id"]), "name": str(page.get("name") or page["id"]),
                          "access_token": str(page["access_token"])})
    return found


def instagram_account(*, page_id: str, page_token: str) -> dict[str, str] | None:
    """The Instagram business account linked to the page, or None."""
    body = _get(page_id, {"access_token": page_token, "fields": "instagram_business_account{id,username}"})
    account = body.get("instagram_business_account")
    if not isinstance(account, dict) or not account.get("id"):
        return None
    return {"id": str(account["id"]), "username": str(account.get("username") or "")}
