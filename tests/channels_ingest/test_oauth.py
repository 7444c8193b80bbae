"""Connect with X (OAuth 2.0 + PKCE) and Connect with Facebook (Facebook Login for pages), end to end against the
per-test simulator: the same code as production, only the hosts differ."""

import json
import re
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.db.models import TextField
from django.db.models.functions import Cast

from channels_ingest.connectors import connector_for
from channels_ingest.models import ChannelAccount, Mention, Platform
from channels_ingest.oauth import facebook as oauth_facebook
from channels_ingest.oauth import x as oauth_x
from channels_ingest.oauth.errors import OAuthError
from channels_ingest.services import channel_poll
from channels_ingest.simulator.graph import PAGE_ID
from channels_ingest.simulator.oauth import INSTAGRAM_ACCOUNT_ID
from channels_ingest.types import OutboundMessage
from sac.models import Membership, Role
from sac.services import membership_ensure

from ..conftest import login
from ..factories import BRAND_ID

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "oauth"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def oauth_hosts(settings, simulator):
    """Point every OAuth and API host at the per-test simulator, with the client it knows."""
    base = simulator.base_url
    settings.SAC_SIMULATOR_URL = base
    settings.SAC_X_OAUTH_CLIENT_ID, settings.SAC_X_OAUTH_CLIENT_SECRET = "sac-demo", "sac-demo-secret"
    settings.SAC_X_OAUTH_AUTHORIZE_URL = f"{base}/i/oauth2/authorize"
    settings.SAC_X_OAUTH_TOKEN_URL = f"{base}/2/oauth2/token"
    settings.SAC_X_API_URL = base
    settings.SAC_FACEBOOK_APP_ID, settings.SAC_FACEBOOK_APP_SECRET = "sac-demo", "sac-demo-secret"
    settings.SAC_FACEBOOK_DIALOG_URL = f"{base}/v21.0/dialog/oauth"
    settings.SAC_GRAPH_API_URL = f"{base}/graph/v21.0"
    return simulator


def _approve(authorize_url: str, button_id: str) -> str:
    """What the admin's browser does on the network's page: follow the approve button. Returns SAC's callback path."""
    page = requests.get(authorize_url, timeout=5)
    assert page.status_code == 200, page.text
    href = re.search(rf"id='{button_id}' href='([^']+)'", page.text).group(1).replace("&amp;", "&")
    parts = urlsplit(href)
    assert parts.netloc == "testserver"  # the redirect URI was built from the request host
    return f"{parts.path}?{parts.query}"


def _start(client, network: str, slug: str = "acme"):
    return client.post(f"/t/{slug}/channels/oauth/{network}/start/")


def _connect_x(client, slug: str = "acme") -> object:
    start = _start(client, "x", slug)
    assert start.status_code == 302
    return client.get(_approve(start["Location"], "authorize-app"))


