"""Webhooks first, polling as catch-up: connecting a channel with OAuth subscribes it to the network's webhooks,
and the apps' one callback URL each (/hooks/meta/, /hooks/x/app/) puts every delivery in the right tenant's channel.

Against the per-test simulator (channels_ingest/simulator/subscriptions.py), whose shapes come from the references:
Graph "Page Subscribed Apps" (POST /{page-id}/subscribed_apps?subscribed_fields=… → {"success": true}) and X's
OpenAPI v2.168 (createWebhooks: POST /2/webhooks {"url"}; createAccountActivitySubscription: POST
/2/account_activity/webhooks/{id}/subscriptions/all {} with a user token → {"data": {"subscribed": true}}).
The delivery bodies reuse test_webhooks / test_webhook_tenancy (the Facebook comment is the recorded `commentAdd`
change in ../shared/fixtures/facebook/webhooks; Instagram and X payloads are written from the references cited there).
"""

import json
import logging
import re
from io import StringIO

import pytest
import requests
from django.core.management import CommandError, call_command
from django.test import Client

from channels_ingest import subscriptions
from channels_ingest.models import ChannelAccount, Mention, Platform, WebhookDelivery
from channels_ingest.oauth.services import channel_oauth_connect
from channels_ingest.services import channel_create
from channels_ingest.simulator.graph import PAGE_ID
from channels_ingest.simulator.oauth import INSTAGRAM_ACCOUNT_ID
from sac.models import AuditEvent

from ..conftest import login
from ..factories import BRAND_ID
from . import test_oauth
from .test_oauth import _approve, _connect_x, _start
from .test_webhook_tenancy import A_TEXT, B_TEXT, PAGE_B, PAGE_NOBODY, X_A, X_B, comment_entry, stored_in, x_activity
from .test_webhooks import FEED_PAGE, IG_ACCOUNT, ig_body, sign, x_sign

oauth_hosts = test_oauth.oauth_hosts  # the fixture: every host at the per-test simulator
APP_SECRET = "installation-app-secret"
X_SECRET = "installation-consumer-secret"


def _connect_page(client, *, instagram: bool) -> object:
    client.get(_approve(_start(client, "facebook")["Location"], "continue-as"))
    form = {"page_id": PAGE_ID, **({"instagram": "on"} if instagram else {})}
    return client.post("/t/acme/channels/oauth/facebook/pages/", form, follow=True)


def _health(client, channel) -> str:
    return client.get(f"/t/{channel.tenant.slug}/channels/{channel.pk}/").content.decode()


def _subscribe_again(client, channel, slug=None):
    return client.post(f"/t/{slug or channel.tenant.slug}/channels/{channel.pk}/webhooks/subscribe/", follow=True)


# ---------------------------------------------------------------- Meta: subscribed_apps on connect

@pytest.mark.django_db
def test_connecting_a_page_and_its_instagram_account_subscribes_the_page(kit_a, oauth_hosts):
    sim = oauth_hosts
    client = login(kit_a.admin)
    done = _connect_page(client, instagram=True)
    page = ChannelAccount.objects.get(tenant=kit_a.tenant, platform=Platform.FACEBOOK)
    insta = ChannelAccount.objects.get(tenant=kit_a.tenant, platform=Platform.INSTAGRAM)

    # Both channels subscribe the page (Instagram comment webhooks need the linked page's subscription), with the
    # page's token and the same fields, so the second call does not narrow what the first set.
    posts = [r for r in sim.subscriptions.page_requests if r["method"] == "POST"]
    assert [(r["page_id"], r["fields"], r["token"]) for r in posts] == [
        (PAGE_ID, ["feed", "messages"], page.credentials["page_access_token"])] * 2
    assert insta.credentials["page_id"] == PAGE_ID and insta.external_account_id == INSTAGRAM_ACCOUNT_ID
    # What Graph now reports for the page.
    listed = requests.get(f"{sim.base_url}/graph/v21.0/{PAGE_ID}/subscribed_apps",
                          headers={"Authorization": "Bearer x"}, timeout=5).json()
    assert listed["data"][0]["subscribed_fields"] == ["feed", "messages"]

    assert "Webhooks: subscribed on" in done.content.decode()  # the page the admin lands on
    for channel in (page, insta):
        health = _health(client, channel)
        assert "Webhooks: subscribed on" in health and "Subscribe again" in health
        # The app's one callback URL, not a per-channel one.
        assert '<code id="webhook-url">http://testserver/hooks/meta/</code>' in health
    assert AuditEvent.objects.filter(tenant=kit_a.tenant, verb="channel.webhooks_subscribed").count() == 2


