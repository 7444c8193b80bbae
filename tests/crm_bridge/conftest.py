import pytest
from django.core.cache import cache

from crm_bridge.fake_crm import FakeCrmServer
from crm_bridge.models import CrmConfig
from crm_bridge.services import HUBSPOT_PRESET, crm_config_ensure


@pytest.fixture
def fake_crm():
    server = FakeCrmServer(port=0).start()
    cache.clear()  # this run's own Redis database: no cached answer or open breaker from an earlier test
    yield server
    server.delay_seconds = 0
    server.stop()


@pytest.fixture
def rest_crm(kit_a, fake_crm) -> CrmConfig:
    return crm_config_ensure(tenant=kit_a.tenant, kind="rest", base_url=fake_crm.base_url,
                             auth_header={"name": "Authorization", "value": "Bearer test-secret"},
                             timeout_seconds=0.4, cache_ttl_seconds=300, **HUBSPOT_PRESET)
