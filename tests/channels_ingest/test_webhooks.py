"""Webhooks: verification, signatures (recorded vectors in ../shared/fixtures/facebook/webhooks), raw storage,
processing through ingest_batch, duplicates, out-of-order edits and removals, malformed deliveries.

The X Account Activity payload below is written from X's reference (no recording exists in ../shared):
https://docs.x.com/x-api/enterprise-gnip-2.0/fundamentals/account-activity — tweet_create_events carry v1.1
status objects, direct_message_events carry message_create events with a `users` map.
"""

import base64
import copy
import hashlib
import hmac
import json
import logging

import pytest
from django.test import Client

from channels_ingest.models import DeadLetter, Mention, MentionRevision, Platform, WebhookDelivery
from channels_ingest.services import channel_create

FEED_PAGE = "137542570280222"
MESSENGER_PAGE = "404217156637689"
SECRET = "FAKE_SECRET"


def shared_json(shared_dir, name):
    return json.loads((shared_dir / "fixtures/facebook/webhooks" / name).read_text())


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def fb_channel(tenant, page_id=FEED_PAGE, secret=SECRET):
    return channel_create(tenant=tenant, platform=Platform.FACEBOOK, name="FB", external_account_id=page_id,
                          credentials={"page_access_token": "t", "app_secret": secret, "verify_token": "vt-123"})


def envelope(page_id, changes=(), messaging=(), time=1511951015) -> bytes:
    entry = {"id": page_id, "time": time}
    if changes:
        entry["changes"] = list(changes)
    if messaging:
        entry["messaging"] = list(messaging)
    return json.dumps({"object": "page", "entry": [entry]}).encode()


def post(client, channel, body, signature="auto", platform="facebook"):
    headers = {}
    if signature == "auto":
        signature = sign(body)
    if signature:
        headers["HTTP_X_HUB_SIGNATURE_256"] = signature
    return client.post(f"/hooks/{platform}/{channel.webhook_key}/", body, content_type="application/json", **headers)


def test_recorded_signature_vectors_verify(shared_dir):
    from channels_ingest.facebook.webhook import signature_valid

    vectors = shared_json(shared_dir, "signature_scheme_and_vectors.json")["computed_sha256_vectors"]["vectors"]
    for vector in vectors:
        assert signature_valid(app_secret=SECRET, body=vector["raw_body"].encode(),
                               header=vector["x-hub-signature-256"])
        assert not signature_valid(app_secret="other", body=vector["raw_body"].encode(),
                                   header=vector["x-hub-signature-256"])


@pytest.mark.django_db
def test_get_verification_echoes_the_challenge_only_with_the_channels_token(kit_a):
    channel = fb_channel(kit_a.tenant)
    url = f"/hooks/facebook/{channel.webhook_key}/"
    ok = Client().get(url, {"hub.mode": "subscribe", "hub.verify_token": "vt-123", "hub.challenge": "1158201444"})
    assert ok.status_code == 200 and ok.content == b"1158201444"
    bad = Client().get(url, {"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"})
    assert bad.status_code == 403
    assert Client().get("/hooks/facebook/not-a-key/", {"hub.mode": "subscribe"}).status_code == 404


@pytest.mark.django_db
def test_recorded_signed_delivery_is_stored_raw_then_ingested(kit_a, shared_dir, django_capture_on_commit_callbacks):
    vectors = shared_json(shared_dir, "signature_scheme_and_vectors.json")["computed_sha256_vectors"]["vectors"]
    messenger = next(v for v in vectors if v.get("kind", "").startswith("messenger"))
    channel = fb_channel(kit_a.tenant, page_id=MESSENGER_PAGE)
    body = messenger["raw_body"].encode()
    with django_capture_on_commit_callbacks(execute=True):
        response = post(Client(), channel, body, signature=messenger["x-hub-signature-256"])
    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get(channel=channel)
    assert bytes(delivery.body) == body and delivery.processed_at is not None
    mention = Mention.objects.get(channel=channel)
    assert mention.kind == "direct" and mention.text == "Sharp tools make good work."
    assert mention.author.external_id == "1423587017700273"