@pytest.mark.django_db
def test_it_connects_an_x_account_with_pkce_and_polls_it(kit_a, oauth_hosts):
    sim = oauth_hosts
    client = login(kit_a.admin)
    start = _start(client, "x")
    query = parse_qs(urlsplit(start["Location"]).query)
    assert start["Location"].startswith(f"{sim.base_url}/i/oauth2/authorize?")
    assert query["response_type"] == ["code"] and query["client_id"] == ["sac-demo"]
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert query["scope"] == ["tweet.read tweet.write users.read dm.read dm.write offline.access"]
    assert query["redirect_uri"] == ["http://testserver/channels/oauth/x/callback/"]

    done = client.get(_approve(start["Location"], "authorize-app"), follow=True)
    channel = ChannelAccount.objects.get(tenant=kit_a.tenant, platform=Platform.X)
    assert channel.external_account_id == BRAND_ID and channel.handle == "acmetelecom"
    assert done.redirect_chain[-1][0] == f"/t/acme/channels/{channel.pk}/"
    assert b"@acmetelecom on X connected" in done.content
    credentials = channel.credentials
    assert credentials["auth"] == "oauth2" and credentials["refresh_token"].startswith("simx-rt-")
    assert credentials["expires_at"] > time.time() + 7000
    # The token exchange authenticated SAC as a confidential client.
    assert sim.oauth.token_requests == [{"grant_type": "authorization_code", "basic_auth": True}]
    # Encrypted at rest: the column holds Fernet ciphertext, not the tokens.
    raw = ChannelAccount.objects.filter(pk=channel.pk).values_list(Cast("credentials", TextField()), flat=True)[0]
    assert credentials["access_token"] not in raw and credentials["refresh_token"] not in raw
    # Never shown back: not on the health page, the list, or the connect page.
    for page in (done, client.get("/t/acme/channels/"), client.get("/t/acme/channels/connect/")):
        assert credentials["access_token"].encode() not in page.content
        assert credentials["refresh_token"].encode() not in page.content

    post = sim.add_post("@acmetelecom minha fibra caiu de novo", author_username="rita")
    dm = sim.add_dm("meu CPF é 123.456.789-00, podem ver minha conta?", author_username="rita")
    run = channel_poll(tenant_id=kit_a.tenant.pk, channel_id=channel.pk)
    assert run.outcome == "ok", run.error
    assert Mention.objects.filter(channel=channel, text__contains="minha fibra caiu").count() == 1
    # The one OAuth 2.0 user token also reads the DMs (user context) ...
    assert Mention.objects.filter(channel=channel, kind="direct", text__contains="meu CPF").count() == 1
    assert any(r["path"].startswith(f"/2/users/{BRAND_ID}/mentions") and r["status"] == 200 for r in sim.requests)
    # ... and posts the public reply and the DM.
    connector = connector_for(channel)
    connector.send(OutboundMessage(visibility="public", text="Olá Rita, vamos verificar.",
                                   in_reply_to_external_id=post["id"]))
    connector.send(OutboundMessage(visibility="private", text="Rita, seguimos por aqui.",
                                   recipient_external_id=dm["sender_id"]))
    assert [(s["kind"], s["text"]) for s in sim.sent] == [("reply", "Olá Rita, vamos verificar."),
                                                         ("dm", "Rita, seguimos por aqui.")]


@pytest.mark.django_db
def test_a_replayed_unknown_or_foreign_state_is_refused(kit_a, kit_b, oauth_hosts):
    client = login(kit_a.admin)
    start = _start(client, "x")
    callback = _approve(start["Location"], "authorize-app")
    # Another tenant's admin (another session) cannot finish A's login, nor create anything with it.
    # No brand is known yet on this page, so it speaks the browser's language (README, Languages).
    foreign = login(kit_b.admin).get(callback, HTTP_ACCEPT_LANGUAGE="en")
    assert foreign.status_code == 400 and b"unknown or was already used" in foreign.content
    assert client.get(callback).status_code == 302
    replay = client.get(callback, HTTP_ACCEPT_LANGUAGE="en")
    assert replay.status_code == 400 and b"unknown or was already used" in replay.content
    unknown = client.get("/channels/oauth/x/callback/?state=forged&code=abc")
    assert unknown.status_code == 400
    # A state started for X does not finish a Facebook login.
    state = parse_qs(urlsplit(_start(client, "x")["Location"]).query)["state"][0]
    assert client.get(f"/channels/oauth/facebook/callback/?state={state}&code=abc").status_code == 400
    assert ChannelAccount.objects.filter(platform=Platform.X).count() == 1
    assert not ChannelAccount.objects.filter(tenant=kit_b.tenant, platform=Platform.X).exists()


@pytest.mark.django_db
def test_the_callback_checks_the_admin_role_again_and_the_tenant_comes_from_the_state(kit_a, kit_b, oauth_hosts):
    # One person admin of both tenants starts in A: the account is connected in A, never in B.
    membership_ensure(tenant=kit_b.tenant, username="acme-admin", role=Role.ADMIN)
    client = login(kit_a.admin)
    _connect_x(client, "acme")
    assert ChannelAccount.objects.filter(tenant=kit_a.tenant, platform=Platform.X).exists()
    assert not ChannelAccount.objects.filter(tenant=kit_b.tenant, platform=Platform.X).exists()
    # Demoted between the start and the callback: refused.
    start = _start(client, "x", "beta")
    Membership.objects.filter(tenant=kit_b.tenant, user=kit_a.admin.user).update(role=Role.AGENT)
    assert client.get(_approve(start["Location"], "authorize-app")).status_code == 403
    assert not ChannelAccount.objects.filter(tenant=kit_b.tenant, platform=Platform.X).exists()