@pytest.mark.django_db
def test_a_refused_subscription_never_fails_the_connect_and_subscribe_again_works(kit_a, oauth_hosts):
    sim = oauth_hosts
    sim.subscriptions.refuse_page_subscription("(#200) Requires pages_manage_metadata permission to manage the "
                                               "object", code=200)
    client = login(kit_a.admin)
    done = _connect_page(client, instagram=False)
    page = ChannelAccount.objects.get(tenant=kit_a.tenant, platform=Platform.FACEBOOK)
    assert page.status == ChannelAccount.Status.ACTIVE and b"Acme Telecom connected" in done.content
    assert sim.subscriptions.page_fields == {}
    reason = "Facebook error 200: (#200) Requires pages_manage_metadata permission to manage the object"
    health = _health(client, page)
    assert f"Webhook subscription failed: {reason}. Polling carries on." in health
    assert "Subscribe again" in health
    assert AuditEvent.objects.get(tenant=kit_a.tenant, verb="channel.webhooks_subscribe_failed").data["detail"] \
        == reason

    again = _subscribe_again(client, page)
    assert again.redirect_chain[-1][0] == f"/t/acme/channels/{page.pk}/"
    assert "Webhooks subscribed" in again.content.decode() and "Webhooks: subscribed on" in again.content.decode()
    assert sim.subscriptions.page_fields == {PAGE_ID: ["feed", "messages"]}
    # The tokens the connect stored are untouched by the outcome written beside them.
    page.refresh_from_db()
    assert page.credentials["page_access_token"] in sim.oauth.page_tokens and page.credentials["webhooks"]["ok"]

    # Graph out of reach: said in the reader's words, and still a page, not a 500.
    ChannelAccount.objects.filter(pk=page.pk).update(api_base_url="http://127.0.0.1:9/graph/v21.0")
    down = _subscribe_again(client, page)
    assert down.status_code == 200
    assert "Webhook subscription failed: Facebook could not be reached (ConnectionError). Polling carries on." \
        in down.content.decode()


@pytest.mark.django_db
def test_even_a_bug_in_the_subscription_leaves_the_connect_done(kit_a, oauth_hosts, monkeypatch, caplog):
    def broken(channel):
        raise RuntimeError("a bug, not Graph's answer")

    monkeypatch.setattr(subscriptions, "_meta_subscribe", broken)
    client = login(kit_a.admin)
    with caplog.at_level(logging.ERROR, logger="channels_ingest.subscriptions"):
        done = _connect_page(client, instagram=False)
    assert done.status_code == 200 and b"Acme Telecom connected" in done.content
    assert "Webhooks: not subscribed yet. Polling carries on." in done.content.decode()
    assert "after its connect failed" in caplog.text


@pytest.mark.django_db
def test_a_pt_br_admin_reads_the_subscription_outcome_in_portuguese(kit_a, oauth_hosts):
    kit_a.tenant.locale = "pt-br"
    kit_a.tenant.save(update_fields=["locale"])
    oauth_hosts.subscriptions.refuse_page_subscription("(#200) Permissions error", code=200)
    client = login(kit_a.admin)
    _connect_page(client, instagram=False)
    page = ChannelAccount.objects.get(tenant=kit_a.tenant, platform=Platform.FACEBOOK)
    health = _health(client, page)
    assert "A assinatura de webhooks falhou: Facebook error 200: (#200) Permissions error. A coleta continua." in health
    assert "Assinar de novo" in health and "Subscribe again" not in health
    assert "Webhooks: assinados em" in _subscribe_again(client, page).content.decode()


