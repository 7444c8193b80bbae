"""Webhook endpoints (/hooks/…): verify, store raw, acknowledge. Parsing happens later in a task.

The URL names the channel by an unguessable key, never by id; the signature (the channel's app secret or
consumer secret) is what makes a delivery trusted. Anything unsigned or wrongly signed is refused with a 403
and a log line, and nothing of it is stored or read.
"""

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .facebook import webhook as meta_webhook
from .models import ChannelAccount, Platform
from .services import webhook_delivery_store
from .x import webhook as x_webhook

log = logging.getLogger(__name__)

# Meta sends at most a few MB; anything larger is not a webhook we asked for.
MAX_BODY_BYTES = 5 * 1024 * 1024


def _channel(platforms: tuple[str, ...], webhook_key: str) -> ChannelAccount:
    return get_object_or_404(ChannelAccount.objects.select_related("tenant"), platform__in=platforms,
                             webhook_key=webhook_key, webhook_key__gt="")


def _refuse(channel: ChannelAccount, request: HttpRequest, why: str) -> HttpResponse:
    log.warning("webhook refused tenant=%s channel=%s platform=%s from=%s: %s", channel.tenant_id, channel.pk,
                channel.platform, request.META.get("REMOTE_ADDR"), why)
    return HttpResponseForbidden(why)


def _meta_hook(request: HttpRequest, webhook_key: str, platform: str) -> HttpResponse:
    channel = _channel((platform,), webhook_key)
    credentials = channel.credentials or {}
    if request.method == "GET":
        challenge = meta_webhook.subscription_challenge(request.GET, verify_token=credentials.get("verify_token", ""))
        if challenge is None:
            return _refuse(channel, request, "verify token does not match")
        return HttpResponse(challenge, content_type="text/plain")
    body = request.body
    if len(body) > MAX_BODY_BYTES:
        return _refuse(channel, request, f"body of {len(body)} bytes is larger than any webhook we accept")
    header = request.headers.get(meta_webhook.SIGNATURE_HEADER)
    if not meta_webhook.signature_valid(app_secret=credentials.get("app_secret", ""), body=body, header=header):
        return _refuse(channel, request, "missing or wrong X-Hub-Signature-256")
    webhook_delivery_store(channel=channel, body=body)
    return HttpResponse("EVENT_RECEIVED", content_type="text/plain")


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
    # A channel connected by hand carries its app's secret; one connected with OAuth 2.0 uses the installation's.
    secret = (channel.credentials or {}).get("consumer_secret", "") or settings.SAC_X_CONSUMER_SECRET
    if request.method == "GET":
        token = request.GET.get("crc_token")
        if not token or not secret:
            return _refuse(channel, request, "no crc_token, or the channel has no consumer secret")
        return JsonResponse(x_webhook.crc_response(consumer_secret=secret, crc_token=token))
    body = request.body
    if len(body) > MAX_BODY_BYTES:
        return _refuse(channel, request, f"body of {len(body)} bytes is larger than any webhook we accept")
    header = request.headers.get(x_webhook.SIGNATURE_HEADER)
    if not x_webhook.signature_valid(consumer_secret=secret, body=body, header=header):
        return _refuse(channel, request, "missing or wrong x-twitter-webhooks-signature")
    webhook_delivery_store(channel=channel, body=body)
    return HttpResponse(status=200)
