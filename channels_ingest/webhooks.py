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
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .facebook import webhook as meta_webhook
from .models import ChannelAccount, Platform
from .services import webhook_delivery_store, webhook_oversize_record
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


def _receive(request: HttpRequest, channel: ChannelAccount, *, secret: str, header_name: str,
             digest_matches: Callable[[bytes, str | None], bool], ack: HttpResponse) -> HttpResponse:
    if not secret:
        return _refuse(channel, request, "the channel has no secret to verify webhooks with")
    declared = int(request.META.get("CONTENT_LENGTH") or 0)
    if declared > MAX_READ_BYTES:
        return _refuse(channel, request, f"body of {declared} bytes is larger than any webhook we read")
    body, size, digest = _read_signed(request, secret)
    if not digest_matches(digest, request.headers.get(header_name)):
        return _refuse(channel, request, f"missing or wrong {header_name}")
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
# (which share the installation's app secret / consumer secret) receive their events here. The body is stored as
# the delivery of one channel it names, of whichever tenant; processing (services._webhook_route) then hands every
# other account's entries to that account's own channel, as for a delivery to a per-channel URL. Nothing here
# reads more than the account ids, so the network still gets its answer in a few milliseconds.

# Account ids looked up per delivery: Meta batches up to ~1000 entries, mostly of few pages.
MAX_ACCOUNTS_LOOKED_UP = 50


def _refuse_app(request: HttpRequest, endpoint: str, why: str) -> HttpResponse:
    log.warning("webhook refused endpoint=%s from=%s: %s", endpoint, request.META.get("REMOTE_ADDR"), why)
    return HttpResponseForbidden(why)


def _app_channel(platforms: tuple[str, ...], account_ids: list[str], secret: str,
                 verifying_secret: Callable[[Mapping[str, Any]], str]) -> ChannelAccount | None:
    """The channel, of any tenant, that keeps a delivery naming these accounts: the first account (in the body's
    order) with a channel whose own endpoint would have accepted the delivery (its verifying secret is the one
    that verified it), the oldest such channel. Across tenants on purpose, like the webhook key lookup: the
    delivery names the account, the signature proves it came from the app those channels were connected with."""
    ids = list(dict.fromkeys(a for a in account_ids if a))[:MAX_ACCOUNTS_LOOKED_UP]
    if not ids:
        return None
    rank = {account: i for i, account in enumerate(ids)}
    candidates = sorted(ChannelAccount.objects.select_related("tenant")
                        .filter(platform__in=platforms, external_account_id__in=ids),
                        key=lambda c: (rank[c.external_account_id], c.pk))
    return next((c for c in candidates
                 if hmac.compare_digest(verifying_secret(c.credentials or {}).encode(), secret.encode())), None)


def _receive_for_app(request: HttpRequest, endpoint: str, *, secret: str, header_name: str,
                     digest_matches: Callable[[bytes, str | None], bool],
                     channel_for: Callable[[bytes], ChannelAccount | None], ack: HttpResponse) -> HttpResponse:
    if not secret:
        return _refuse_app(request, endpoint, "the installation has no secret to verify webhooks with")
    declared = int(request.META.get("CONTENT_LENGTH") or 0)
    if declared > MAX_READ_BYTES:
        return _refuse_app(request, endpoint, f"body of {declared} bytes is larger than any webhook we read")
    body, size, digest = _read_signed(request, secret)
    if not digest_matches(digest, request.headers.get(header_name)):
        return _refuse_app(request, endpoint, f"missing or wrong {header_name}")
    if size > MAX_BODY_BYTES:
        # Signed by the app, but a truncated body names no account we could trust, so no tenant to keep it for.
        log.error("webhook endpoint=%s: signed body of %s bytes is larger than the %s bytes we process; not kept "
                  "(the channels' polling catches up on what it carried)", endpoint, size, MAX_BODY_BYTES)
        return ack
    channel = channel_for(body)
    if channel is None:
        log.warning("webhook endpoint=%s: signed delivery of %s bytes names no account a channel on this "
                    "installation has (with this app); nothing kept", endpoint, size)
        return ack
    webhook_delivery_store(channel=channel, body=body)
    return ack


def _meta_accounts(body: bytes) -> tuple[str, list[str]]:
    """(the envelope's object, its entries' account ids); ("", []) for a body that is not Meta's envelope."""
    try:
        envelope = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return "", []
    if not isinstance(envelope, dict) or not isinstance(envelope.get("entry"), list):
        return "", []
    ids = [str(e.get("id") or "") for e in envelope["entry"] if isinstance(e, dict)]
    return str(envelope.get("object") or ""), ids


def _meta_channel(body: bytes) -> ChannelAccount | None:
    obj, ids = _meta_accounts(body)
    platform = next((p for p, o in meta_webhook.OBJECTS.items() if o == obj), None)
    if platform is None:
        if obj:
            log.warning("webhook endpoint=meta: object %r is not one SAC subscribes to", obj)
        return None
    return _app_channel((platform,), ids, settings.SAC_FACEBOOK_APP_SECRET, meta_webhook.verifying_secret)


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
                            channel_for=_meta_channel, ack=HttpResponse("EVENT_RECEIVED", content_type="text/plain"))


def _x_channel(body: bytes) -> ChannelAccount | None:
    account = x_webhook.for_user(body)
    return _app_channel((Platform.X, Platform.SIMULATOR), [account or ""], settings.SAC_X_CONSUMER_SECRET,
                        x_webhook.verifying_secret)


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
                            digest_matches=x_webhook.digest_matches, channel_for=_x_channel,
                            ack=HttpResponse(status=200))