# ---------------------------------------------------------------- X: Account Activity

@pytest.mark.django_db
def test_x_without_a_webhook_id_is_polled_only_and_says_so(kit_a, oauth_hosts, settings):
    settings.SAC_X_WEBHOOK_ID = ""
    client = login(kit_a.admin)
    _connect_x(client)
    channel = ChannelAccount.objects.get(tenant=kit_a.tenant, platform=Platform.X)
    health = _health(client, channel)
    assert "Webhooks are not set up for X on this installation (no SAC_X_WEBHOOK_ID): this channel is polled only." \
        in health
    assert "Subscribe again" not in health
    assert oauth_hosts.subscriptions.x_requests == []
    refused = _subscribe_again(client, channel)
    assert "Webhooks are not set up for X on this installation: polling only." in refused.content.decode()
    assert oauth_hosts.subscriptions.x_requests == []


@pytest.mark.django_db
def test_x_with_a_registered_webhook_subscribes_the_user_with_its_own_token(kit_a, oauth_hosts, settings):
    sim = oauth_hosts
    settings.SAC_X_APP_BEARER_TOKEN = "app-only-bearer"
    out = StringIO()
    call_command("x_webhook_register", "https://sac.example/hooks/x/app/", stdout=out)
    webhook_id = re.search(r"SAC_X_WEBHOOK_ID=(\d+)", out.getvalue()).group(1)
    assert sim.subscriptions.webhooks[webhook_id]["url"] == "https://sac.example/hooks/x/app/"
    settings.SAC_X_WEBHOOK_ID = webhook_id

    client = login(kit_a.admin)
    _connect_x(client)
    channel = ChannelAccount.objects.get(tenant=kit_a.tenant, platform=Platform.X)
    assert sim.subscriptions.x_subscriptions[webhook_id] == {BRAND_ID}
    subscribe = sim.subscriptions.x_requests[-1]
    # The user's OAuth 2.0 token (user context), as X's reference requires; an app-only token would be refused.
    assert subscribe["method"] == "POST" and subscribe["user_context"] and subscribe["auth"] == "Bearer"
    health = _health(client, channel)
    assert "Webhooks: subscribed on" in health
    assert '<code id="webhook-url">http://testserver/hooks/x/app/</code>' in health

    sim.subscriptions.refuse_x_subscription("Your app is not approved for Account Activity.")
    failed = _subscribe_again(client, channel).content.decode()
    assert ("Webhook subscription failed: X answered 403: Your app is not approved for Account Activity. "
            "Polling carries on.") in failed
    assert ChannelAccount.objects.get(pk=channel.pk).status == ChannelAccount.Status.ACTIVE


@pytest.mark.django_db
def test_registering_the_x_webhook_says_what_is_missing(oauth_hosts, settings):
    settings.SAC_X_APP_BEARER_TOKEN = ""
    with pytest.raises(CommandError, match="SAC_X_APP_BEARER_TOKEN is not set"):
        call_command("x_webhook_register", "https://sac.example/hooks/x/app/")
    settings.SAC_X_APP_BEARER_TOKEN = "app-only-bearer"
    with pytest.raises(CommandError, match="https"):
        call_command("x_webhook_register", "http://sac.example/hooks/x/app/")
    call_command("x_webhook_register", "https://sac.example/hooks/x/app/", stdout=StringIO())
    with pytest.raises(CommandError,
                       match="X refused to register the webhook: X answered 400: A webhook with this url is already"):
        call_command("x_webhook_register", "https://sac.example/hooks/x/app/")


# ---------------------------------------------------------------- the new URL across tenants and roles

