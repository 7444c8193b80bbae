from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from channels_ingest.models import Mention
from sla.selectors import crisis
from tests.conftest import login
from tests.factories import open_case

pytestmark = pytest.mark.django_db
ANGRY = "Absurdo! Péssimo atendimento, três dias sem internet, vou no Procon!"


def test_a_spike_of_negative_mentions_raises_a_crisis_with_its_posts(kit_a, kit_b, settings):
    settings.SAC_SLA_CRISIS_MIN, settings.SAC_SLA_CRISIS_FACTOR = 3, 2
    now = datetime.now(UTC)
    # The same hour a week ago: one complaint (baseline 1/4 over four weeks).
    open_case(kit_a, ANGRY, posted_at=now - timedelta(weeks=1, minutes=10), author_id="80", handle="old")
    assert crisis(kit_a.tenant) is None
    for n in range(3):
        open_case(kit_a, ANGRY, posted_at=now - timedelta(minutes=5 + n), author_id=f"8{n + 1}", handle=f"angry{n}")
    alert = crisis(kit_a.tenant)
    assert alert is not None and alert.count == 3 and alert.baseline == 0.25
    assert {m.author.handle for m in alert.posts} == {"angry0", "angry1", "angry2"}
    page = login(kit_a.supervisor).get("/t/acme/sla/now/").content.decode()
    assert 'id="crisis"' in page and "angry0" in page
    assert crisis(kit_b.tenant) is None
    assert "angry0" not in login(kit_b.supervisor).get("/t/beta/sla/now/").content.decode()


def test_a_crisis_reaches_the_supervisors_in_their_digest_once(kit_a, kit_b, settings):
    from django.core import mail
    from django.test import TestCase

    from sla.models import SLACrisis
    from sla.services import sla_digest_send

    settings.SAC_SLA_CRISIS_MIN, settings.SAC_SLA_CRISIS_FACTOR = 3, 2
    for kit, address in ((kit_a, "sup@acme.test"), (kit_b, "sup@beta.test")):
        kit.supervisor.user.email = address
        kit.supervisor.user.save(update_fields=["email"])
    now = datetime.now(UTC)
    for n in range(4):
        open_case(kit_a, ANGRY, posted_at=now - timedelta(minutes=5 + n), author_id=f"7{n}", handle=f"furious{n}")
    open_case(kit_b, ANGRY, posted_at=now - timedelta(minutes=5), author_id="79", handle="calm")  # no spike at B
    mail.outbox.clear()
    with TestCase.captureOnCommitCallbacks(execute=True):
        sla_digest_send()
    to_sup = [m for m in mail.outbox if m.to == ["sup@acme.test"]]
    assert len(to_sup) == 1, [m.subject for m in mail.outbox]
    assert "1 crisis alert" in to_sup[0].subject
    assert "CRISIS: 4 negative mentions" in to_sup[0].body and "@furious0" in to_sup[0].body
    assert not [m for m in mail.outbox if m.to == ["sup@beta.test"]]
    assert not [m for m in mail.outbox if "furious" in m.body and m.to != ["sup@acme.test"]
                and m.to[0] not in (kit_a.admin.user.email, kit_a.agent.user.email)]
    # The spike goes on: the next digests do not repeat it (one per tenant and hour), and agents never get it.
    mail.outbox.clear()
    with TestCase.captureOnCommitCallbacks(execute=True):
        sla_digest_send()
    assert not [m for m in mail.outbox if "CRISIS" in m.body]
    assert SLACrisis.objects.filter(tenant=kit_a.tenant).count() == 1
    assert not SLACrisis.objects.filter(tenant=kit_b.tenant).exists()
    page = login(kit_a.supervisor).get("/t/acme/sla/alerts/").content.decode()
    assert "Crisis" in page and "furious" in page
    assert "furious" not in login(kit_a.agent).get("/t/acme/sla/alerts/").content.decode()
    assert "furious" not in login(kit_b.supervisor).get("/t/beta/sla/alerts/").content.decode()


def test_the_dashboard_shows_the_crisis_check_the_watch_kept_per_tenant_with_its_time(kit_a, kit_b, settings):
    from django.core.cache import cache

    from sla.selectors import crisis_cache_key
    from sla.services import sla_crisis_watch

    settings.SAC_SLA_CRISIS_MIN, settings.SAC_SLA_CRISIS_FACTOR, settings.SAC_SLA_CRISIS_MAX_AGE = 3, 2, 120
    for kit in (kit_a, kit_b):
        cache.delete(crisis_cache_key(kit.tenant))
    assert crisis_cache_key(kit_a.tenant) != crisis_cache_key(kit_b.tenant)
    now = datetime.now(UTC)
    for n in range(3):
        open_case(kit_a, ANGRY, posted_at=now - timedelta(minutes=5 + n), author_id=f"9{n}", handle=f"irate{n}")
    open_case(kit_b, ANGRY, posted_at=now - timedelta(minutes=5), author_id="99", handle="calm")
    checked_at = now - timedelta(seconds=30)
    assert sla_crisis_watch(now=checked_at) >= 2

    a_page = login(kit_a.supervisor).get("/t/acme/sla/now/").content.decode()
    b_page = login(kit_b.supervisor).get("/t/beta/sla/now/").content.decode()
    # Each tenant sees its own check, and when it was made (the tenant's zone, São Paulo here).
    shown = checked_at.astimezone(ZoneInfo(kit_a.tenant.time_zone)).strftime("%H:%M:%S")
    assert 'id="crisis"' in a_page and "irate0" in a_page and shown in a_page
    assert 'id="crisis"' not in b_page and "irate0" not in b_page and 'id="crisis-check"' in b_page and shown in b_page

    # The kept check is what the page shows while it is recent: a spike that began since waits for the next check.
    for n in range(3):
        open_case(kit_b, ANGRY, posted_at=now - timedelta(minutes=2 + n), author_id=f"98{n}", handle=f"late{n}")
    assert 'id="crisis"' not in login(kit_b.supervisor).get("/t/beta/sla/now/").content.decode()
    # Older than SAC_SLA_CRISIS_MAX_AGE: the page makes its own check.
    settings.SAC_SLA_CRISIS_MAX_AGE = 10
    b_page = login(kit_b.supervisor).get("/t/beta/sla/now/").content.decode()
    assert 'id="crisis"' in b_page and "late0" in b_page and "irate0" not in b_page

    # A kept check is read back through its tenant: another tenant's post ids in it show nothing of theirs.
    settings.SAC_SLA_CRISIS_MAX_AGE = 120
    a_ids = list(Mention.objects.filter(tenant=kit_a.tenant).values_list("pk", flat=True))
    cache.set(crisis_cache_key(kit_b.tenant), {"at": datetime.now(UTC), "count": 9, "baseline": 0.0,
                                               "post_ids": a_ids}, timeout=60)
    b_page = login(kit_b.supervisor).get("/t/beta/sla/now/").content.decode()
    assert 'id="crisis"' in b_page and "irate0" not in b_page
