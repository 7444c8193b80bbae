"""Webhook endpoints (/hooks/…): verify, store raw, acknowledge. Parsing happens later in a task.

The URL names the channel by an unguessable key, never by id; the signature (the channel's app secret or
consumer secret) is what makes a delivery trusted. Anything unsigned or wrongly signed is refused with a 403
and a log line, and nothing of it is stored or read. A signed body too big to process is kept as a dead letter
and acknowledged (a refusal would only make the network send it again, forever).

Channels connected with OAuth receive theirs at the app's one callback URL instead (/hooks/meta/, /hooks/x/app/,
at the end of this module), verified with the installation's secret.
"""

import hashlib
import hmac
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .facebook import webhook as meta_webhook
from .models import ChannelAccount, Platform
from .services import channels_verified_by, webhook_delivery_store, webhook_oversize_record
from .x import webhook as x_webhook

log = logging.getLogger(__name__)

# Meta sends at most a few MB; anything larger is not a webhook we can process (it is dead-lettered if signed).
MAX_BODY_BYTES = 5 * 1024 * 1024
# Beyond this the body is refused unread: checking its signature would mean hashing whatever a stranger sends.
MAX_READ_BYTES = 64 * 1024 * 1024
READ_CHUNK = 64 * 1024


def _channel(platforms: tuple[str, ...], webhook_key: str) -> ChannelAccount:
    return get_object_or_404(ChannelAccount.objects.select_related("tenant"), platform__in=platforms,
                             webhook_key=webhook_key, webhook_key__gt="")


def _refuse(channel: ChannelAccount, request: HttpRequest, why: str) -> HttpResponse:
    log.warning("webhook refused tenant=%s channel=%s platform=%s from=%s: %s", channel.tenant_id, channel.pk,
                channel.platform, request.META.get("REMOTE_ADDR"), why)
    return HttpResponseForbidden(why)


def _read_signed(request: HttpRequest, secret: str) -> tuple[bytes, int, bytes]:
    """(the body up to MAX_BODY_BYTES + 1 bytes, its full size, HMAC-SHA256 of all of it with `secret`).

    Not request.body: that raises RequestDataTooBig (a SuspiciousOperation, so a bare 400) once the body passes
    DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB by default; "the check is done when accessing request.body or
    request.POST", Django settings reference), before we could tell whether the network signed it. Reading the
    stream ourselves keeps memory bounded and hashes the whole body, so a big signed body is still recognised.
    """
    mac = hmac.new(secret.encode(), digestmod=hashlib.sha256)
    kept = bytearray()
    size = 0
    while chunk := request.read(READ_CHUNK):
        mac.update(chunk)
        size += len(chunk)
        if len(kept) <= MAX_BODY_BYTES:
            kept += chunk[: MAX_BODY_BYTES + 1 - len(kept)]
    return bytes(kept), size, mac.digest()


def _declared_length(request: HttpRequest) -> int:
    # A Content-Length that is not a number: Django reads no body for it either, so the signature check fails.
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


def _verified(request: HttpRequest, *, secret: str, whose: str, header_name: str,
              digest_matches: Callable[[bytes, str | None], bool]) -> tuple[bytes, int] | str:
    """(the body as kept, its full size) of a delivery correctly signed with `secret`; else why it is refused.
    Nothing of the body is read, beyond hashing it, before the signature is known to be right."""
    if not secret:
        return f"{whose} has no secret to verify webhooks with"
    declared = _declared_length(request)
    if declared > MAX_READ_BYTES:
        return f"body of {declared} bytes is larger than any webhook we read"
    body, size, digest = _read_signed(request, secret)
    if not digest_matches(digest, request.headers.get(header_name)):
        return f"missing or wrong {header_name}"
    return body, size