@pytest.mark.django_db
def test_subscribe_again_is_for_the_tenants_own_admins(kit_a, kit_b, oauth_hosts):
    sim = oauth_hosts
    _connect_page(login(kit_a.admin), instagram=False)
    page = ChannelAccount.objects.get(tenant=kit_a.tenant, platform=Platform.FACEBOOK)
    before = len(sim.subscriptions.page_requests)
    url = f"/channels/{page.pk}/webhooks/subscribe/"
    assert login(kit_b.admin).post(f"/t/acme{url}").status_code == 404
    assert login(kit_b.admin).post(f"/t/beta{url}").status_code == 404
    assert login(kit_a.agent).post(f"/t/acme{url}").status_code == 403
    assert login(kit_a.supervisor).post(f"/t/acme{url}").status_code == 403
    assert login(kit_a.admin).get(f"/t/acme{url}").status_code == 405
    assert len(sim.subscriptions.page_requests) == before
    # A channel connected by hand keeps its own webhook URL: nothing to subscribe, nothing called.
    hand = _subscribe_again(login(kit_a.admin), kit_a.channel).content.decode()
    assert "This channel was connected by hand" in hand and "Subscribe again" not in hand
    assert len(sim.subscriptions.page_requests) == before


# ---------------------------------------------------------------- the apps' one callback URL

def oauth_page(tenant, page_id, platform=Platform.FACEBOOK):
    channel, _ = channel_oauth_connect(tenant=tenant, actor=None, platform=platform, external_account_id=page_id,
                                       name=f"{platform} {page_id}", handle="", api_base_url="",
                                       credentials={"auth": "oauth2", "page_access_token": "t",
                                                    "app_secret": APP_SECRET})
    return channel


def meta_post(body: bytes, secret: str | None = APP_SECRET):
    headers = {"HTTP_X_HUB_SIGNATURE_256": sign(body, secret)} if secret else {}
    return Client().post("/hooks/meta/", body, content_type="application/json", **headers)


@pytest.fixture
def installation(settings):
    settings.SAC_FACEBOOK_APP_SECRET = APP_SECRET
    settings.SAC_FACEBOOK_WEBHOOK_VERIFY_TOKEN = "installation-verify-token"
    settings.SAC_X_CONSUMER_SECRET = X_SECRET
    return settings


@pytest.mark.django_db
def test_the_meta_callback_url_answers_verification_with_the_installation_token(installation):
    ok = Client().get("/hooks/meta/", {"hub.mode": "subscribe", "hub.verify_token": "installation-verify-token",
                                       "hub.challenge": "1158201444"})
    assert ok.status_code == 200 and ok.content == b"1158201444"
    assert Client().get("/hooks/meta/", {"hub.mode": "subscribe", "hub.verify_token": "nope",
                                         "hub.challenge": "1"}).status_code == 403
    installation.SAC_FACEBOOK_WEBHOOK_VERIFY_TOKEN = ""  # not configured: nothing verifies, not even an empty token
    assert Client().get("/hooks/meta/", {"hub.mode": "subscribe", "hub.verify_token": "",
                                         "hub.challenge": "1"}).status_code == 403


@pytest.mark.django_db
def test_the_x_callback_url_answers_the_crc_with_the_installation_secret(installation):
    from channels_ingest.x.webhook import crc_response

    answer = Client().get("/hooks/x/app/", {"crc_token": "challenge-123"})
    assert answer.status_code == 200
    assert answer.json() == crc_response(consumer_secret=X_SECRET, crc_token="challenge-123")
    installation.SAC_X_CONSUMER_SECRET = ""
    assert Client().get("/hooks/x/app/", {"crc_token": "challenge-123"}).status_code == 403


@pytest.mark.django_db
def test_a_signed_delivery_goes_to_the_channel_of_the_tenant_that_connected_the_page(
        kit_a, kit_b, installation, shared_dir, django_capture_on_commit_callbacks):
    oauth_page(kit_a.tenant, FEED_PAGE)
    page_b = oauth_page(kit_b.tenant, PAGE_B)
    body = json.dumps({"object": "page", "entry": [comment_entry(shared_dir, PAGE_B, B_TEXT, "2")]}).encode()
    with django_capture_on_commit_callbacks(execute=True):
        answer = meta_post(body)
    assert answer.status_code == 200 and answer.content == b"EVENT_RECEIVED"
    delivery = WebhookDelivery.objects.get()
    assert delivery.channel == page_b and delivery.tenant == kit_b.tenant
    assert list(Mention.objects.filter(tenant=kit_b.tenant).values_list("text", flat=True)) == [B_TEXT]
    assert B_TEXT not in stored_in(kit_a.tenant)


