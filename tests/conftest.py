"""Base fixtures: two tenants (A = Acme, B = Beta), their people, simulator channels, a running simulator."""

from pathlib import Path

import pytest
from django.test import Client

from channels_ingest.models import Platform
from channels_ingest.services import channel_create
from channels_ingest.simulator import SimulatorServer
from sac.models import Role
from sac.services import membership_ensure, tenant_create

from .factories import BRAND_ID, TenantKit

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture
def simulator():
    """A fresh loopback X simulator per test (starting one takes a millisecond); posts only when a test adds them."""
    server = SimulatorServer(port=0, seed=11, rate_per_minute=0, initial_posts=0).start()
    yield server
    server.stop()


def _kit(slug: str, name: str, simulator: SimulatorServer) -> TenantKit:
    # English pages, so tests read the labels they click; tests/test_i18n.py covers pt-BR.
    tenant = tenant_create(slug=slug, name=name, locale="en")
    channel = channel_create(
        tenant=tenant, platform=Platform.SIMULATOR, name=f"@{slug} on X", external_account_id=BRAND_ID,
        handle=slug, api_base_url=simulator.base_url,
        credentials={"bearer_token": "t", "consumer_key": "k", "consumer_secret": "s", "access_token": "a",
                     "access_token_secret": "b"},
    )
    members = {
        role: membership_ensure(tenant=tenant, username=f"{slug}-{role}", role=role, password="pw",
                                first_name=role.capitalize())
        for role in (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)
    }
    agent2 = membership_ensure(tenant=tenant, username=f"{slug}-agent2", role=Role.AGENT, password="pw")
    return TenantKit(tenant=tenant, channel=channel, agent=members[Role.AGENT], agent2=agent2,
                     supervisor=members[Role.SUPERVISOR], admin=members[Role.ADMIN], simulator=simulator)


@pytest.fixture
def kit_a(db, simulator) -> TenantKit:
    return _kit("acme", "Acme Telecom", simulator)


@pytest.fixture
def kit_b(db, simulator) -> TenantKit:
    return _kit("beta", "Beta Bank", simulator)


def login(membership) -> Client:
    client = Client()
    client.force_login(membership.user)
    return client


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is not present: this conformance test reads the recorded payloads there")
    return SHARED


@pytest.fixture(scope="session", autouse=True)
def _fresh_cache():
    """The test database is created anew for each run, so tenant ids start again at 1: values cached under them by
    an earlier run a few minutes before (the queue's filter values live 5 minutes) must not answer for this run's
    tenants. The test settings' Redis database is the suite's own."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _fresh_online_marks():
    """sac.tenancy remembers, per process, whom it marked online in the last 30 s; a test starts with no memory of
    another's (their ids can repeat, their cache is cleared)."""
    from sac import tenancy

    tenancy._marked_at.clear()
    yield
    tenancy._marked_at.clear()
