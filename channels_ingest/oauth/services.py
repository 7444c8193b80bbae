"""Writes of the OAuth flows: connect (or reconnect) a channel, renew an X access token before use."""

import logging
import secrets
import time
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from channels_ingest.errors import AuthError
from channels_ingest.models import ChannelAccount, Platform
from sac.models import Tenant
from sac.services import audit_record

from . import x

log = logging.getLogger(__name__)

# Renew a little before X's 2 hours are up, so a token never expires in the middle of a poll's pages.
REFRESH_MARGIN_SECONDS = 120


@transaction.atomic
def channel_oauth_connect(*, tenant: Tenant, actor: Any, platform: str, external_account_id: str, name: str,
                          handle: str, api_base_url: str, credentials: dict[str, Any]) -> tuple[ChannelAccount, bool]:
    """Create the channel, or, when this account is already connected in the tenant, give it the new tokens and
    resume polling (the reconnect of a needs_reauth channel). Returns (channel, created)."""
    channel = (ChannelAccount.objects.select_for_update()
               .filter(tenant=tenant, platform=platform, external_account_id=external_account_id).first())
    if channel is None:
        if platform in (Platform.FACEBOOK, Platform.INSTAGRAM):
            # The token Meta echoes when the admin subscribes the webhook; kept as is on a reconnect.
            credentials = {"verify_token": secrets.token_urlsafe(16), **credentials}
        channel = ChannelAccount.objects.create(
            tenant=tenant, platform=platform, name=name, external_account_id=external_account_id, handle=handle,
            api_base_url=api_base_url, credentials=credentials, next_poll_at=timezone.now(),
            poll_interval_seconds=settings.SAC_POLL_INTERVAL_SECONDS, webhook_key=secrets.token_urlsafe(32),
        )
        audit_record(tenant=tenant, actor=actor, verb="channel.created", obj=channel,
                     data={"platform": platform, "via": "oauth"})
        return channel, True
    # Keep what the admin set up on the channel (webhook secrets, verify token), replace the tokens.
    channel.credentials = {**(channel.credentials or {}), **credentials}
    channel.status, channel.status_detail = ChannelAccount.Status.ACTIVE, ""
    channel.api_base_url, channel.next_poll_at = api_base_url, timezone.now()
    if handle:
        channel.handle = handle
    channel.save(update_fields=["credentials", "status", "status_detail", "api_base_url", "next_poll_at", "handle"])
    audit_record(tenant=tenant, actor=actor, verb="channel.reconnected", obj=channel,
                 data={"platform": platform, "via": "oauth"})
    return channel, False


def _expiring(credentials: dict[str, Any]) -> bool:
    return int(credentials.get("expires_at") or 0) - time.time() < REFRESH_MARGIN_SECONDS


def x_credentials_fresh(channel: ChannelAccount) -> dict[str, Any]:
    """The channel's X credentials, with the OAuth 2.0 access token renewed first when it has (nearly) expired.

    The row is locked while renewing: X rotates refresh tokens, so a poll and an outbound reply renewing at the
    same moment with the same refresh token would see the second one refused and the channel wrongly marked
    needs_reauth. The second waits for the lock and finds fresh tokens. The token call has a timeout.
    """
    credentials = dict(channel.credentials or {})
    if credentials.get("auth") != "oauth2" or not _expiring(credentials):
        return credentials
    refused: AuthError | None = None
    with transaction.atomic():
        locked = ChannelAccount.objects.select_for_update().get(tenant_id=channel.tenant_id, pk=channel.pk)
        credentials = dict(locked.credentials or {})
        if _expiring(credentials):
            try:
                if not credentials.get("refresh_token"):
                    raise AuthError("The X access token expired and there is no refresh token: connect the X "
                                    "account again.")
                tokens = x.refresh(credentials["refresh_token"])
            except AuthError as exc:
                refused = exc
            else:
                credentials = {**credentials, **tokens.credentials()}
                ChannelAccount.objects.filter(tenant_id=channel.tenant_id, pk=channel.pk).update(
                    credentials=credentials)
    if refused is not None:
        channel_needs_reauth(channel=channel, reason=str(refused))
        raise refused
    channel.credentials = credentials
    return credentials


@transaction.atomic
def channel_needs_reauth(*, channel: ChannelAccount, reason: str) -> None:
    """Stop polling and tell the tenant's admins (the channel list shows it with a Reconnect button)."""
    changed = ChannelAccount.objects.filter(tenant_id=channel.tenant_id, pk=channel.pk).exclude(
        status=ChannelAccount.Status.NEEDS_REAUTH).update(status=ChannelAccount.Status.NEEDS_REAUTH,
                                                          status_detail=reason)
    if changed:
        log.warning("channel %s of tenant %s needs re-authorisation: %s", channel.pk, channel.tenant_id, reason)
        audit_record(tenant=channel.tenant, actor=None, verb="channel.needs_reauth", obj=channel,
                     data={"reason": reason})
    channel.status, channel.status_detail = ChannelAccount.Status.NEEDS_REAUTH, reason