@pytest.mark.django_db
def test_one_delivery_with_two_tenants_pages_ends_up_in_each_tenants_own_channel(
        kit_a, kit_b, installation, shared_dir, django_capture_on_commit_callbacks):
    page_a, page_b = oauth_page(kit_a.tenant, FEED_PAGE), oauth_page(kit_b.tenant, PAGE_B)
    body = json.dumps({"object": "page", "entry": [comment_entry(shared_dir, PAGE_B, B_TEXT, "2"),
                                                   comment_entry(shared_dir, FEED_PAGE, A_TEXT, "1")]}).encode()
    with django_capture_on_commit_callbacks(execute=True):
        assert meta_post(body).status_code == 200
    # Split on arrival: each tenant's part waits in that tenant's own backlog, never in another tenant's row.
    assert {d.channel_id: json.loads(bytes(d.body))["entry"][0]["id"] for d in WebhookDelivery.objects.all()} == {
        page_a.pk: FEED_PAGE, page_b.pk: PAGE_B}
    assert list(Mention.objects.filter(channel=page_a).values_list("text", flat=True)) == [A_TEXT]
    assert list(Mention.objects.filter(channel=page_b).values_list("text", flat=True)) == [B_TEXT]
    assert Mention.objects.get(channel=page_a).tenant == kit_a.tenant
    assert Mention.objects.get(channel=page_b).tenant == kit_b.tenant
    assert B_TEXT not in stored_in(kit_a.tenant) and A_TEXT not in stored_in(kit_b.tenant)


@pytest.mark.django_db
def test_a_page_two_tenants_connected_reaches_both(kit_a, kit_b, installation, shared_dir,
                                                   django_capture_on_commit_callbacks):
    page_a, page_b = oauth_page(kit_a.tenant, FEED_PAGE), oauth_page(kit_b.tenant, FEED_PAGE)
    body = json.dumps({"object": "page", "entry": [comment_entry(shared_dir, FEED_PAGE, A_TEXT, "1")]}).encode()
    with django_capture_on_commit_callbacks(execute=True):
        assert meta_post(body).status_code == 200
    assert Mention.objects.get(channel=page_a).tenant == kit_a.tenant
    assert Mention.objects.get(channel=page_b).tenant == kit_b.tenant
    assert {bytes(d.body) for d in WebhookDelivery.objects.all()} == {body}  # one account: kept byte for byte


@pytest.mark.django_db
def test_a_content_length_that_is_not_a_number_is_refused_not_a_500(kit_a, installation):
    for url in ("/hooks/meta/", "/hooks/x/app/", f"/hooks/x/{kit_a.channel.webhook_key}/"):
        answer = Client().post(url, b"{}", content_type="application/json", CONTENT_LENGTH="twelve")
        assert answer.status_code == 403, url
    assert not WebhookDelivery.objects.exists()


@pytest.mark.django_db
def test_instagram_deliveries_go_to_the_instagram_channel(kit_b, installation, django_capture_on_commit_callbacks):
    insta = oauth_page(kit_b.tenant, IG_ACCOUNT, platform=Platform.INSTAGRAM)
    with django_capture_on_commit_callbacks(execute=True):
        assert meta_post(ig_body("17865799348089039", B_TEXT)).status_code == 200
    mention = Mention.objects.get(channel=insta)
    assert mention.tenant == kit_b.tenant and mention.text == B_TEXT


