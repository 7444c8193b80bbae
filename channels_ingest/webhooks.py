"""Webhook endpoints (/hooks/…): verify, store raw, acknowledge. Parsing happens later in a task.

The URL names the channel by an unguessable key, never by id; the signature (the channel's app secret or
consumer secret) is what makes a delivery trusted. Anything unsigned or wrongly signed is refused with a 403
and a log line, and nothing of it is stored or read. A signed body too big to process is kept as a dead letter
and acknowledged (a refusal would only make the network send it again, forever).
"""

import hashlib
import hmac
import logging
from collections.abc import Callable

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
