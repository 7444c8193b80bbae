"""Webhooks never put one tenant's data in another tenant's space.

Meta and X send every event of an app to the one callback URL the app has, and channels connected with OAuth share
the installation's secret: a correctly signed delivery to tenant A's channel can carry tenant B's customers. Those
events go to B's channel (same platform, same account id, same verifying secret) and are processed there; events
of an account no channel has leave only their metadata behind. Also: another tenant's secret, verify token or id
opens nothing of this one's.

The Facebook comment is the recorded `commentAdd` change in ../shared/fixtures/facebook/webhooks. The Instagram
and X Account Activity payloads are written from the platforms' references (no recording exists in ../shared):
https://developers.facebook.com/docs/instagram-platform/webhooks/examples (entry[].changes[] field "comments")
and https://docs.x.com/x-api/enterprise-gnip-2.0/fundamentals/account-activity (`for_user_id`,
tweet_create_events of v1.1 statuses).
"""

import copy
import json
import logging

import pytest
from django.test import Client

from channels_ingest import tasks
from channels_ingest.models import DeadLetter, Mention, Platform, WebhookDelivery
from channels_ingest.services import channel_create
from inbox.models import Case

from ..conftest import login
from .test_webhooks import FEED_PAGE, ig_body, shared_json, sign, x_sign

PAGE_B = "222333444555666"
PAGE_NOBODY = "999888777666555"
APP_SECRET = "installation-app-secret"  # what Connect with Facebook copies into every channel it connects
A_TEXT = "Minha fibra caiu de novo"
B_TEXT = "Cartão bloqueado, CPF 123.456.789-09"


def meta_channel(tenant, platform, account, secret=APP_SECRET, verify_token="vt-a"):
    return channel_create(tenant=tenant, platform=platform, name=f"{platform} {account}", external_account_id=account,
                          credentials={"auth": "oauth2", "page_access_token": "t", "access_token": "t",
                                       "app_secret": secret, "verify_token": verify_token})


def comment_entry(shared_dir, page_id, text, comment_id):
    change = copy.deepcopy(shared_json(shared_dir, "feed_webhook_changes.json")["changes"]["commentAdd"])
    change["value"].update(message=text, comment_id=f"{page_id}_{comment_id}", post_id=f"{page_id}_1")
    return {"id": page_id, "time": 1511951015, "changes": [change]}


def fb_post(channel, body, secret=APP_SECRET, platform="facebook"):
    return Client().post(f"/hooks/{platform}/{channel.webhook_key}/", body, content_type="application/json",
                         HTTP_X_HUB_SIGNATURE_256=sign(body, secret))


def stored_in(tenant) -> str:
    """Everything of a tenant where a customer's text could end up: mentions, dead letters, raw deliveries."""
    rows = [m.text + json.dumps(m.raw) for m in Mention.objects.filter(tenant=tenant)]
    rows += [d.reason + d.payload for d in DeadLetter.objects.filter(tenant=tenant)]
    rows += [bytes(d.body).decode() for d in WebhookDelivery.objects.filter(tenant=tenant)]
    return "\n".join(rows)


# ---------------------------------------------------------------- routing: Facebook, Instagram, X

@pytest.mark.django_db
def test_it_routes_another_tenants_page_entry_to_that_tenants_channel(kit_a, kit_b, shared_dir,
                                                                      django_capture_on_commit_callbacks):
    channel_a = meta_channel(kit_a.tenant, Platform.FACEBOOK, FEED_PAGE)
    channel_b = meta_channel(kit_b.tenant, Platform.FACEBOOK, PAGE_B, verify_token="vt-b")
    body = json.dumps({"object": "page", "entry": [comment_entry(shared_dir, FEED_PAGE, A_TEXT, "1"),
                                                   comment_entry(shared_dir, PAGE_B, B_TEXT, "2")]}).encode()
    with django_capture_on_commit_callbacks(execute=True):
        assert fb_post(channel_a, body).status_code == 200

    assert list(Mention.objects.filter(tenant=kit_a.tenant, channel=channel_a).values_list("text", flat=True)) == [
        A_TEXT]
    mention_b = Mention.objects.get(channel=channel_b)
    assert mention_b.tenant == kit_b.tenant and mention_b.text == B_TEXT
    routed = WebhookDelivery.objects.get(channel=channel_b)
    assert routed.tenant == kit_b.tenant and routed.processed_at is not None
    assert [e["id"] for e in json.loads(bytes(routed.body))["entry"]] == [PAGE_B]
    assert B_TEXT not in stored_in(kit_a.tenant)
    assert not DeadLetter.objects.exists()
    # B's customer is in B's inbox, and nowhere A's people look.
    assert B_TEXT not in login(kit_a.admin).get(f"/t/acme/channels/{channel_a.pk}/").content.decode()
    assert login(kit_a.admin).get(f"/t/acme/channels/{channel_b.pk}/").status_code == 404
    case_b = Case.objects.get(tenant=kit_b.tenant, case_mentions__mention=mention_b)
    assert B_TEXT in login(kit_b.agent).get(f"/t/beta/cases/{case_b.pk}/").content.decode()
    assert login(kit_a.agent).get(f"/t/acme/cases/{case_b.pk}/").status_code == 404
    assert not Case.objects.filter(tenant=kit_a.tenant, case_mentions__mention__text=B_TEXT).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("b_secret", [None, "a-different-app-secret"])