@pytest.mark.django_db
def test_unsigned_or_foreign_deliveries_are_refused_and_unknown_accounts_kept_nowhere(
        kit_a, installation, shared_dir, caplog):
    oauth_page(kit_a.tenant, FEED_PAGE)
    # A page connected by hand with its own app: the installation's signature does not speak for it.
    channel_create(tenant=kit_a.tenant, platform=Platform.FACEBOOK, name="by hand", external_account_id=PAGE_NOBODY,
                   credentials={"page_access_token": "t", "app_secret": "its-own-secret", "verify_token": "v"})
    body = json.dumps({"object": "page", "entry": [comment_entry(shared_dir, FEED_PAGE, A_TEXT, "1")]}).encode()
    with caplog.at_level(logging.WARNING, logger="channels_ingest.webhooks"):
        assert meta_post(body, secret=None).status_code == 403
        assert meta_post(body, secret="someone-else").status_code == 403
    assert "webhook refused endpoint=meta" in caplog.text and "missing or wrong X-Hub-Signature-256" in caplog.text

    caplog.clear()
    nobody = json.dumps({"object": "page", "entry": [comment_entry(shared_dir, PAGE_NOBODY, B_TEXT, "3")]}).encode()
    with caplog.at_level(logging.WARNING, logger="channels_ingest.webhooks"):
        assert meta_post(nobody).status_code == 200
    assert "names no account a channel on this installation has" in caplog.text
    # Signed, but nothing a channel here may read: never a 500, nothing kept.
    for odd in (b"not json", b"[]", b'{"object": "page", "entry": "x"}', b'{"object": "user", "entry": []}',
                json.dumps({"object": "page", "entry": [None, 7, {"id": {"x": 1}}]}).encode()):
        assert meta_post(odd).status_code == 200, odd
    assert not WebhookDelivery.objects.exists() and not Mention.objects.filter(text=A_TEXT).exists()


@pytest.mark.django_db
def test_x_deliveries_reach_the_subscribed_users_channel_in_its_tenant(
        kit_a, kit_b, installation, django_capture_on_commit_callbacks):
    channel_oauth_connect(tenant=kit_a.tenant, actor=None, platform=Platform.X, external_account_id=X_A, name="X A",
                          handle="a", api_base_url="", credentials={"auth": "oauth2", "access_token": "t"})
    x_b, _ = channel_oauth_connect(tenant=kit_b.tenant, actor=None, platform=Platform.X, external_account_id=X_B,
                                   name="X B", handle="b", api_base_url="",
                                   credentials={"auth": "oauth2", "access_token": "t"})
    body = x_activity(X_B, B_TEXT)

    def x_app_post(payload: bytes, secret: str | None = X_SECRET):
        headers = {"HTTP_X_TWITTER_WEBHOOKS_SIGNATURE": x_sign(payload, secret)} if secret else {}
        return Client().post("/hooks/x/app/", payload, content_type="application/json", **headers)

    assert x_app_post(body, secret=None).status_code == 403
    assert x_app_post(body, secret="other").status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        assert x_app_post(body).status_code == 200
    mention = Mention.objects.get(channel=x_b)
    assert mention.tenant == kit_b.tenant and mention.text == B_TEXT
    assert B_TEXT not in stored_in(kit_a.tenant)
    assert x_app_post(x_activity("1600000000000000999", A_TEXT)).status_code == 200
    assert x_app_post(b"{broken").status_code == 200
    assert WebhookDelivery.objects.count() == 1


def test_an_answer_that_is_not_graphs_json_is_shown_as_the_reason_never_a_500(kit_a, oauth_hosts, monkeypatch):
    """A proxy's HTML error page where Graph's JSON should be (the network edge answers it, nothing else mocked)."""
    import requests

    client = login(kit_a.admin)
    _connect_page(client, instagram=False)
    page = ChannelAccount.objects.get(tenant=kit_a.tenant, platform=Platform.FACEBOOK)
    real = requests.Session.request

    def proxy_page(self, method, url, *args, **kwargs):
        if method == "POST" and str(url).endswith("/subscribed_apps"):
            response = requests.Response()
            response.status_code, response._content, response.url = 403, b"<html>Blocked by proxy</html>", url
            response.headers["Content-Type"] = "text/html"
            return response
        return real(self, method, url, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", proxy_page)
    answer = _subscribe_again(client, page)
    assert answer.status_code == 200  # followed back to the health page
    assert "Webhook subscription failed: Facebook answered with invalid JSON (403)" in answer.content.decode()
