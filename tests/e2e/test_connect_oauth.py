"""A tenant admin connects X and a Facebook page from the product UI, through the networks' sign-in pages
(the loopback simulator's), and the first poll fills the inbox."""

import re

import pytest
from playwright.sync_api import expect

from channels_ingest.models import ChannelAccount, Platform
from channels_ingest.services import channel_poll
from inbox.models import Case

from ..channels_ingest.test_oauth import oauth_hosts  # noqa: F401  (the fixture: hosts → simulator)
from .conftest import browser_login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]



def test_an_admin_connects_x_with_oauth_and_the_first_poll_fills_the_inbox(live_server, page, kit_a, oauth_hosts):  # noqa: F811
    sim = oauth_hosts
    sim.add_post("@acmetelecom internet caiu e ninguém atende, absurdo!", author_username="bruna")
    browser_login(page, live_server.url, "acme-admin")
    page.goto(f"{live_server.url}/t/acme/channels/connect/")
    expect(page.locator("#oauth-simulated")).to_be_visible()  # the page says where the sign-in really goes
    page.click("#connect-x")
    expect(page.locator("h1")).to_have_text("Authorize SAC to access your account?")
    assert page.url.startswith(sim.base_url)
    page.click("#authorize-app")
    expect(page.locator("body")).to_contain_text("@acmetelecom on X connected")
    channel = ChannelAccount.objects.get(tenant=kit_a.tenant, platform=Platform.X)
    expect(page).to_have_url(re.compile(rf"/t/acme/channels/{channel.pk}/$"))
    assert channel.credentials["access_token"] not in page.content()

    run = channel_poll(tenant_id=kit_a.tenant.pk, channel_id=channel.pk)
    assert run.outcome == "ok", run.error
    assert Case.objects.filter(tenant=kit_a.tenant).count() == 1
    page.goto(f"{live_server.url}/t/acme/channels/")
    expect(page.locator("tbody")).to_contain_text("@acmetelecom on X")


def test_an_admin_connects_a_facebook_page_picked_after_login(live_server, page, kit_a, oauth_hosts):  # noqa: F811
    sim = oauth_hosts
    sim.graph.add_comment("Minha conta veio errada de novo, quero falar com alguém", "Paula")
    browser_login(page, live_server.url, "acme-admin")
    page.goto(f"{live_server.url}/t/acme/channels/connect/")
    page.click("#connect-facebook")
    expect(page.locator("h1")).to_have_text("SAC is requesting access to your Pages")
    page.click("#continue-as")
    expect(page.locator("h1")).to_have_text("Pick the page to connect")
    expect(page.locator("#page-picker")).to_contain_text("Acme Telecom")
    page.click("#connect-page")
    expect(page.locator("body")).to_contain_text("Acme Telecom connected")
    channel = ChannelAccount.objects.get(tenant=kit_a.tenant, platform=Platform.FACEBOOK)
    assert channel.credentials["page_access_token"] not in page.content()

    run = channel_poll(tenant_id=kit_a.tenant.pk, channel_id=channel.pk)
    assert run.outcome == "ok", run.error
    assert Case.objects.filter(tenant=kit_a.tenant, case_mentions__mention__channel=channel).exists()