@pytest.mark.django_db
@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, "sha1=0d814d436b45c33ef664a317ff4b8dc2d3d8fe2a"])
def test_wrong_or_missing_signature_is_403_logged_and_never_stored(kit_a, shared_dir, caplog, signature):
    channel = fb_channel(kit_a.tenant)
    body = envelope(FEED_PAGE, [shared_json(shared_dir, "feed_webhook_changes.json")["changes"]["commentAdd"]])
    with caplog.at_level(logging.WARNING, logger="channels_ingest.webhooks"):
        response = post(Client(), channel, body, signature=signature or "")
    assert response.status_code == 403
    assert "webhook refused" in caplog.text and f"channel={channel.pk}" in caplog.text
    assert not WebhookDelivery.objects.exists() and not Mention.objects.exists()


@pytest.mark.django_db
def test_another_tenants_secret_does_not_open_this_channels_hook(kit_a, kit_b, shared_dir):
    channel_a = fb_channel(kit_a.tenant, secret="secret-of-a")
    fb_channel(kit_b.tenant, secret="secret-of-b")
    body = envelope(FEED_PAGE, [shared_json(shared_dir, "feed_webhook_changes.json")["changes"]["commentAdd"]])
    response = Client().post(f"/hooks/facebook/{channel_a.webhook_key}/", body, content_type="application/json",
                             HTTP_X_HUB_SIGNATURE_256=sign(body, "secret-of-b"))
    assert response.status_code == 403 and not WebhookDelivery.objects.exists()


@pytest.mark.django_db
def test_duplicate_and_out_of_order_edits_and_removals(kit_a, shared_dir, django_capture_on_commit_callbacks):
    changes = shared_json(shared_dir, "feed_webhook_changes.json")["changes"]
    edited, removed = changes["commentEdited"], changes["commentRemove"]
    add = copy.deepcopy(edited)
    add["value"].update(verb="add", message="Péssimo atendimento 😡", created_time=edited["value"]["created_time"] - 60)
    newer_edit = copy.deepcopy(edited)
    newer_edit["value"].update(message="Great, thanks 🙏", created_time=edited["value"]["created_time"] + 30)
    channel = fb_channel(kit_a.tenant)
    client = Client()
    with django_capture_on_commit_callbacks(execute=True):
        # The newer edit arrives first, then the add, the same add again, then the older edit, then the removal.
        for change in (newer_edit, add, add, edited, removed):
            assert post(client, channel, envelope(FEED_PAGE, [change])).status_code == 200
    mention = Mention.objects.get(channel=channel)
    assert mention.text == "Great, thanks 🙏"
    assert mention.removed_at is not None
    assert list(MentionRevision.objects.filter(mention=mention).values_list("change", "text")) == [
        ("remove", "Great, thanks 🙏")]
    assert WebhookDelivery.objects.filter(channel=channel, processed_at__isnull=False).count() == 5


@pytest.mark.django_db
def test_edit_after_add_keeps_the_earlier_text(kit_a, shared_dir, django_capture_on_commit_callbacks):
    changes = shared_json(shared_dir, "feed_webhook_changes.json")["changes"]
    add = copy.deepcopy(changes["commentEdited"])
    add["value"].update(verb="add", message="Minha internet caiu", created_time=add["value"]["created_time"] - 60)
    channel = fb_channel(kit_a.tenant)
    with django_capture_on_commit_callbacks(execute=True):
        post(Client(), channel, envelope(FEED_PAGE, [add]))
        post(Client(), channel, envelope(FEED_PAGE, [changes["commentEdited"]]))
    mention = Mention.objects.get(channel=channel)
    assert mention.text == "Great" and mention.revisions.get().text == "Minha internet caiu"


@pytest.mark.django_db
@pytest.mark.parametrize("body", [
    b'{"object":"page","entry":[{"id":"137542570280222","changes":[{"field":"feed","value":{"item":"comm',
    b'[1, 2, 3]',
    json.dumps({"object": "page", "entry": [{"id": FEED_PAGE, "changes": [
        {"field": "feed", "value": {"item": "comment", "verb": "add", "comment_id": "1_2"}}]}]}).encode(),
])
def test_malformed_deliveries_are_dead_lettered_never_a_500(kit_a, body, django_capture_on_commit_callbacks):
    channel = fb_channel(kit_a.tenant)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(Client(), channel, body)
    assert response.status_code == 200
    letter = DeadLetter.objects.get(channel=channel)
    assert letter.reason and not Mention.objects.exists()