@pytest.mark.django_db
def test_only_admins_start_and_unconfigured_apps_say_what_is_missing(kit_a, oauth_hosts, settings):
    assert _start(login(kit_a.agent), "x").status_code == 403
    assert _start(login(kit_a.supervisor), "facebook").status_code == 403
    assert login(kit_a.agent).get("/t/acme/channels/oauth/facebook/pages/").status_code == 403
    settings.SAC_X_OAUTH_CLIENT_ID = ""
    page = login(kit_a.admin).post("/t/acme/channels/oauth/x/start/", follow=True)
    assert b"needs SAC_X_OAUTH_CLIENT_ID" in page.content
    assert login(kit_a.admin).get("/t/acme/channels/oauth/x/start/").status_code == 405


@pytest.mark.django_db
def test_a_cancelled_or_refused_authorization_connects_nothing(kit_a, oauth_hosts):
    client = login(kit_a.admin)
    start = _start(client, "x")
    cancelled = client.get(_approve(start["Location"], "cancel"), follow=True)
    assert b"X did not authorize SAC (access_denied)" in cancelled.content
    # A PKCE verifier that does not match the challenge is refused by the token endpoint, said plainly.
    with pytest.raises(OAuthError, match="code verifier did not match"):
        start = _start(client, "x")
        callback = parse_qs(urlsplit(_approve(start["Location"], "authorize-app")).query)
        oauth_x.exchange_code(code=callback["code"][0], verifier="x" * 50,
                              redirect_uri="http://testserver/channels/oauth/x/callback/")
    assert not ChannelAccount.objects.filter(platform=Platform.X).exists()


@pytest.mark.django_db
def test_wrong_client_secret_is_an_operator_problem_not_a_500(kit_a, oauth_hosts, settings):
    settings.SAC_X_OAUTH_CLIENT_SECRET = "wrong"
    client = login(kit_a.admin)
    page = _connect_x(client)
    assert page.status_code == 302
    page = client.get(page["Location"])
    assert b"invalid_client" in page.content and b"SAC_X_OAUTH_CLIENT_SECRET" in page.content


@pytest.mark.django_db
def test_an_expired_x_token_is_refreshed_before_use(kit_a, oauth_hosts):
    sim = oauth_hosts
    _connect_x(login(kit_a.admin))
    channel = ChannelAccount.objects.get(tenant=kit_a.tenant, platform=Platform.X)
    old = channel.credentials
    sim.oauth.expire_x_access_tokens()
    ChannelAccount.objects.filter(pk=channel.pk).update(credentials={**old, "expires_at": int(time.time()) - 5})
    sim.add_post("@acmetelecom cobrança em dobro", author_username="joao")
    run = channel_poll(tenant_id=kit_a.tenant.pk, channel_id=channel.pk)
    assert run.outcome == "ok", run.error
    channel.refresh_from_db()
    assert channel.credentials["access_token"] != old["access_token"]
    assert channel.credentials["refresh_token"] != old["refresh_token"]  # X rotates it
    assert channel.credentials["expires_at"] > time.time() + 7000
    assert [r["grant_type"] for r in sim.oauth.token_requests] == ["authorization_code", "refresh_token"]
    assert Mention.objects.filter(channel=channel, text__contains="cobrança em dobro").exists()


