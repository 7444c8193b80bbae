"""The dashboard's period figures come from duration histograms (sla.histograms); they must equal, to the last bit,
the same figures computed from the cases themselves."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command

from inbox.models import Case
from inbox.services import case_status_change
from sla.histograms import blocks_covering, bucket_of, durations_sync
from sla.models import SLADuration, SLADurationBlock
from sla.selectors import (
    Filters,
    _figures_aggregates,
    _figures_from_histograms,
    cases_in_period,
    period_parse,
    rollups_check,
)
from tests.factories import open_case

pytestmark = pytest.mark.django_db
ENDS = ("first_response_at", "resolved_at")


def test_buckets_keep_the_60_and_120_minute_edges_and_blocks_tile_any_period_of_whole_hours():
    assert bucket_of(3600) == 12 < bucket_of(3601) and bucket_of(7200) == 24 < bucket_of(7201)
    values = [-5000, -1, 0, 1, 299, 300, 301, 86_400, 86_401, 30 * 86_400, 30 * 86_400 + 1, 10**8]
    assert [bucket_of(v) for v in values] == sorted(bucket_of(v) for v in values)
    since = datetime(2025, 11, 24, 3, tzinfo=UTC)
    for days in (1, 7, 30, 365, 400):
        blocks = blocks_covering(since, since + timedelta(days=days))
        hours = sorted(h for g, start in blocks for h in range(int(start.timestamp()) // 3600,
                                                                int(start.timestamp()) // 3600 + (1 << g)))
        assert hours == list(range(int(since.timestamp()) // 3600, int(since.timestamp()) // 3600 + 24 * days))
        assert len(blocks) <= 30  # a few blocks per grain, whatever the length
    assert blocks_covering(since + timedelta(minutes=30), since + timedelta(days=1)) is None


def _seed(kit, now):
    """Cases with awkward durations: sub-second, exactly on the 60-minute edge, a second past it, unanswered,
    resolved, one reopened (its resolution time must leave the histogram)."""
    minutes = [0.2, 7, 7, 59.99, 60, 60 + 1 / 60, 60.5, 119, 120, 121, 600, 3000, 50_000]
    cases = []
    for n, m in enumerate(minutes):
        case = open_case(kit, posted_at=now - timedelta(hours=1 + n * 7, seconds=n * 13, microseconds=n * 7919),
                         author_id=f"31{n}", handle=f"d{n}")
        fr = case.first_message_at + timedelta(minutes=m, microseconds=n * 104729)
        resolved = case.first_message_at + timedelta(minutes=m * 3 + n) if n % 3 else None
        Case.objects.filter(pk=case.pk).update(first_response_at=fr, resolved_at=resolved,
                                               status="resolved" if resolved else "open")
        durations_sync(tenant_id=kit.tenant.pk, case_id=case.pk)
        cases.append(case)
    open_case(kit, posted_at=now - timedelta(hours=2), author_id="3199", handle="unanswered")
    return cases


def _figures_equal(tenant, period, filters):
    fast = _figures_from_histograms(tenant, period, filters)
    raw = _figures_aggregates(cases_in_period(tenant, period, filters), "first_message_at", ENDS)
    assert fast is not None
    for end in ENDS:
        assert fast[end] == raw[end], (end, fast[end], raw[end])
    return fast


def test_histogram_figures_equal_the_raw_figures_exactly(kit_a, kit_b):
    now = datetime.now(UTC)
    _seed(kit_a, now)
    _seed(kit_b, now - timedelta(days=2))
    for key in ("today", "7d", "30d"):
        fast = _figures_equal(kit_a.tenant, period_parse(kit_a.tenant, key), Filters())
    assert fast["first_response_at"]["answered"] == 13 and fast["first_response_at"]["cases"] == 14
    assert fast["first_response_at"]["within_60_share"] == 5 / 13  # 0.2, 7, 7, 59.99 and exactly 60 minutes
    year = period_parse(kit_a.tenant, "custom", str((now - timedelta(days=364)).date()), str(now.date()))
    _figures_equal(kit_a.tenant, year, Filters())
    _figures_equal(kit_a.tenant, year, Filters(channel_id=kit_a.channel.pk))
    assert _figures_equal(kit_a.tenant, year, Filters(channel_id=kit_b.channel.pk))["first_response_at"][
        "answered"] == 0  # another tenant's channel: nothing of theirs leaks in
    assert _figures_from_histograms(kit_a.tenant, year, Filters(category="billing")) is None  # read from the cases
    assert rollups_check(kit_a.tenant) == [] and rollups_check(kit_b.tenant) == []


def test_a_reopened_case_leaves_the_resolution_histogram_and_a_rebuild_repairs_drift(kit_a, capsys):
    now = datetime.now(UTC)
    case = open_case(kit_a, posted_at=now - timedelta(hours=3))
    case = case_status_change(tenant=kit_a.tenant, membership=kit_a.supervisor, case=case, new_status="resolved")
    assert SLADuration.objects.filter(tenant=kit_a.tenant, case=case, measure=2).exists()
    case = case_status_change(tenant=kit_a.tenant, membership=kit_a.supervisor, case=case, new_status="open")
    assert not SLADuration.objects.filter(tenant=kit_a.tenant, case=case, measure=2).exists()
    _figures_equal(kit_a.tenant, period_parse(kit_a.tenant, "7d"), Filters())
    assert rollups_check(kit_a.tenant) == []

    SLADurationBlock.objects.filter(tenant=kit_a.tenant).update(n=7)
    with pytest.raises(CommandError):
        call_command("sla_rollups", "--check", "--tenant", "acme")
    assert "MISMATCH" in capsys.readouterr().out
    call_command("sla_rollups", "--rebuild", "--tenant", "acme")
    call_command("sla_rollups", "--check", "--tenant", "acme")
    assert "acme: OK" in capsys.readouterr().out


def test_top_categories_follow_openings_and_an_agents_correction(kit_a, kit_b):
    from django.db.models import Count

    from inbox.services import triage_correct
    from sla.selectors import period_summary

    now = datetime.now(UTC)
    texts = ["A internet caiu de novo, não funciona nada!", "Fui cobrado duas vezes na fatura, quero estorno",
             "Como faço para mudar meu plano? Não consigo pelo app", "Quero cancelar, o sinal não funciona!"]
    cases = [open_case(kit_a, text, posted_at=now - timedelta(hours=2 + n), author_id=f"41{n}", handle=f"t{n}")
             for n, text in enumerate(texts * 2)]
    open_case(kit_b, texts[0], posted_at=now - timedelta(hours=1))
    period = period_parse(kit_a.tenant, "7d")

    def raw():
        return list(cases_in_period(kit_a.tenant, period, Filters()).exclude(category="").values("category")
                    .annotate(n=Count("pk")).order_by("-n", "category")[:8])

    assert period_summary(kit_a.tenant, period, Filters())["top_categories"] == raw()
    assert sum(row["n"] for row in raw()) == len(cases)
    triage_correct(tenant=kit_a.tenant, membership=kit_a.agent, case=cases[0], category="noise",
                   requires_response=False)
    top = period_summary(kit_a.tenant, period, Filters())["top_categories"]
    assert top == raw() and {"category": "noise", "n": 1} in top
    channel_top = period_summary(kit_a.tenant, period, Filters(channel_id=kit_a.channel.pk))["top_categories"]
    assert channel_top == top
    assert period_summary(kit_a.tenant, period, Filters(channel_id=kit_b.channel.pk))["top_categories"] == []
    assert rollups_check(kit_a.tenant) == [] and rollups_check(kit_b.tenant) == []