def _receive(request: HttpRequest, channel: ChannelAccount, *, secret: str, header_name: str,
             digest_matches: Callable[[bytes, str | None], bool], ack: HttpResponse) -> HttpResponse:
    verified = _verified(request, secret=secret, whose="the channel", header_name=header_name,
                         digest_matches=digest_matches)
    if isinstance(verified, str):
        return _refuse(channel, request, verified)
    body, size = verified
    if size > MAX_BODY_BYTES:
        # Really from the network: keep it for a human (reason and a bounded prefix) and acknowledge it.
        webhook_oversize_record(channel=channel, size=size, limit=MAX_BODY_BYTES, prefix=body)
        return ack
    webhook_delivery_store(channel=channel, body=body)
    return ack


def _meta_hook(request: HttpRequest, webhook_key: str, platform: str) -> HttpResponse:
    channel = _channel((platform,), webhook_key)
    credentials = channel.credentials or {}
    if request.method == "GET":
        challenge = meta_webhook.subscription_challenge(request.GET, verify_token=credentials.get("verify_token", ""))
        if challenge is None:
            return _refuse(channel, request, "verify token does not match")
        return HttpResponse(challenge, content_type="text/plain")
    return _receive(request, channel, secret=meta_webhook.verifying_secret(credentials),
                    header_name=meta_webhook.SIGNATURE_HEADER, digest_matches=meta_webhook.digest_matches,
                    ack=HttpResponse("EVENT_RECEIVED", content_type="text/plain"))


@csrf_exempt
@require_http_methods(["GET", "POST"])
def facebook_hook(request: HttpRequest, webhook_key: str) -> HttpResponse:
    return _meta_hook(request, webhook_key, Platform.FACEBOOK)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def instagram_hook(request: HttpRequest, webhook_key: str) -> HttpResponse:
    return _meta_hook(request, webhook_key, Platform.INSTAGRAM)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def x_hook(request: HttpRequest, webhook_key: str) -> HttpResponse:
    channel = _channel((Platform.X, Platform.SIMULATOR), webhook_key)
    secret = x_webhook.verifying_secret(channel.credentials or {})
    if request.method == "GET":
        token = request.GET.get("crc_token")
        if not token or not secret:
            return _refuse(channel, request, "no crc_token, or the channel has no consumer secret")
        return JsonResponse(x_webhook.crc_response(consumer_secret=secret, crc_token=token))
    return _receive(request, channel, secret=secret, header_name=x_webhook.SIGNATURE_HEADER,
                    digest_matches=x_webhook.digest_matches, ack=HttpResponse(status=200))


# ---------------------------------------------------------------- the app's one callback URL

# A Meta app and an X app each have ONE callback URL, not one per channel, so the channels connected with OAuth
# (which share the installation's app secret / consumer secret) receive their events here. Each account's part of
# a delivery is stored at once as a delivery of every channel, of whichever tenant, that has that account and is
# verified by this secret: so each tenant's part waits in that tenant's own backlog (its drain, sac/queueing.py),
# never behind another tenant's flood, and a page two tenants connected reaches both. The body is parsed here (only
# after its signature is checked) to split it by account; nothing of the entries is read beyond their ids.


def _refuse_app(request: HttpRequest, endpoint: str, why: str) -> HttpResponse:
    log.warning("webhook refused endpoint=%s from=%s: %s", endpoint, request.META.get("REMOTE_ADDR"), why)
    return HttpResponseForbidden(why)


def _receive_for_app(request: HttpRequest, endpoint: str, *, secret: str, header_name: str,
                     digest_matches: Callable[[bytes, str | None], bool], store: Callable[[bytes], int],
                     ack: HttpResponse) -> HttpResponse:
    verified = _verified(request, secret=secret, whose="the installation", header_name=header_name,
                         digest_matches=digest_matches)
    if isinstance(verified, str):
        return _refuse_app(request, endpoint, verified)
    body, size = verified
    if size > MAX_BODY_BYTES:
        # Signed by the app, but a truncated body names no account we could trust, so no tenant to keep it for.
        log.error("webhook endpoint=%s: signed body of %s bytes is larger than the %s bytes we process; not kept "
                  "(the channels' polling catches up on what it carried)", endpoint, size, MAX_BODY_BYTES)
        return ack
    if not store(body):
        log.warning("webhook endpoint=%s: signed delivery of %s bytes names no account a channel on this "
                    "installation has (with this app); nothing kept", endpoint, size)
    return ack