@pytest.mark.django_db
def test_a_refused_refresh_marks_needs_reauth_and_reconnect_resumes(kit_a, oauth_hosts):
    sim = oauth_hosts
    client = login(kit_a.admin)
    _connect_x(client)
    channel = ChannelAccount.objects.get(tenant=kit_a.tenant, platform=Platform.X)
    sim.oauth.expire_x_access_tokens()
    sim.oauth.revoke_x_refresh_tokens()
    ChannelAccount.objects.filter(pk=channel.pk).update(
        credentials={**channel.credentials, "expires_at": int(time.time()) - 5})
    run = channel_poll(tenant_id=kit_a.tenant.pk, channel_id=channel.pk)
    assert run.outcome == "failed" and "connect the X account again" in run.error
    channel.refresh_from_db()
    assert channel.status == ChannelAccount.Status.NEEDS_REAUTH
    assert channel_poll(tenant_id=kit_a.tenant.pk, channel_id=channel.pk) is None  # polling stopped

    listing = client.get("/t/acme/channels/")
    assert f'id="reconnect-{channel.pk}"'.encode() in listing.content and b"Reconnect with X" in listing.content
    _connect_x(client)
    channel.refresh_from_db()
    assert channel.status == ChannelAccount.Status.ACTIVE and channel.status_detail == ""
    assert ChannelAccount.objects.filter(tenant=kit_a.tenant, platform=Platform.X).count() == 1
    assert channel_poll(tenant_id=kit_a.tenant.pk, channel_id=channel.pk).outcome == "ok"


@pytest.mark.django_db
def test_it_connects_a_facebook_page_and_its_instagram_account(kit_a, oauth_hosts):
    sim = oauth_hosts
    client = login(kit_a.admin)
    start = _start(client, "facebook")
    query = parse_qs(urlsplit(start["Location"]).query)
    assert start["Location"].startswith(f"{sim.base_url}/v21.0/dialog/oauth?")
    assert query["client_id"] == ["sac-demo"] and query["redirect_uri"] == [
        "http://testserver/channels/oauth/facebook/callback/"]
    assert "pages_show_list" in query["scope"][0] and "pages_messaging" in query["scope"][0]

    picker = client.get(_approve(start["Location"], "continue-as"), follow=True)
    assert picker.redirect_chain[-1][0] == "/t/acme/channels/oauth/facebook/pages/"
    assert b"Acme Telecom" in picker.content
    assert not [t for t in sim.oauth.page_tokens if t.encode() in picker.content]  # the page token stays hidden

    done = client.post("/t/acme/channels/oauth/facebook/pages/", {"page_id": PAGE_ID, "instagram": "on"},
                       follow=True)
    page = ChannelAccount.objects.get(tenant=kit_a.tenant, platform=Platform.FACEBOOK)
    insta = ChannelAccount.objects.get(tenant=kit_a.tenant, platform=Platform.INSTAGRAM)
    assert page.external_account_id == PAGE_ID and insta.external_account_id == INSTAGRAM_ACCOUNT_ID
    assert page.credentials["page_access_token"] in sim.oauth.page_tokens and page.credentials["verify_token"]
    assert page.api_base_url == f"{sim.base_url}/graph/v21.0"
    assert b"Acme Telecom connected" in done.content and b"on Instagram connected" in done.content
    assert page.credentials["page_access_token"].encode() not in done.content
    # The choice is used up.
    assert client.get("/t/acme/channels/oauth/facebook/pages/").status_code == 302

    sim.graph.add_comment("Sem sinal no bairro todo desde ontem", "Marta")
    run = channel_poll(tenant_id=kit_a.tenant.pk, channel_id=page.pk)
    assert run.outcome == "ok", run.error
    assert Mention.objects.filter(channel=page, text__contains="Sem sinal no bairro").count() == 1


@pytest.mark.django_db
def test_the_page_choice_belongs_to_one_admin_and_one_tenant(kit_a, kit_b, oauth_hosts):
    membership_ensure(tenant=kit_b.tenant, username="acme-admin", role=Role.ADMIN)
    client = login(kit_a.admin)
    client.get(_approve(_start(client, "facebook")["Location"], "continue-as"))
    # Another admin, and the same admin in another tenant, have no pending choice; nothing of A is shown.
    for other, slug in ((login(kit_b.admin), "beta"), (client, "beta")):
        response = other.post(f"/t/{slug}/channels/oauth/facebook/pages/", {"page_id": PAGE_ID})
        assert response.status_code == 302 and response["Location"] == f"/t/{slug}/channels/connect/"
        assert not ChannelAccount.objects.filter(tenant=kit_b.tenant, platform=Platform.FACEBOOK).exists()
    assert login(kit_b.admin).get("/t/acme/channels/oauth/facebook/pages/").status_code == 404
    bad = client.post("/t/acme/channels/oauth/facebook/pages/", {"page_id": "999"})
    assert bad.status_code == 400 and b"Pick one of the pages listed" in bad.content


