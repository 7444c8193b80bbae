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


def test_resolved_cases_are_counted_in_their_hour_for_the_deflection_panel(kit_a, kit_b):
    from zoneinfo import ZoneInfo

    from django.utils import timezone

    from inbox.models import Case
    from inbox.services import case_status_change
    from surveys.selectors import deflection

    now = datetime.now(UTC)
    cases = [open_case(kit_a, posted_at=now - timedelta(hours=2 + n), author_id=f"6{n}", handle=f"s{n}")
             for n in range(3)]
    for case in cases[:2]:
        case_status_change(tenant=kit_a.tenant, membership=kit_a.supervisor, case=case, new_status="resolved")
    b_case = open_case(kit_b, posted_at=now - timedelta(hours=1))
    case_status_change(tenant=kit_b.tenant, membership=kit_b.supervisor, case=b_case, new_status="resolved")
    def resolved(kit):
        today = timezone.localdate()  # in the active zone: Kolkata's day may already be tomorrow
        return deflection(kit.tenant, today - timedelta(days=6), today).social_resolved

    assert (resolved(kit_a), resolved(kit_b)) == (2, 1)
    assert sum(r.resolved for r in SLARollupHour.objects.filter(tenant=kit_a.tenant)) == 2
    # Reopened: out of the count until it is resolved again.
    case_status_change(tenant=kit_a.tenant, membership=kit_a.supervisor,
                       case=Case.objects.get(tenant=kit_a.tenant, pk=cases[0].pk), new_status="open")
    assert resolved(kit_a) == 1
    assert rollups_check(kit_a.tenant) == [] and rollups_check(kit_b.tenant) == []
    # A zone on a half hour: days do not start on whole UTC hours, so the cases themselves are counted.
    with timezone.override(ZoneInfo("Asia/Kolkata")):
        assert resolved(kit_a) == Case.objects.filter(tenant=kit_a.tenant, resolved_at__isnull=False).count() == 1

    SLARollupHour.objects.filter(tenant=kit_a.tenant).update(resolved=3)
    assert any("rollup" in line for line in rollups_check(kit_a.tenant))
    call_command("sla_rollups", "--rebuild", "--tenant", "acme")
    assert rollups_check(kit_a.tenant) == [] and resolved(kit_a) == 1 and resolved(kit_b) == 1


def test_the_period_charts_summed_by_the_database_equal_the_per_hour_sums(kit_a, kit_b):
    from sla.selectors import hour_of_day_profile, period_summary

    now = datetime.now(UTC)
    # All within "7d" (today and the 6 days before it, in the brand's zone) whatever the hour: at most 144 hours back.
    for n, hours in enumerate((1, 5, 23, 30, 49, 100, 140)):
        open_case(kit_a, posted_at=now - timedelta(hours=hours), author_id=f"7{n}", handle=f"v{n}")
    open_case(kit_b, posted_at=now - timedelta(hours=2))
    for key, by in (("today", "hour"), ("7d", "day"), ("30d", "day")):
        period = period_parse(kit_a.tenant, key)
        for filters in (Filters(), Filters(channel_id=kit_a.channel.pk), Filters(channel_id=kit_b.channel.pk)):
            summary = period_summary(kit_a.tenant, period, filters, by=by)
            assert summary["volume"] == volume(kit_a.tenant, period, filters, by=by)
            assert summary["profile"] == hour_of_day_profile(kit_a.tenant, period, filters)
            assert summary["first_response"]["cases"] == sum(n for _, n in summary["volume"])
    assert sum(n for _, n in period_summary(kit_a.tenant, period_parse(kit_a.tenant, "7d"), Filters())["volume"]) == 7
