from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command

from sla.models import SLARollupHour
from sla.selectors import Filters, period_parse, rollups_check, volume
from sla.services import sla_sweep
from tests.factories import open_case

pytestmark = pytest.mark.django_db


def test_rollups_follow_every_case_and_event_and_a_rebuild_repairs_them(kit_a, kit_b, capsys):
    now = datetime.now(UTC)
    for n, hours in enumerate((1, 3, 26, 50)):
        open_case(kit_a, posted_at=now - timedelta(hours=hours), author_id=f"4{n}", handle=f"r{n}")
    open_case(kit_b, posted_at=now - timedelta(hours=2))
    sla_sweep()  # missed first responses become events, counted in the same transaction
    # 4 first responses missed, and 2 resolutions (the cases older than the 24-hour target)
    assert sum(r.missed for r in SLARollupHour.objects.filter(tenant=kit_a.tenant)) == 6
    assert sum(r.inbound for r in SLARollupHour.objects.filter(tenant=kit_a.tenant)) == 4
    assert rollups_check(kit_a.tenant) == [] and rollups_check(kit_b.tenant) == []

    period = period_parse(kit_a.tenant, "7d")
    from_rollups = volume(kit_a.tenant, period, Filters(), by="day")
    from_cases = volume(kit_a.tenant, period, Filters(category="__force_raw__"), by="day")
    assert sum(n for _, n in from_rollups) == 4 and [d for d, _ in from_rollups] == [d for d, _ in from_cases]

    SLARollupHour.objects.filter(tenant=kit_a.tenant).update(inbound=99)
    with pytest.raises(CommandError):
        call_command("sla_rollups", "--check", "--tenant", "acme")
    assert "MISMATCH" in capsys.readouterr().out
    call_command("sla_rollups", "--rebuild", "--tenant", "acme")
    call_command("sla_rollups", "--check")
    assert "acme: OK" in capsys.readouterr().out
    assert sum(r.inbound for r in SLARollupHour.objects.filter(tenant=kit_b.tenant)) == 1  # B untouched