def test_it_keeps_only_metadata_of_an_entry_no_channel_with_this_app_has(kit_a, kit_b, shared_dir, caplog, b_secret,
                                                                         django_capture_on_commit_callbacks):
    channel_a = meta_channel(kit_a.tenant, Platform.FACEBOOK, FEED_PAGE)
    if b_secret:  # B has the page, but with another app: this delivery could not have been meant for it
        meta_channel(kit_b.tenant, Platform.FACEBOOK, PAGE_NOBODY, secret=b_secret)
    body = json.dumps({"object": "page", "entry": [comment_entry(shared_dir, PAGE_NOBODY, B_TEXT, "3")]}).encode()
    with caplog.at_level(logging.WARNING, logger="channels_ingest.services"), \
            django_capture_on_commit_callbacks(execute=True):
        assert fb_post(channel_a, body).status_code == 200

    letter = DeadLetter.objects.get(tenant=kit_a.tenant, channel=channel_a)
    assert PAGE_NOBODY in letter.reason and "no channel on this installation (with this app)" in letter.reason
    assert json.loads(letter.payload) == {"account_id": PAGE_NOBODY, "time": 1511951015, "events": 1,
                                          "fields": ["feed"]}
    assert B_TEXT not in stored_in(kit_a.tenant) and not Mention.objects.exists()
    assert not WebhookDelivery.objects.filter(tenant=kit_b.tenant).exists()
    assert PAGE_NOBODY in caplog.text
    page = login(kit_a.admin).get(f"/t/acme/channels/{channel_a.pk}/").content.decode()
    assert PAGE_NOBODY in page and B_TEXT not in page


@pytest.mark.django_db
def test_it_routes_instagram_entries_by_account_and_keeps_unknown_ones_as_metadata(
        kit_a, kit_b, django_capture_on_commit_callbacks):
    from .test_webhooks import IG_ACCOUNT

    ig_a = meta_channel(kit_a.tenant, Platform.INSTAGRAM, "17841400000000001")
    ig_b = meta_channel(kit_b.tenant, Platform.INSTAGRAM, IG_ACCOUNT)
    for_b = ig_body("17865799348089039", B_TEXT)
    with django_capture_on_commit_callbacks(execute=True):
        assert fb_post(ig_a, for_b, platform="instagram").status_code == 200
    mention_b = Mention.objects.get(channel=ig_b)
    assert mention_b.tenant == kit_b.tenant and mention_b.text == B_TEXT
    assert B_TEXT not in stored_in(kit_a.tenant) and not DeadLetter.objects.exists()

    ig_b.external_account_id = "17841400000000009"  # B now has another account: nobody has this one
    ig_b.save(update_fields=["external_account_id"])
    with django_capture_on_commit_callbacks(execute=True):
        assert fb_post(ig_a, ig_body("17865799348089040", B_TEXT + " 2"), platform="instagram").status_code == 200
    letter = DeadLetter.objects.get(tenant=kit_a.tenant)
    assert IG_ACCOUNT in letter.reason and json.loads(letter.payload)["fields"] == ["comments"]
    assert B_TEXT not in stored_in(kit_a.tenant)


X_A, X_B = "1600000000000000001", "1600000000000000002"


def x_activity(for_user: str, text: str) -> bytes:
    return json.dumps({"for_user_id": for_user, "tweet_create_events": [{
        "created_at": "Mon Nov 23 10:15:42 +0000 2026", "id_str": "1860000000000000011", "text": text,
        "timestamp_ms": "1795428942000", "lang": "pt",
        "user": {"id_str": "42", "name": "Cliente", "screen_name": "cliente", "followers_count": 1}}]}).encode()


def x_channel(tenant, account, credentials=None):
    # Connect with X (OAuth 2.0) stores no consumer secret: the endpoint verifies with the installation's.
    return channel_create(tenant=tenant, platform=Platform.X, name=f"X {account}", external_account_id=account,
                          credentials=credentials or {"auth": "oauth2", "access_token": "t"})


def x_post(channel, body, secret):
    return Client().post(f"/hooks/x/{channel.webhook_key}/", body, content_type="application/json",
                         HTTP_X_TWITTER_WEBHOOKS_SIGNATURE=x_sign(body, secret))


