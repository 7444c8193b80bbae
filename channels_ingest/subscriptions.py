"""Webhooks first, polling as catch-up: subscribing an OAuth-connected channel to its network's webhooks.

Connect with Facebook / Connect with X end by subscribing the account, so the network pushes its events to the
app's one callback URL (/hooks/meta/, /hooks/x/app/, see webhooks.py) instead of SAC only polling. Polling never
stops: a channel whose webhooks deliver is polled at the slower reconciliation pace (services._webhooks_live).

- **Facebook page**: ``POST /{page-id}/subscribed_apps`` with ``subscribed_fields=feed,messages`` and the page
  access token (Graph API reference, "Page Subscribed Apps": a Page token of a person who can MANAGE or MODERATE
  the page, ``pages_manage_metadata``; answers ``{"success": true}``). Only fields subscribed both here and in the
  app's Webhooks settings (App Dashboard, object ``page``) are delivered.
- **Instagram business account** (Instagram API with Facebook Login): comment webhooks are the app-level
  ``instagram`` object subscription (App Dashboard, fields ``comments``, ``live_comments``), and Meta delivers
  them only once the app has Page subscriptions on the page linked to the account ("Your app must enable Page
  subscriptions on the Page connected to the app user's account by sending a POST request to the Page
  Subscribed Apps edge and subscribing to any Page field", developers.facebook.com/docs/instagram-platform/
  webhooks). So an Instagram channel makes the same call on its linked page, with the same fields: a POST sets
  the app's whole field list on the page, and fewer fields would unsubscribe the page's own channel from some.
- **X**: ``POST /2/account_activity/webhooks/{webhook_id}/subscriptions/all`` with body ``{}`` and the account's
  own token, answering ``{"data": {"subscribed": true}}``. X's OpenAPI (api.x.com/2/openapi.json, v2.168,
  operation createAccountActivitySubscription) accepts an OAuth 2.0 user token with dm.read, dm.write,
  tweet.read and users.read (the scopes Connect with X asks for) or an OAuth 1.0a user token, so the channel's
  OAuth 2.0 token is used. It needs an installation-level webhook (manage.py x_webhook_register →
  SAC_X_WEBHOOK_ID); without one, X channels are polled only.

A refused or failed subscription never fails the connect: the outcome is kept on the channel (its credentials'
``webhooks`` entry, written under the row lock that token renewal takes too) and the health page shows it with
a *Subscribe again* button. Channels connected by hand keep their own per-channel webhook URL and are left alone.
"""

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sac.services import audit_record

from .errors import ConnectorError, MalformedPayload, TransientError
from .models import ChannelAccount, Platform
from .texts import stored_text

log = logging.getLogger(__name__)

# The credentials entry holding the last subscription's outcome: {"at", "ok", "kind", "detail"}.
STATE_KEY = "webhooks"
# The Instagram channel's linked Facebook page (Connect with Facebook stores it): where its Page subscription is.
PAGE_ID_KEY = "page_id"
META_FIELDS = ("feed", "messages")
DETAIL_MAX = 500


@dataclass(frozen=True)
class WebhookSubscription:
    """What the health page says about a channel's webhooks."""

    # by_hand: connected with tokens typed in, its own webhook URL | x_not_set_up: no SAC_X_WEBHOOK_ID |
    # never: not tried yet | subscribed | failed
    state: str
    network: str = ""  # "Facebook" or "X", for the reader
    at: datetime | None = None
    kind: str = ""  # failed: refused | unreachable | no_page | token | config
    detail: str = ""

    @property
    def reason(self) -> str:
        """Why it failed, in the reader's language; the network's own message is shown as it wrote it."""
        if self.kind == "unreachable":
            return _("%(network)s could not be reached (%(error)s)") % {"network": self.network,
                                                                        "error": self.detail}
        if self.kind == "no_page":
            return _("the Facebook page linked to this Instagram account is not known; connect it again with "
                     "Connect with Facebook")
        if self.kind == "config":
            return _("SAC_X_WEBHOOK_ID is not an X webhook id (digits only)")
        # The page adds ". Polling carries on.": a network's sentence keeps its words but not its full stop.
        return (stored_text(self.detail) if self.kind == "token" else self.detail).rstrip(". ")


def oauth_connected(channel: ChannelAccount) -> bool:
    return (channel.credentials or {}).get("auth") == "oauth2" and channel.platform in (
        Platform.FACEBOOK, Platform.INSTAGRAM, Platform.X)


def subscription_of(channel: ChannelAccount) -> WebhookSubscription:
    """The channel's webhook subscription as last recorded (a read of the channel already loaded)."""
    network = "X" if channel.platform == Platform.X else "Facebook"
    if not oauth_connected(channel):
        return WebhookSubscription(state="by_hand", network=network)
    if channel.platform == Platform.X and not settings.SAC_X_WEBHOOK_ID:
        return WebhookSubscription(state="x_not_set_up", network=network)
    stored = (channel.credentials or {}).get(STATE_KEY)
    if not isinstance(stored, dict) or not stored.get("at"):
        return WebhookSubscription(state="never", network=network)
    try:
        at: datetime | None = datetime.fromisoformat(str(stored["at"]))
    except ValueError:
        at = None
    if stored.get("ok"):
        return WebhookSubscription(state="subscribed", network=network, at=at)
    return WebhookSubscription(state="failed", network=network, at=at, kind=str(stored.get("kind") or "refused"),
                               detail=str(stored.get("detail") or ""))


