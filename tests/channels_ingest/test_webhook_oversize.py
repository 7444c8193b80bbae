"""Webhook bodies bigger than we process: a signed one is kept as a dead letter (reason, bounded prefix) and
acknowledged so the network stops retrying; an unsigned one is a 403 with a log line and nothing stored.

Bodies between Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) and our 5 MB limit are ordinary deliveries: reading
request.body would have answered them with a bare 400 (RequestDataTooBig).
"""

import json
import logging

import pytest
from django.conf import settings as django_settings
from django.test import Client

from channels_ingest.models import DeadLetter, Mention, Platform, WebhookDelivery
from channels_ingest.webhooks import MAX_BODY_BYTES

from .test_webhook_tenancy import X_A, comment_entry, fb_post, meta_channel, x_activity, x_channel, x_post
from .test_webhooks import FEED_PAGE

TEXT = "Minha fibra caiu de novo"


def padded(shared_dir, size: int) -> bytes:
    entry = comment_entry(shared_dir, FEED_PAGE, TEXT, "1")
    entry["changes"][0]["value"]["padding"] = ""
    body = json.dumps({"object": "page", "entry": [entry]}).encode()
    entry["changes"][0]["value"]["padding"] = "x" * (size - len(body))
    return json.dumps({"object": "page", "entry": [entry]}).encode()


@pytest.mark.django_db
def test_it_keeps_a_signed_body_over_the_limit_as_a_dead_letter_and_acknowledges_it(
        kit_a, shared_dir, django_capture_on_commit_callbacks):
    channel = meta_channel(kit_a.tenant, Platform.FACEBOOK, FEED_PAGE, secret="secret-of-a")
    body = padded(shared_dir, MAX_BODY_BYTES + 1024)
    with django_capture_on_commit_callbacks(execute=True):
        response = fb_post(channel, body, secret="secret-of-a")
    assert response.status_code == 200
    letter = DeadLetter.objects.get(tenant=kit_a.tenant, channel=channel)
    assert letter.source == "webhook-body" and f"{len(body)} bytes" in letter.reason
    assert letter.payload == body[:100_000].decode()
    assert not WebhookDelivery.objects.exists() and not Mention.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("signature", ["", "sha256=" + "0" * 64])
def test_an_unsigned_body_over_the_limit_is_refused_and_nothing_is_stored(kit_a, shared_dir, caplog, signature):
    channel = meta_channel(kit_a.tenant, Platform.FACEBOOK, FEED_PAGE, secret="secret-of-a")
    body = padded(shared_dir, MAX_BODY_BYTES + 1024)
    with caplog.at_level(logging.WARNING, logger="channels_ingest.webhooks"):
        response = Client().post(f"/hooks/facebook/{channel.webhook_key}/", body, content_type="application/json",
                                 HTTP_X_HUB_SIGNATURE_256=signature)
    assert response.status_code == 403 and "webhook refused" in caplog.text
    assert not DeadLetter.objects.exists() and not WebhookDelivery.objects.exists()


@pytest.mark.django_db
def test_a_signed_body_above_djangos_upload_limit_but_within_ours_is_an_ordinary_delivery(
        kit_a, shared_dir, django_capture_on_commit_callbacks):
    assert django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE < 3 * 1024 * 1024 < MAX_BODY_BYTES
    channel = meta_channel(kit_a.tenant, Platform.FACEBOOK, FEED_PAGE, secret="secret-of-a")
    body = padded(shared_dir, 3 * 1024 * 1024)
    with django_capture_on_commit_callbacks(execute=True):
        assert fb_post(channel, body, secret="secret-of-a").status_code == 200
    assert bytes(WebhookDelivery.objects.get(channel=channel).body) == body
    assert Mention.objects.get(channel=channel).text == TEXT


@pytest.mark.django_db
def test_an_oversize_body_signed_with_a_secret_other_tenants_share_keeps_only_its_size(
        kit_a, kit_b, shared_dir, django_capture_on_commit_callbacks):
    channel = meta_channel(kit_a.tenant, Platform.FACEBOOK, FEED_PAGE)
    meta_channel(kit_b.tenant, Platform.FACEBOOK, "222333444555666")  # the installation's app secret, too
    body = padded(shared_dir, MAX_BODY_BYTES + 1024)
    assert fb_post(channel, body).status_code == 200
    letter = DeadLetter.objects.get(tenant=kit_a.tenant, channel=channel)
    assert "shared with other tenants" in letter.reason and json.loads(letter.payload) == {"bytes": len(body)}
    assert TEXT not in letter.payload


@pytest.mark.django_db
def test_x_signed_body_over_the_limit_is_dead_lettered_and_acknowledged(kit_a):
    channel = x_channel(kit_a.tenant, X_A, {"consumer_key": "k", "consumer_secret": "x-secret-of-a"})
    body = x_activity(X_A, TEXT + " " + "y" * MAX_BODY_BYTES)
    assert x_post(channel, body, "wrong").status_code == 403
    assert not DeadLetter.objects.exists()
    assert x_post(channel, body, "x-secret-of-a").status_code == 200
    letter = DeadLetter.objects.get(tenant=kit_a.tenant, channel=channel)
    assert len(letter.payload) == 100_000 and not WebhookDelivery.objects.exists()