@pytest.mark.django_db
def test_it_routes_x_activity_for_another_user_to_that_users_channel(kit_a, kit_b, settings, caplog,
                                                                     django_capture_on_commit_callbacks):
    settings.SAC_X_CONSUMER_SECRET = "x-app-secret"
    x_a, x_b = x_channel(kit_a.tenant, X_A), x_channel(kit_b.tenant, X_B)
    with django_capture_on_commit_callbacks(execute=True):
        assert x_post(x_a, x_activity(X_B, B_TEXT), "x-app-secret").status_code == 200
    mention_b = Mention.objects.get(channel=x_b)
    assert mention_b.tenant == kit_b.tenant and mention_b.text == B_TEXT
    assert WebhookDelivery.objects.get(channel=x_b).tenant == kit_b.tenant
    assert B_TEXT not in stored_in(kit_a.tenant) and not DeadLetter.objects.exists()

    # A user no channel verified by this secret has: B's channel with its own app does not get it either.
    x_b.credentials = {"consumer_key": "k", "consumer_secret": "b-own-app", "access_token": "a",
                       "access_token_secret": "b"}
    x_b.save(update_fields=["credentials"])
    with caplog.at_level(logging.WARNING, logger="channels_ingest.services"), \
            django_capture_on_commit_callbacks(execute=True):
        assert x_post(x_a, x_activity(X_B, B_TEXT + " again"), "x-app-secret").status_code == 200
    letter = DeadLetter.objects.get(tenant=kit_a.tenant, channel=x_a)
    assert X_B in letter.reason and X_B in caplog.text
    assert json.loads(letter.payload) == {"account_id": X_B, "time": "1795428942000", "events": 1,
                                          "fields": ["tweet_create_events"]}
    assert B_TEXT not in stored_in(kit_a.tenant)
    assert Mention.objects.filter(channel=x_b).count() == 1


# ---------------------------------------------------------------- another tenant's secret, token or id opens nothing

@pytest.mark.django_db
def test_another_tenants_secret_cannot_post_into_this_tenants_instagram_or_x_channel(kit_a, kit_b, shared_dir):
    ig_a = meta_channel(kit_a.tenant, Platform.INSTAGRAM, "17841400000000001", secret="secret-of-a")
    meta_channel(kit_b.tenant, Platform.INSTAGRAM, "17841400000000002", secret="secret-of-b")
    body = ig_body("1", B_TEXT)
    assert fb_post(ig_a, body, secret="secret-of-b", platform="instagram").status_code == 403
    x_a = x_channel(kit_a.tenant, X_A, {"consumer_key": "k", "consumer_secret": "x-secret-of-a"})
    x_channel(kit_b.tenant, X_B, {"consumer_key": "k", "consumer_secret": "x-secret-of-b"})
    assert x_post(x_a, x_activity(X_A, B_TEXT), "x-secret-of-b").status_code == 403
    # B's own key on A's network path, or A's key under the other network: no such hook.
    assert fb_post(x_a, body, secret="x-secret-of-a", platform="instagram").status_code == 404
    assert not WebhookDelivery.objects.exists() and not Mention.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("platform", [Platform.FACEBOOK, Platform.INSTAGRAM])
def test_get_verification_with_another_tenants_verify_token_is_refused(kit_a, kit_b, platform):
    channel_a = meta_channel(kit_a.tenant, platform, "111", verify_token="vt-a")
    channel_b = meta_channel(kit_b.tenant, platform, "222", verify_token="vt-b")
    url = f"/hooks/{platform}/{channel_a.webhook_key}/"
    refused = Client().get(url, {"hub.mode": "subscribe", "hub.verify_token": "vt-b", "hub.challenge": "42"})
    assert refused.status_code == 403 and b"42" not in refused.content
    ok = Client().get(f"/hooks/{platform}/{channel_b.webhook_key}/",
                      {"hub.mode": "subscribe", "hub.verify_token": "vt-b", "hub.challenge": "42"})
    assert ok.status_code == 200 and ok.content == b"42"


@pytest.mark.django_db
def test_x_crc_answers_only_with_the_channels_own_secret(kit_a, kit_b):
    x_a = x_channel(kit_a.tenant, X_A, {"consumer_key": "k", "consumer_secret": "x-secret-of-a"})
    x_channel(kit_b.tenant, X_B, {"consumer_key": "k", "consumer_secret": "x-secret-of-b"})
    crc = Client().get(f"/hooks/x/{x_a.webhook_key}/", {"crc_token": "abc"}).json()
    assert crc == {"response_token": x_sign(b"abc", "x-secret-of-a")}
    assert crc != {"response_token": x_sign(b"abc", "x-secret-of-b")}


@pytest.mark.django_db
def test_process_webhook_delivery_with_another_tenants_id_does_nothing(kit_a, kit_b, shared_dir):
    channel_a = meta_channel(kit_a.tenant, Platform.FACEBOOK, FEED_PAGE)
    body = json.dumps({"object": "page", "entry": [comment_entry(shared_dir, FEED_PAGE, A_TEXT, "1")]}).encode()
    assert fb_post(channel_a, body).status_code == 200  # on_commit not run: the task is called by hand below
    delivery = WebhookDelivery.objects.get(channel=channel_a)

    tasks.process_webhook_delivery(kit_b.tenant.pk, delivery.pk)
    delivery.refresh_from_db()
    assert delivery.processed_at is None and not Mention.objects.exists()

    tasks.process_webhook_delivery(kit_a.tenant.pk, delivery.pk)
    assert Mention.objects.get().tenant == kit_a.tenant