@pytest.mark.django_db
def test_emoji_mixed_scripts_and_unknown_fields_are_stored_whole(kit_a, shared_dir,
                                                                   django_capture_on_commit_callbacks):
    change = copy.deepcopy(shared_json(shared_dir, "feed_webhook_changes.json")["changes"]["commentAdd"])
    text = "Não recebi 📦 — заказ не пришёл — 注文が届かない 🇧🇷" * 200
    change["value"].update(message=text, brand_new_field={"nested": [1, 2]})
    channel = fb_channel(kit_a.tenant)
    with django_capture_on_commit_callbacks(execute=True):
        post(Client(), channel, envelope(FEED_PAGE, [change]))
    assert Mention.objects.get(channel=channel).text == text


@pytest.mark.django_db
def test_page_sent_comment_is_stored_as_ours(kit_a, shared_dir, django_capture_on_commit_callbacks):
    fixture = shared_json(shared_dir, "feed_webhook_changes.json")
    page_id = fixture["page_id_for_sent_by_page"]
    channel = fb_channel(kit_a.tenant, page_id=page_id)
    with django_capture_on_commit_callbacks(execute=True):
        post(Client(), channel, envelope(page_id, [fixture["changes"]["sentByPage"]]))
    mention = Mention.objects.get(channel=channel)
    assert mention.direction == "out" and mention.triaged_at is not None


# ---------------------------------------------------------------- X Account Activity

def x_sign(body: bytes, secret: str) -> str:
    return "sha256=" + base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


X_ACTIVITY = {
    "for_user_id": "1500000000000000001",
    "tweet_create_events": [{
        "created_at": "Mon Nov 23 10:15:42 +0000 2026", "id": 1860000000000000001, "id_str": "1860000000000000001",
        "text": "@acme minha internet caiu de novo 😤", "in_reply_to_status_id_str": None, "lang": "pt",
        "user": {"id": 42, "id_str": "42", "name": "Cliente Silva", "screen_name": "cliente",
                 "followers_count": 120, "verified": False},
    }],
    "direct_message_events": [{
        "type": "message_create", "id": "1860000000000000002", "created_timestamp": "1795428942000",
        "message_create": {"target": {"recipient_id": "1500000000000000001"}, "sender_id": "42",
                           "message_data": {"text": "meu CPF é 123.456.789-09", "entities": {}}},
    }],
    "users": {"42": {"id": "42", "name": "Cliente Silva", "screen_name": "cliente", "followers_count": 120}},
}


@pytest.mark.django_db
def test_x_crc_and_signed_account_activity(kit_a, django_capture_on_commit_callbacks):
    channel = kit_a.channel
    secret = channel.credentials["consumer_secret"]
    crc = Client().get(f"/hooks/x/{channel.webhook_key}/", {"crc_token": "abc"})
    assert crc.status_code == 200
    assert crc.json() == {"response_token": x_sign(b"abc", secret)}
    body = json.dumps(X_ACTIVITY).encode()
    assert Client().post(f"/hooks/x/{channel.webhook_key}/", body, content_type="application/json",
                         HTTP_X_TWITTER_WEBHOOKS_SIGNATURE=x_sign(body, "wrong")).status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):
            response = Client().post(f"/hooks/x/{channel.webhook_key}/", body, content_type="application/json",
                                     HTTP_X_TWITTER_WEBHOOKS_SIGNATURE=x_sign(body, secret))
            assert response.status_code == 200
    stored = Mention.objects.filter(channel=channel).order_by("kind")
    assert [(m.kind, m.external_id) for m in stored] == [("direct", "1860000000000000002"),
                                                         ("post", "1860000000000000001")]
    assert stored.get(kind="post").author.handle == "cliente"


