"""The CRM panel on the case page, in a real browser: the page renders without waiting for the CRM, the
panel fills in from the fake CRM, the agent links the suggested record; a CRM that hangs shows "unavailable"."""

import time

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from channels_ingest.services import channel_poll
from crm_bridge.fake_crm import FakeCrmServer
from crm_bridge.models import IdentityLink
from crm_bridge.services import HUBSPOT_PRESET, crm_config_ensure

from .conftest import browser_login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def fake_crm():
    server = FakeCrmServer(port=0).start()
    cache.clear()
    yield server
    server.delay_seconds = 0
    server.stop()



def test_the_agent_sees_the_crm_record_and_links_it(live_server, page, kit_a, fake_crm):
    crm_config_ensure(tenant=kit_a.tenant, kind="rest", base_url=fake_crm.base_url, timeout_seconds=0.5,
                      auth_header={"name": "Authorization", "value": "Bearer demo"}, **HUBSPOT_PRESET)
    kit_a.simulator.add_post("@acmetelecom sem sinal desde ontem, absurdo!", author_username="marianaflores_")
    channel_poll(tenant_id=kit_a.tenant.pk, channel_id=kit_a.channel.pk)
    browser_login(page, live_server.url, "acme-agent")
    page.click("#claim-next")
    panel = page.locator("#crm-panel")
    expect(panel).to_contain_text("Suggested (same handle)")
    expect(panel).to_contain_text("Fibra 500 Mega")
    expect(panel).to_contain_text("Troca de roteador")
    panel.locator("button.crm-link").first.click()
    expect(panel).to_contain_text("Linked to Mariana")
    assert IdentityLink.objects.filter(tenant=kit_a.tenant).count() == 1

    fake_crm.delay_seconds = 5
    cache.clear()
    started = time.monotonic()
    page.reload()
    expect(page.locator("#case-protocol")).to_be_visible()
    expect(panel).to_contain_text("CRM unavailable", timeout=5_000)
    assert time.monotonic() - started < 4