@pytest.mark.django_db
def test_facebook_errors_are_messages_not_500s(kit_a, oauth_hosts, settings):
    client = login(kit_a.admin)
    callback = _approve(_start(client, "facebook")["Location"], "continue-as")
    code = parse_qs(urlsplit(callback).query)["code"][0]
    oauth_facebook.exchange_code(code=code, redirect_uri="http://testserver/channels/oauth/facebook/callback/")
    with pytest.raises(OAuthError, match="authorization code has been used"):
        oauth_facebook.exchange_code(code=code, redirect_uri="http://testserver/channels/oauth/facebook/callback/")
    with pytest.raises(OAuthError, match="code 190"):
        oauth_facebook.pages(user_token="not-a-token")
    denied = client.get(_approve(_start(client, "facebook")["Location"], "cancel"), follow=True)
    assert b"Facebook did not authorize SAC (user_denied)" in denied.content
    settings.SAC_FACEBOOK_APP_SECRET = "wrong"
    failed = client.get(_approve(_start(client, "facebook")["Location"], "continue-as"), follow=True)
    assert b"Error validating client secret" in failed.content
    assert not ChannelAccount.objects.filter(platform=Platform.FACEBOOK).exists()


def test_the_simulator_answers_in_the_shapes_of_the_reference_fixtures(oauth_hosts):
    """The fixtures are built from the API reference; the simulator must not drift from them."""
    for name in ("x_token.json", "x_error_invalid_grant.json", "facebook_me_accounts.json", "facebook_error_190.json"):
        assert "not recorded" in fixture(name)["_source"]
    base = oauth_hosts.base_url
    refused = requests.post(f"{base}/2/oauth2/token", data={"grant_type": "refresh_token", "refresh_token": "nope"},
                            auth=("sac-demo", "sac-demo-secret"), timeout=5)
    expected = fixture("x_error_invalid_grant.json")
    assert refused.status_code == expected["status"] and refused.json() == expected["body"]
    bad_client = requests.post(f"{base}/2/oauth2/token", data={"grant_type": "refresh_token"},
                               auth=("sac-demo", "wrong"), timeout=5)
    assert bad_client.status_code == 401 and bad_client.json()["error"] == "invalid_client"
    graph = requests.get(f"{base}/graph/v21.0/me/accounts", params={"access_token": "nope"}, timeout=5)
    assert graph.status_code == 400
    assert set(graph.json()["error"]) >= set(fixture("facebook_error_190.json")["body"]["error"]) - {"fbtrace_id"}
    assert graph.json()["error"]["code"] == 190


@pytest.mark.django_db(transaction=True)
def test_two_workers_renewing_at_once_use_the_refresh_token_once(kit_a, oauth_hosts):
    """X rotates refresh tokens: without the row lock the second renewal would be refused and the channel
    wrongly marked needs_reauth."""
    from django.db import connection as default_connection

    from channels_ingest.oauth.services import x_credentials_fresh

    sim = oauth_hosts
    _connect_x(login(kit_a.admin))
    channel = ChannelAccount.objects.get(tenant=kit_a.tenant, platform=Platform.X)
    sim.oauth.expire_x_access_tokens()
    ChannelAccount.objects.filter(pk=channel.pk).update(
        credentials={**channel.credentials, "expires_at": int(time.time()) - 5})
    sim.oauth.token_delay_seconds = 0.5
    barrier, results, errors = threading.Barrier(2), [], []

    def renew() -> None:
        try:
            mine = ChannelAccount.objects.get(pk=channel.pk)  # each worker loaded the expired row
            barrier.wait()
            results.append(x_credentials_fresh(mine)["access_token"])
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            default_connection.close()

    workers = [threading.Thread(target=renew) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=20)
    assert not errors and len(results) == 2 and results[0] == results[1]
    assert [r["grant_type"] for r in sim.oauth.token_requests].count("refresh_token") == 1
    channel.refresh_from_db()
    assert channel.status == ChannelAccount.Status.ACTIVE