def test_x_channel_connected_with_oauth2_verifies_webhooks_with_the_apps_secret(kit_a, settings):
    channel = kit_a.channel
    channel.credentials = {"auth": "oauth2", "access_token": "t"}  # what Connect with X stores: no consumer secret
    channel.save(update_fields=["credentials"])
    assert Client().get(f"/hooks/x/{channel.webhook_key}/", {"crc_token": "abc"}).status_code == 403
    settings.SAC_X_CONSUMER_SECRET = "app-secret"
    crc = Client().get(f"/hooks/x/{channel.webhook_key}/", {"crc_token": "abc"})
    assert crc.status_code == 200 and crc.json() == {"response_token": x_sign(b"abc", "app-secret")}
    body = json.dumps(X_ACTIVITY).encode()
    assert Client().post(f"/hooks/x/{channel.webhook_key}/", body, content_type="application/json",
                         HTTP_X_TWITTER_WEBHOOKS_SIGNATURE=x_sign(body, "app-secret")).status_code == 200


@pytest.mark.django_db
def test_the_case_thread_shows_the_earlier_text_of_an_edited_comment(kit_a, shared_dir,
                                                                       django_capture_on_commit_callbacks):
    from inbox.models import Case

    from ..conftest import login

    changes = shared_json(shared_dir, "feed_webhook_changes.json")["changes"]
    add = copy.deepcopy(changes["commentEdited"])
    add["value"].update(verb="add", message="Minha internet caiu e ninguém resolve!",
                        created_time=add["value"]["created_time"] - 60)
    edit = copy.deepcopy(changes["commentEdited"])
    edit["value"]["message"] = "Minha internet voltou, obrigado"
    channel = fb_channel(kit_a.tenant)
    with django_capture_on_commit_callbacks(execute=True):
        post(Client(), channel, envelope(FEED_PAGE, [add]))
    case = Case.objects.get(tenant=kit_a.tenant, channel=channel)
    with django_capture_on_commit_callbacks(execute=True):
        post(Client(), channel, envelope(FEED_PAGE, [edit]))
    page = login(kit_a.agent).get(f"/t/acme/cases/{case.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Minha internet voltou, obrigado" in html and "edited" in html
    assert "<del>Minha internet caiu e ninguém resolve!</del>" in html


# Instagram `comments` webhook: no recording exists in ../shared; written from Meta's reference
# (https://developers.facebook.com/docs/instagram-platform/webhooks/examples: entry[].changes[] with
# field "comments" and value {from {id, username}, media {id, media_product_type}, id, parent_id?, text}).
IG_ACCOUNT = "17841405822304914"


def ig_body(comment_id: str, text: str, parent_id: str | None = None) -> bytes:
    value = {"from": {"id": "232323232", "username": "cliente_insta"},
             "media": {"id": "123123123", "media_product_type": "FEED"}, "id": comment_id, "text": text}
    if parent_id:
        value["parent_id"] = parent_id
    return json.dumps({"object": "instagram", "entry": [{"id": IG_ACCOUNT, "time": 1795428942,
                                                         "changes": [{"field": "comments", "value": value}]}]}).encode()


@pytest.mark.django_db
def test_instagram_comment_webhook(kit_a, django_capture_on_commit_callbacks):
    channel = channel_create(tenant=kit_a.tenant, platform=Platform.INSTAGRAM, name="IG",
                             external_account_id=IG_ACCOUNT,
                             credentials={"access_token": "t", "app_secret": SECRET, "verify_token": "vt"})
    with django_capture_on_commit_callbacks(execute=True):
        for body in (ig_body("17865799348089039", "Cadê meu pedido? 😡"),
                     ig_body("17865799348089040", "@cliente_insta já vi", parent_id="17865799348089039")):
            assert post(Client(), channel, body, platform="instagram").status_code == 200
    first, reply = Mention.objects.filter(channel=channel).order_by("external_id")
    assert first.text == "Cadê meu pedido? 😡" and first.author.handle == "cliente_insta"
    assert first.conversation_id == "123123123" and reply.in_reply_to_external_id == first.external_id
    wrong = ig_body("1", "x").replace(b'"instagram"', b'"page"')
    with django_capture_on_commit_callbacks(execute=True):
        post(Client(), channel, wrong, platform="instagram")
    assert "expected 'instagram'" in DeadLetter.objects.get(channel=channel).reason