def channel_webhooks_subscribe(*, channel: ChannelAccount, actor: Any = None) -> WebhookSubscription:
    """Subscribe the channel's account to the network's webhooks and record the outcome; never raises for what the
    network answers (a failure is recorded and shown, and polling carries on). A channel connected by hand, or an
    X channel on an installation without SAC_X_WEBHOOK_ID, is left as it is."""
    current = subscription_of(channel)
    if current.state in ("by_hand", "x_not_set_up"):
        return current
    if channel.platform == Platform.X:
        kind, detail = _x_subscribe(channel)
    else:
        kind, detail = _meta_subscribe(channel)
    return _outcome_record(channel=channel, actor=actor, kind=kind, detail=detail[:DETAIL_MAX])


def channel_webhooks_subscribe_after_connect(*, channel: ChannelAccount, actor: Any = None) -> None:
    """The subscription at the end of Connect with X / Facebook. The connect has committed by then; whatever goes
    wrong here (beyond the network's answers, which are recorded) is logged, never turned into an error page
    for a connect that worked. The health page then offers Subscribe again."""
    try:
        channel_webhooks_subscribe(channel=channel, actor=actor)
    except Exception:
        log.exception("webhook subscription of channel %s (tenant %s) after its connect failed", channel.pk,
                      channel.tenant_id)


def _failure(exc: ConnectorError | MalformedPayload) -> tuple[str, str]:
    """How a client's error is recorded: the network not reached at all, or what it answered, in its words (an
    answer that is not the network's JSON, say a proxy's error page, included: never a 500 on our side)."""
    if isinstance(exc, TransientError) and isinstance(exc.__cause__, requests.RequestException):
        return ("unreachable", exc.__cause__.__class__.__name__)
    return ("refused", str(exc))


def _meta_subscribe(channel: ChannelAccount) -> tuple[str, str]:
    from .facebook.client import graph_client_for

    credentials = channel.credentials or {}
    page_id = channel.external_account_id if channel.platform == Platform.FACEBOOK else str(
        credentials.get(PAGE_ID_KEY) or "")
    if not page_id:
        return ("no_page", "")
    client = graph_client_for(channel)
    try:
        # Setting the page's fields again is harmless, so a doubtful answer is a plain transient error.
        body = client.post(f"{page_id}/subscribed_apps", {"subscribed_fields": ",".join(META_FIELDS)},
                           safe_to_repeat=True)
    except (ConnectorError, MalformedPayload) as exc:
        return _failure(exc)
    if body.get("success") in (True, "true"):
        return "", ""
    return ("refused", "Facebook answered without success")


def _x_subscribe(channel: ChannelAccount) -> tuple[str, str]:
    from .oauth.services import x_credentials_fresh
    from .x.client import XClient

    webhook_id = settings.SAC_X_WEBHOOK_ID
    if not webhook_id.isdigit():
        return ("config", "")
    try:
        credentials = x_credentials_fresh(channel)  # a refused renewal also marks the channel needs_reauth
    except ConnectorError as exc:
        return ("token", str(exc))
    try:
        subscribed = XClient(credentials=credentials, base_url=channel.api_base_url).account_activity_subscribe(
            webhook_id)
    except (ConnectorError, MalformedPayload) as exc:
        return _failure(exc)
    return ("", "") if subscribed else ("refused", "X answered that the account is not subscribed")


def _outcome_record(*, channel: ChannelAccount, actor: Any, kind: str, detail: str) -> WebhookSubscription:
    ok = not kind
    outcome = {"at": timezone.now().isoformat(), "ok": ok, "kind": kind, "detail": detail}
    with transaction.atomic():
        # Locked as x_credentials_fresh locks it: a token renewal at the same moment must not lose this entry,
        # nor this write the renewed tokens.
        locked = ChannelAccount.objects.select_for_update().get(tenant_id=channel.tenant_id, pk=channel.pk)
        credentials = {**(locked.credentials or {}), STATE_KEY: outcome}
        ChannelAccount.objects.filter(tenant_id=channel.tenant_id, pk=channel.pk).update(credentials=credentials)
        audit_record(tenant=channel.tenant, actor=actor, verb="channel.webhooks_subscribed" if ok
                     else "channel.webhooks_subscribe_failed", obj=channel,
                     data={"platform": channel.platform} if ok else {"platform": channel.platform, "kind": kind,
                                                                      "detail": detail})
    channel.credentials = credentials
    if not ok:
        log.warning("webhook subscription of channel %s (tenant %s, %s) failed: %s %s", channel.pk,
                    channel.tenant_id, channel.platform, kind, detail)
    return subscription_of(channel)


class WebhookRegistrationError(Exception):
    """X did not register the webhook; the message says why, for the operator."""


def x_webhook_register(*, callback_url: str) -> dict[str, Any]:
    """Register the installation's X webhook (``POST /2/webhooks`` ``{"url"}`` with the app's bearer token, X's
    createWebhooks) and return X's webhook config ``{"id", "url", "valid", "created_at"}``. X sends a CRC request
    to the URL before saving it, so /hooks/x/app/ must be reachable and SAC_X_CONSUMER_SECRET set."""
    token = settings.SAC_X_APP_BEARER_TOKEN
    if not token:
        raise WebhookRegistrationError("SAC_X_APP_BEARER_TOKEN is not set: X registers webhooks with the app's bearer "
                                       "token (developer portal, Keys and tokens).")
    if not callback_url.startswith("https://"):
        raise WebhookRegistrationError("X only delivers to an https:// URL.")
    from .x.client import XClient

    try:
        data = XClient(credentials={"bearer_token": token}).webhook_register(callback_url)
    except (ConnectorError, MalformedPayload) as exc:
        kind, detail = _failure(exc)
        if kind == "unreachable":
            raise WebhookRegistrationError(f"X could not be reached ({detail})") from exc
        raise WebhookRegistrationError(f"X refused to register the webhook: {detail}") from exc
    if not str(data.get("id") or "").isdigit():
        raise WebhookRegistrationError(f"X answered without a webhook id: {data}")
    return data