def _meta_store(body: bytes) -> int:
    """Store each account's entries for that account's channels; how many deliveries were stored."""
    envelope = meta_webhook.envelope_read(body)
    if envelope is None:
        return 0
    obj = str(envelope.get("object") or "")
    platform = next((p for p, o in meta_webhook.OBJECTS.items() if o == obj), None)
    if platform is None:
        log.warning("webhook endpoint=meta: object %r is not one SAC subscribes to", obj)
        return 0
    by_account: dict[str, list[Any]] = {}
    for entry in envelope["entry"]:
        if isinstance(entry, dict):
            by_account.setdefault(str(entry.get("id") or ""), []).append(entry)
    channels = channels_verified_by((platform,), list(by_account), settings.SAC_FACEBOOK_APP_SECRET)
    stored = 0
    for account, targets in channels.items():
        # One account's delivery is kept byte for byte as received; a batch is split like routing splits it.
        part = body if len(by_account) == 1 else meta_webhook.envelope_body(obj, by_account[account], like=envelope)
        for channel in targets:
            webhook_delivery_store(channel=channel, body=part)
            stored += 1
    if stored and len(channels) < len(by_account):
        log.warning("webhook endpoint=meta: entries for %s accounts no channel has (with this app) were not kept",
                    len(by_account) - len(channels))
    return stored


@csrf_exempt
@require_http_methods(["GET", "POST"])
def meta_app_hook(request: HttpRequest) -> HttpResponse:
    """The Meta app's callback URL: `page` (Facebook pages) and `instagram` deliveries of every OAuth channel."""
    if request.method == "GET":
        challenge = meta_webhook.subscription_challenge(request.GET,
                                                        verify_token=settings.SAC_FACEBOOK_WEBHOOK_VERIFY_TOKEN)
        if challenge is None:
            return _refuse_app(request, "meta", "verify token does not match (SAC_FACEBOOK_WEBHOOK_VERIFY_TOKEN)")
        return HttpResponse(challenge, content_type="text/plain")
    return _receive_for_app(request, "meta", secret=settings.SAC_FACEBOOK_APP_SECRET,
                            header_name=meta_webhook.SIGNATURE_HEADER, digest_matches=meta_webhook.digest_matches,
                            store=_meta_store, ack=HttpResponse("EVENT_RECEIVED", content_type="text/plain"))


def _x_store(body: bytes) -> int:
    """An X delivery is for one subscribed user (`for_user_id`): stored for that account's channels."""
    account = x_webhook.for_user(body)
    targets = channels_verified_by((Platform.X, Platform.SIMULATOR), [account or ""],
                                   settings.SAC_X_CONSUMER_SECRET).get(account or "", [])
    for channel in targets:
        webhook_delivery_store(channel=channel, body=body)
    return len(targets)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def x_app_hook(request: HttpRequest) -> HttpResponse:
    """The X app's webhook (manage.py x_webhook_register): CRC and deliveries for every subscribed X account."""
    secret = settings.SAC_X_CONSUMER_SECRET
    if request.method == "GET":
        token = request.GET.get("crc_token")
        if not token or not secret:
            return _refuse_app(request, "x", "no crc_token, or SAC_X_CONSUMER_SECRET is not set")
        return JsonResponse(x_webhook.crc_response(consumer_secret=secret, crc_token=token))
    return _receive_for_app(request, "x", secret=secret, header_name=x_webhook.SIGNATURE_HEADER,
                            digest_matches=x_webhook.digest_matches, store=_x_store,
                            ack=HttpResponse(status=200))
