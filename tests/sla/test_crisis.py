from datetime import UTC, datetime, timedelta

import pytest

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
