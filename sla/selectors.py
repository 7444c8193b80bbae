import logging
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.cache import cache
from django.db import connection
from django.db.models import Aggregate, Count, F, FloatField, Func, Q, QuerySet, Sum
from django.db.models.functions import ExtractHour, TruncDay, TruncHour
from django.shortcuts import get_object_or_404
from django.utils import timezone

from channels_ingest.models import Mention
from inbox.models import OPEN_STATUSES, Case, MentionTriage
from sac.bulk import of_tenant_by_ids
from sac.models import Membership, Tenant
from sac.tenancy import online_user_ids

from .histograms import (
    blocks_covering,
    categories_check,
    durations_check,
    period_durations,
    top_categories,
    whole_seconds,
)
from .hours import CalendarError, Hours
from .models import BusinessCalendar, Measure, SLAEvent, SLANotification, SLAPolicy, SLARollupHour

log = logging.getLogger(__name__)

# Used when a tenant has not set a policy yet: an hour to answer, a day to solve, calendar hours.
FALLBACK = SLAPolicy(name="Default", first_response_minutes=60, resolution_minutes=24 * 60, is_default=True)


def policy_for(tenant: Tenant) -> SLAPolicy:
    return SLAPolicy.objects.filter(tenant=tenant, is_default=True).first() or FALLBACK


def _matches(policy: SLAPolicy, case: Case) -> bool:
    return ((policy.min_priority is None or case.priority >= policy.min_priority)
            and (policy.channel_id is None or policy.channel_id == case.channel_id)
            and (not policy.category or policy.category == case.category))


def policies_of(tenant: Tenant) -> list[SLAPolicy]:
    """The tenant's policies in the admin's order (load once, then `policy_pick` per case)."""
    return list(SLAPolicy.objects.filter(tenant=tenant).select_related("calendar").order_by("position", "pk"))


def policy_pick(policies: list[SLAPolicy], case: Case) -> SLAPolicy:
    """The first policy in the admin's order whose conditions all match; then the default; then FALLBACK."""
    default = None
    for policy in policies:
        if policy.is_default:
            default = policy
        elif _matches(policy, case):
            return policy
    return default or FALLBACK


def policy_match(tenant: Tenant, case: Case) -> SLAPolicy:
    return policy_pick(policies_of(tenant), case)


def hours_for(tenant: Tenant, policy: SLAPolicy) -> Hours:
    calendar = policy.calendar if policy.calendar_id else None
    if calendar is None:
        return Hours.always(tenant.time_zone)
    try:
        hours = Hours.from_config(tz=tenant.time_zone, windows=calendar.windows, country=calendar.country,
                                  subdivision=calendar.subdivision, extra_holidays=calendar.extra_holidays)
        hours.add(timezone.now(), 1)  # a calendar without any working time fails here, not in the inbox
        return hours
    except CalendarError:  # Hours reports every way a stored calendar can be wrong as one CalendarError
        # A broken calendar must never stop cases from opening (this runs inside the inbox's transaction):
        # the clocks fall back to calendar hours and the error is logged for the admin to fix.
        log.exception("sla: calendar %s of tenant %s is invalid; using calendar hours", calendar.pk, tenant.pk)
        return Hours.always(tenant.time_zone)


def compliance(tenant: Tenant, *, since: datetime, until: datetime, where: Q | None = None) -> dict[str, Any]:
    """Targets met ÷ (met + missed) among the events recorded in [since, until)."""
    rows = SLAEvent.objects.filter(tenant=tenant, at__gte=since, at__lt=until).filter(where or Q()).aggregate(
        n_met=Count("pk", filter=Q(met=True)), n_missed=Count("pk", filter=Q(met=False)))
    total = rows["n_met"] + rows["n_missed"]
    return {"met": rows["n_met"], "missed": rows["n_missed"],
            "percent": round(100 * rows["n_met"] / total, 1) if total else None}


# ---------------------------------------------------------------- the supervisor dashboard

PRIORITY_BANDS = (("urgent", 80, 1000), ("high", 60, 80), ("normal", 40, 60), ("low", 0, 40))


@dataclass(frozen=True)
class Period:
    since: datetime
    until: datetime
    key: str  # today | 7d | 30d | custom

    @property
    def last_day(self) -> date:
        """The last day the period covers (`until` is the exclusive midnight after it)."""
        return (self.until - timedelta(seconds=1)).date()


@dataclass(frozen=True)
class Filters:
    channel_id: int | None = None
    team_id: int | None = None
    assignee_id: int | None = None
    category: str = ""

    def case_q(self) -> Q:
        q = Q()
        if self.channel_id:
            q &= Q(channel_id=self.channel_id)
        if self.team_id:
            q &= Q(team_id=self.team_id)
        if self.assignee_id:
            q &= Q(assignee_id=self.assignee_id)
        if self.category:
            q &= Q(category=self.category)
        return q

    def event_q(self) -> Q:
        q = Q()
        if self.channel_id:
            q &= Q(channel_id_copy=self.channel_id)
        if self.team_id:
            q &= Q(team_id_copy=self.team_id)
        if self.assignee_id:
            q &= Q(assignee_id_copy=self.assignee_id)
        if self.category:
            q &= Q(category=self.category)
        return q


def period_parse(tenant: Tenant, key: str, since: str = "", until: str = "", *, now: datetime | None = None) -> Period:
    """today / 7d / 30d in the tenant's time zone, or custom ISO dates (until inclusive). Bad input → 7d."""
    tz = ZoneInfo(tenant.time_zone)
    local_now = (now or timezone.now()).astimezone(tz)
    midnight = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
    tomorrow = datetime.combine(midnight.date() + timedelta(days=1), time(), tzinfo=tz)
    if key == "custom":
        try:
            start, end = date.fromisoformat(since), date.fromisoformat(until)
        except ValueError:
            key = "7d"
        else:
            if start <= end and (end - start).days <= 400:
                return Period(datetime.combine(start, time(), tzinfo=tz),
                              datetime.combine(end + timedelta(days=1), time(), tzinfo=tz), "custom")
            key = "7d"
    days = {"today": 1, "30d": 30}.get(key, 7)
    start = datetime.combine(tomorrow.date() - timedelta(days=days), time(), tzinfo=tz)
    return Period(start, tomorrow, key if key in ("today", "30d") else "7d")


def _percentiles(values: list[float], qs: tuple[float, ...]) -> list[float | None]:
    """Linear interpolation between closest ranks (= PostgreSQL percentile_cont, numpy's default)."""
    if not values:
        return [None for _ in qs]
    values = sorted(values)
    out: list[float | None] = []
    for q in qs:
        pos = q * (len(values) - 1)
        lo = math.floor(pos)
        hi = min(lo + 1, len(values) - 1)
        out.append(values[lo] + (values[hi] - values[lo]) * (pos - lo))
    return out


class _PercentilesCont(Aggregate):
    """percentile_cont over several fractions at once: one sort of the values serves them all."""

    function = "percentile_cont"
    template = "%(function)s(ARRAY[%(fractions)s]::double precision[]) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = ArrayField(FloatField())

    def __init__(self, expression: Any, fractions: tuple[float, ...]) -> None:
        super().__init__(expression, fractions=", ".join(repr(float(f)) for f in fractions))


def _minutes_between(later: str, earlier: str) -> Func:
    # Durations are whole seconds (floored), as the histograms keep them (sla.histograms), then minutes in double
    # precision: the same arithmetic as pandas/numpy on the same data. Platforms stamp posts to the second, so
    # only our own reply times lose their sub-second part.
    return Func(F(later) - F(earlier), function="EXTRACT",
                template="floor(EXTRACT(EPOCH FROM %(expressions)s))::double precision / 60.0",
                output_field=FloatField())


def _within(end: str, start: str, minutes: int) -> Q:
    # floor(seconds) <= 60 * minutes  <=>  end - start < 60 * minutes + 1 second
    return Q(**{f"{end}__lt": F(start) + timedelta(minutes=minutes, seconds=1)})


def _figures_aggregates(cases: QuerySet, start: str, ends: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Counts, median and p90 (exact, calendar minutes) and the shares within 60 and 120 minutes, for each end
    column, in one pass over the cases."""
    aggs: dict[str, Any] = {"n_cases": Count("pk")}
    for end in ends:
        aggs[f"{end}_n"] = Count("pk", filter=Q(**{f"{end}__isnull": False}))
        aggs[f"{end}_60"] = Count("pk", filter=_within(end, start, 60))
        aggs[f"{end}_120"] = Count("pk", filter=_within(end, start, 120))
        if connection.vendor == "postgresql":
            # percentile_cont ignores NULLs: unanswered cases do not enter the percentiles.
            aggs[f"{end}_pcts"] = _PercentilesCont(_minutes_between(end, start), (0.5, 0.9))
    row = cases.aggregate(**aggs)
    out = {}
    for end in ends:
        if connection.vendor == "postgresql":
            median, p90 = row[f"{end}_pcts"] or (None, None)
        else:  # the SQLite demo: same definition, computed here
            values = [whole_seconds(b - a) / 60 for a, b in
                      cases.filter(**{f"{end}__isnull": False}).values_list(start, end)]
            median, p90 = _percentiles(values, (0.5, 0.9))
        n = row[f"{end}_n"]
        out[end] = {
            "cases": row["n_cases"], "answered": n, "median_min": median, "p90_min": p90,
            "within_60_share": row[f"{end}_60"] / n if n else None,
            "within_120_share": row[f"{end}_120"] / n if n else None,
        }
    return out


_MEASURE_OF = {"first_response_at": Measure.FIRST_RESPONSE, "resolved_at": Measure.RESOLUTION}


def _figures_from_histograms(tenant: Tenant, period: Period, filters: Filters,
                             hourly: "HourlyRollups | None" = None) -> dict[str, dict[str, Any]] | None:
    """The same figures as _figures_aggregates over the period's cases, from the rollups and duration histograms
    (sla.histograms): a few thousand rows for a year instead of every case. None when they cannot answer exactly
    (SQLite; a team, agent or category filter, which can change after the case was counted; a period that does not
    start and end on whole UTC hours)."""
    if connection.vendor != "postgresql" or filters.team_id or filters.assignee_id or filters.category:
        return None
    inbound = SLARollupHour.objects.filter(tenant=tenant, hour__gte=period.since, hour__lt=period.until)
    if filters.channel_id:
        inbound = inbound.filter(channel_id_copy=filters.channel_id)
    out = {}
    for end, measure in _MEASURE_OF.items():
        d = period_durations(tenant_id=tenant.pk, measure=measure, since=period.since, until=period.until,
                             channel_id=filters.channel_id)
        if d is None:
            return None
        n = d["answered"]
        out[end] = {"answered": n, "median_min": d["percentiles"][0], "p90_min": d["percentiles"][1],
                    "within_60_share": d["within_60"] / n if n else None,
                    "within_120_share": d["within_120"] / n if n else None}
    cases = hourly.inbound if hourly is not None else inbound.aggregate(n=Sum("inbound"))["n"] or 0
    for figures in out.values():
        figures["cases"] = cases
    return out


def response_figures(tenant: Tenant, cases: QuerySet, *, start: str = "first_message_at",
                     end: str = "first_response_at") -> dict[str, Any]:
    return _figures_aggregates(cases, start, (end,))[end]


def cases_in_period(tenant: Tenant, period: Period, filters: Filters = Filters()) -> QuerySet:
    return Case.objects.filter(tenant=tenant, first_message_at__gte=period.since,
                               first_message_at__lt=period.until).filter(filters.case_q())


def volume(tenant: Tenant, period: Period, filters: Filters, *, by: str) -> list[tuple[datetime, int]]:
    """Inbound cases per hour or per day in the tenant's time zone, every bucket present (zeros included)."""
    tz = ZoneInfo(tenant.time_zone)
    if not (filters.team_id or filters.assignee_id or filters.category):
        rows = volume_from_rollups(tenant, period, filters.channel_id, by=by)
    else:  # team, agent and category change after opening: counted from the cases themselves
        trunc = TruncHour if by == "hour" else TruncDay
        rows = dict(cases_in_period(tenant, period, filters).annotate(bucket=trunc("first_message_at", tzinfo=tz))
                    .values("bucket").annotate(n=Count("pk")).values_list("bucket", "n"))
        rows = {bucket.astimezone(tz).replace(tzinfo=None): n for bucket, n in rows.items()}
    out = []
    cursor = period.since.astimezone(tz).replace(tzinfo=None)
    end = period.until.astimezone(tz).replace(tzinfo=None)
    step = timedelta(hours=1) if by == "hour" else timedelta(days=1)
    while cursor < end:
        out.append((cursor, rows.get(cursor, 0)))
        cursor += step
    return out


def hour_of_day_profile(tenant: Tenant, period: Period, filters: Filters) -> list[int]:
    tz = ZoneInfo(tenant.time_zone)
    counts = [0] * 24
    if not (filters.team_id or filters.assignee_id or filters.category):
        rows = SLARollupHour.objects.filter(tenant=tenant, hour__gte=period.since, hour__lt=period.until)
        if filters.channel_id:
            rows = rows.filter(channel_id_copy=filters.channel_id)
        rows = rows.annotate(h=ExtractHour("hour", tzinfo=tz)).values("h").annotate(n=Sum("inbound")).values_list(
            "h", "n")
    else:
        rows = (cases_in_period(tenant, period, filters).annotate(h=ExtractHour("first_message_at", tzinfo=tz))
                .values("h").annotate(n=Count("pk")).values_list("h", "n"))
    for hour, n in rows:
        counts[hour] = n
    return counts


@dataclass(frozen=True)
class HourlyRollups:
    volume: dict[datetime, int]  # local (naive, tenant zone) hour or day → cases whose first message falls in it
    profile: list[int]  # cases by local hour of day
    inbound: int
    met: int
    missed: int


def hourly_rollups(tenant: Tenant, period: Period, filters: Filters, *, by: str = "day") -> HourlyRollups | None:
    """One read of the hourly rollups for the whole period (a year is 8,760 hours, whatever the case volume): the
    case count, compliance, the volume per local hour or day and the hour-of-day profile, summed by PostgreSQL
    (grouping sets: one scan, ~400 rows back for a year instead of every hour). None when they cannot answer
    exactly: a team, agent or category filter (those change after the case was counted), or a period that does
    not start and end on whole UTC hours (zones with half-hour offsets)."""
    if filters.team_id or filters.assignee_id or filters.category:
        return None
    if blocks_covering(period.since, period.until) is None:
        return None
    if connection.vendor != "postgresql":
        return _hourly_rollups_in_python(tenant, period, filters, by=by)
    channel_sql = " AND channel_id_copy = %s" if filters.channel_id else ""
    with connection.cursor() as cursor:
        # Channels summed per UTC hour first: the zone conversion, the costly part, then runs once per hour.
        cursor.execute(
            "WITH h AS (SELECT hour, sum(inbound) AS i, sum(met) AS m, sum(missed) AS x FROM sla_slarolluphour "
            f"  WHERE tenant_id = %s AND hour >= %s AND hour < %s{channel_sql} GROUP BY hour), "
            "r AS (SELECT hour AT TIME ZONE %s AS local, i, m, x FROM h) "
            "SELECT date_trunc(%s, local), extract(hour FROM local)::int, sum(i), sum(m), sum(x) "
            "FROM r GROUP BY GROUPING SETS ((1), (2))",
            [tenant.pk, period.since, period.until, *([filters.channel_id] if filters.channel_id else []),
             tenant.time_zone, by],
        )
        rows = cursor.fetchall()
    volume, profile, inbound, met, missed = {}, [0] * 24, 0, 0, 0
    for bucket, hour_of_day, n_in, n_met, n_missed in rows:
        if bucket is not None:  # the (bucket) set: every row of the period once
            volume[bucket] = int(n_in)
            inbound, met, missed = inbound + int(n_in), met + int(n_met), missed + int(n_missed)
        else:
            profile[hour_of_day] = int(n_in)
    return HourlyRollups(volume=volume, profile=profile, inbound=inbound, met=met, missed=missed)


def _hourly_rollups_in_python(tenant: Tenant, period: Period, filters: Filters, *, by: str) -> HourlyRollups:
    """The same sums for the SQLite demo (its rollups are small)."""
    tz = ZoneInfo(tenant.time_zone)
    rows = SLARollupHour.objects.filter(tenant=tenant, hour__gte=period.since, hour__lt=period.until)
    if filters.channel_id:
        rows = rows.filter(channel_id_copy=filters.channel_id)
    volume: dict[datetime, int] = defaultdict(int)
    profile, inbound, met, missed = [0] * 24, 0, 0, 0
    for hour, n_in, n_met, n_missed in rows.values_list("hour", "inbound", "met", "missed"):
        local = hour.astimezone(tz)
        naive = local.replace(tzinfo=None)
        volume[naive if by == "hour" else naive.replace(hour=0)] += n_in
        profile[local.hour] += n_in
        inbound, met, missed = inbound + n_in, met + n_met, missed + n_missed
    return HourlyRollups(volume=dict(volume), profile=profile, inbound=inbound, met=met, missed=missed)


def _series_from_hours(tenant: Tenant, period: Period, hourly: HourlyRollups, *, by: str) -> list[tuple[datetime, int]]:
    tz = ZoneInfo(tenant.time_zone)
    out = []
    cursor = period.since.astimezone(tz).replace(tzinfo=None)
    end = period.until.astimezone(tz).replace(tzinfo=None)
    step = timedelta(hours=1) if by == "hour" else timedelta(days=1)
    while cursor < end:
        out.append((cursor, hourly.volume.get(cursor, 0)))
        cursor += step
    return out


def period_summary(tenant: Tenant, period: Period, filters: Filters, *, by: str = "day",
                   open_total: int | None = None) -> dict[str, Any]:
    """Every period figure of the dashboard. Counts, compliance and charts come from the hourly rollups and the
    percentiles from the duration histograms when those answer exactly; otherwise from the cases and events.
    `open_total`: the tenant's open cases, when the caller has just counted them (now_board); the backlog without
    a filter is that same count."""
    cases = cases_in_period(tenant, period, filters)
    hourly = hourly_rollups(tenant, period, filters, by=by)
    figures = _figures_from_histograms(tenant, period, filters, hourly) or _figures_aggregates(
        cases, "first_message_at", ("first_response_at", "resolved_at"))
    if hourly is not None:
        total = hourly.met + hourly.missed
        sla = {"met": hourly.met, "missed": hourly.missed,
               "percent": round(100 * hourly.met / total, 1) if total else None}
        series, profile = _series_from_hours(tenant, period, hourly, by=by), hourly.profile
        top = top_categories(tenant_id=tenant.pk, since=period.since, until=period.until,
                             channel_id=filters.channel_id) if connection.vendor == "postgresql" else None
    else:
        top = None
        sla = compliance(tenant, since=period.since, until=period.until, where=filters.event_q())
        series, profile = volume(tenant, period, filters, by=by), hour_of_day_profile(tenant, period, filters)
    if top is None:
        top = list(cases.exclude(category="").values("category").annotate(n=Count("pk")).order_by("-n", "category")[:8])
    return {
        "first_response": figures["first_response_at"],
        "resolution": figures["resolved_at"],
        "compliance": sla,
        "backlog": open_total if open_total is not None and filters == Filters() else
        Case.objects.filter(tenant=tenant, status__in=OPEN_STATUSES).filter(filters.case_q()).count(),
        "top_categories": top,
        "volume": series,
        "profile": profile,
    }


def now_board(tenant: Tenant, *, now: datetime | None = None) -> dict[str, Any]:
    """The live half of the dashboard: open work by status and priority, oldest waiting, cases at risk,
    agents online and their load."""
    now = now or timezone.now()
    open_cases = Case.objects.filter(tenant=tenant, status__in=OPEN_STATUSES)
    grid = {status: {band: 0 for band, _, _ in PRIORITY_BANDS} for status in OPEN_STATUSES}
    for status, priority, n in open_cases.values("status", "priority").annotate(n=Count("pk")).values_list(
            "status", "priority", "n"):
        band = next(name for name, lo, hi in PRIORITY_BANDS if lo <= priority < hi)
        grid[status][band] += n
    status_labels = dict(Case.Status.choices)
    rows = [{"status": status_labels[s], "bands": [grid[s][b] for b, _, _ in PRIORITY_BANDS],
             "total": sum(grid[s].values())} for s in OPEN_STATUSES]
    # Unanswered cases in due-time order: the first-response partial index serves it at any size; within one
    # policy that is also the order of the customers' first messages.
    oldest = list(open_cases.filter(first_response_at__isnull=True).select_related("assignee", "channel")
                  .order_by("first_response_due", "first_message_at")[:5])
    risky, agents = at_risk(tenant, now=now), agents_load(tenant)
    check = crisis_check_recent(tenant, now=now)
    return {
        "grid": rows, "bands": [b for b, _, _ in PRIORITY_BANDS],
        "open_total": sum(r["total"] for r in rows),
        "oldest": oldest, "at_risk": risky, "agents": agents, "now": now,
        "breaching": sum(1 for r in risky if r.breached), "warning": sum(1 for r in risky if not r.breached),
        "online": sum(1 for a in agents if a["online"]), "crisis": check.crisis, "crisis_check": check,
    }


@dataclass(frozen=True)
class AtRisk:
    case: Case
    target: str
    due: datetime
    breached: bool


def _warned(cases: QuerySet, tenant: Tenant, warn_column: str, now: datetime) -> QuerySet:
    """`cases` whose clock has passed its warning instant, read from the clocks' warn index and then by case id.

    Joined the plain way, PostgreSQL read every open case not yet due (86,000 at 1M cases) from the due-time
    index to find the few thousand warned ones: 69 ms; taking the warned clocks' case ids first, 12 ms. The
    tenant is checked on both sides (the clocks by their tenant, the cases as of_tenant_by_ids does)."""
    assert warn_column in ("first_response_warn_at", "resolution_warn_at")
    if connection.vendor != "postgresql":  # the SQLite demo: a few cases, the plain join
        return cases.filter(**{f"sla_clock__{warn_column}__lte": now})
    return of_tenant_by_ids(cases, tenant.pk).extra(where=[
        f"inbox_case.id = ANY(ARRAY(SELECT case_id FROM sla_caseclock WHERE tenant_id = %s AND {warn_column} <= %s))"
    ], params=[tenant.pk, now])


def at_risk(tenant: Tenant, *, now: datetime, limit: int = 25) -> list[AtRisk]:
    """Breached and near-breach targets of open cases, most overdue first. Breaches come from the due-time partial
    indexes on Case; near-breaches from the warn instants, which are cleared once a target is settled."""
    base = (Case.objects.filter(tenant=tenant, status__in=OPEN_STATUSES)
            .select_related("assignee", "channel", "sla_clock"))
    items: list[AtRisk] = []
    fr = base.filter(first_response_at__isnull=True)
    for case in fr.filter(first_response_due__lte=now).order_by("first_response_due")[:limit]:
        items.append(AtRisk(case, "First response", case.first_response_due, True))
    for case in _warned(fr, tenant, "first_response_warn_at", now).filter(first_response_due__gt=now).order_by(
            "first_response_due")[:limit]:
        items.append(AtRisk(case, "First response", case.first_response_due, False))
    for case in base.filter(sla_clock__next_response_warn_at__lte=now).order_by("sla_clock__next_response_due")[:limit]:
        due = case.sla_clock.next_response_due
        items.append(AtRisk(case, "Next response", due, due <= now))
    for case in base.filter(resolution_due__lte=now).order_by("resolution_due")[:limit]:
        items.append(AtRisk(case, "Resolution", case.resolution_due, True))
    for case in _warned(base, tenant, "resolution_warn_at", now).filter(resolution_due__gt=now).order_by(
            "resolution_due")[:limit]:
        items.append(AtRisk(case, "Resolution", case.resolution_due, False))
    items.sort(key=lambda r: r.due)
    return items[:limit]


def agents_load(tenant: Tenant) -> list[dict[str, Any]]:
    members = list(Membership.objects.filter(tenant=tenant, is_active=True).select_related("user")
                   .order_by("user__username"))
    loads = dict(Case.objects.filter(tenant=tenant, status__in=OPEN_STATUSES, assignee__isnull=False)
                 .values("assignee").annotate(n=Count("pk")).values_list("assignee", "n"))
    online = online_user_ids(tenant, [m.user_id for m in members])
    return [{"membership": m, "online": m.user_id in online, "open": loads.get(m.user_id, 0),
             "cap": m.max_open_cases} for m in members]


def notifications_for(tenant: Tenant, user_id: int, limit: int = 50) -> list[SLANotification]:
    return list(SLANotification.objects.filter(tenant=tenant, user_id=user_id)
                .select_related("alert__case", "crisis").order_by("-created_at")[:limit])


# Figures are rounded to 6 decimals: PostgreSQL and numpy interpolate in floating point and may differ in the
# last bits; a microminute is far below what any reader of the report could notice.
REPORT_DECIMALS = 6


def _report_figures(tenant: Tenant, cases: QuerySet) -> dict[str, Any]:
    f = response_figures(tenant, cases)

    def r(x: float | None) -> float | None:
        return None if x is None else round(x, REPORT_DECIMALS)

    return {"cases": f["cases"], "answered": f["answered"], "first_response_median_min": r(f["median_min"]),
            "first_response_p90_min": r(f["p90_min"]), "answered_within_60_share": r(f["within_60_share"]),
            "answered_within_120_share": r(f["within_120_share"])}


def first_response_report(tenant: Tenant, *, since: datetime | None = None,
                          until: datetime | None = None) -> dict[str, Any]:
    """What `sla_report --json` prints: overall and per channel, over all time unless bounded."""
    cases = Case.objects.filter(tenant=tenant)
    if since is not None:
        cases = cases.filter(first_message_at__gte=since)
    if until is not None:
        cases = cases.filter(first_message_at__lt=until)
    by_channel = {}
    for channel_id, name in (cases.values_list("channel_id", "channel__name").distinct()
                             .order_by("channel__name")):
        by_channel[name] = _report_figures(tenant, cases.filter(channel_id=channel_id))
    return {"tenant": tenant.slug, "overall": _report_figures(tenant, cases), "by_channel": by_channel}


# ---------------------------------------------------------------- rollups

RollupKey = tuple[datetime, int]


def rollups_from_raw(tenant: Tenant) -> dict[RollupKey, list[int]]:
    """(UTC hour, channel) → [inbound, met, missed, resolved] computed from cases and SLA events. `resolved` is kept
    on PostgreSQL only (with the duration histograms), so elsewhere it is 0 here too."""
    out: dict[RollupKey, list[int]] = {}
    for hour, channel, n in (Case.objects.filter(tenant=tenant).annotate(h=TruncHour("first_message_at", tzinfo=UTC))
                             .values("h", "channel_id").annotate(n=Count("pk")).values_list("h", "channel_id", "n")):
        out.setdefault((hour, channel), [0, 0, 0, 0])[0] += n
    for hour, channel, met, n in (SLAEvent.objects.filter(tenant=tenant).annotate(h=TruncHour("at", tzinfo=UTC))
                                  .values("h", "channel_id_copy", "met").annotate(n=Count("pk"))
                                  .values_list("h", "channel_id_copy", "met", "n")):
        out.setdefault((hour, channel), [0, 0, 0, 0])[1 if met else 2] += n
    if connection.vendor == "postgresql":
        for hour, channel, n in (Case.objects.filter(tenant=tenant, resolved_at__isnull=False)
                                 .annotate(h=TruncHour("resolved_at", tzinfo=UTC)).values("h", "channel_id")
                                 .annotate(n=Count("pk")).values_list("h", "channel_id", "n")):
            out.setdefault((hour, channel), [0, 0, 0, 0])[3] += n
    return out


def rollups_check(tenant: Tenant) -> list[str]:
    """Every (hour, channel) where the rollups and the raw rows disagree; empty when they are equal."""
    raw = rollups_from_raw(tenant)
    stored = {(r.hour, r.channel_id_copy): [r.inbound, r.met, r.missed, r.resolved]
              for r in SLARollupHour.objects.filter(tenant=tenant)}
    diffs = []
    for key in sorted(set(raw) | set(stored)):
        a, b = raw.get(key, [0, 0, 0, 0]), stored.get(key, [0, 0, 0, 0])
        if a != b:
            diffs.append(f"{key[0].isoformat()} channel {key[1]}: raw {a} != rollup {b}")
    if connection.vendor == "postgresql":
        diffs += durations_check(tenant_id=tenant.pk)
        diffs += categories_check(tenant_id=tenant.pk)
    return diffs


def volume_from_rollups(tenant: Tenant, period: Period, channel_id: int | None, *, by: str) -> dict[datetime, int]:
    """Inbound per hour or day (tenant zone) summed from the hourly rollups; exact for zones on whole hours."""
    tz = ZoneInfo(tenant.time_zone)
    rows = SLARollupHour.objects.filter(tenant=tenant, hour__gte=period.since, hour__lt=period.until)
    if channel_id:
        rows = rows.filter(channel_id_copy=channel_id)
    trunc = TruncHour if by == "hour" else TruncDay
    return {b.astimezone(tz).replace(tzinfo=None): n for b, n in
            rows.annotate(b=trunc("hour", tzinfo=tz)).values("b").annotate(n=Sum("inbound")).values_list("b", "n")}


def resolved_count(tenant: Tenant, *, since: datetime, until: datetime) -> int | None:
    """Cases whose resolved_at falls in [since, until), from the hourly rollups (a year is ~9,000 rows per channel,
    whatever the number of cases). None when they cannot answer exactly: not PostgreSQL (the demo keeps no
    durations), or a bound that is not a whole UTC hour; the caller then counts the cases."""
    if connection.vendor != "postgresql" or blocks_covering(since, until) is None:
        return None
    return SLARollupHour.objects.filter(tenant=tenant, hour__gte=since, hour__lt=until).aggregate(
        n=Sum("resolved"))["n"] or 0


# ---------------------------------------------------------------- crisis

@dataclass(frozen=True)
class Crisis:
    count: int
    baseline: float
    posts: list[Any]


@dataclass(frozen=True)
class CrisisCheck:
    """One evaluation of the crisis rule, as of `at`; the dashboard shows `at` beside it."""

    at: datetime
    count: int  # negative mentions in the hour before `at`
    baseline: float | None  # None when `count` is below SAC_SLA_CRISIS_MIN (the past weeks are not read then)
    crisis: Crisis | None


def crisis_check(tenant: Tenant, *, now: datetime | None = None) -> CrisisCheck:
    """A spike of negative mentions: the last hour against the same hour of the past weeks (mean), raised when
    it reaches both SAC_SLA_CRISIS_MIN mentions and SAC_SLA_CRISIS_FACTOR times the baseline. Read from the
    mentions themselves, now."""
    now = now or timezone.now()
    weeks = settings.SAC_SLA_CRISIS_WEEKS
    # The mention's tenant too: it is the same, and it lets the (tenant, posted_at) index on mentions serve the window.
    negative = MentionTriage.objects.filter(tenant=tenant, mention__tenant=tenant, decision__sentiment="negative")

    def window(end: datetime) -> QuerySet:
        return negative.filter(mention__posted_at__gte=end - timedelta(hours=1), mention__posted_at__lt=end)

    count = window(now).count()
    if count < settings.SAC_SLA_CRISIS_MIN:
        return CrisisCheck(at=now, count=count, baseline=None, crisis=None)
    baseline = sum(window(now - timedelta(weeks=w)).count() for w in range(1, weeks + 1)) / weeks
    if count < settings.SAC_SLA_CRISIS_FACTOR * baseline:
        return CrisisCheck(at=now, count=count, baseline=baseline, crisis=None)
    posts = [t.mention for t in window(now).select_related("mention__author").order_by("-mention__posted_at")[:8]]
    return CrisisCheck(at=now, count=count, baseline=baseline, crisis=Crisis(count=count, baseline=baseline,
                                                                            posts=posts))


def crisis(tenant: Tenant, *, now: datetime | None = None) -> Crisis | None:
    return crisis_check(tenant, now=now).crisis


def crisis_cache_key(tenant: Tenant) -> str:
    # The creation instant too: a database restored (or a test database made again) hands the same ids out anew
    # while the cache lives on, and a new tenant must never read an old one's check.
    return f"t{tenant.pk}:{tenant.created_at.timestamp()}:sla-crisis-check"


def crisis_check_recent(tenant: Tenant, *, now: datetime | None = None) -> CrisisCheck:
    """The dashboard's crisis check: the one `sla_crisis_watch` computed in the last SAC_SLA_CRISIS_MAX_AGE seconds
    (it runs every minute; over 10M mentions the five hour-long windows cost more than the rest of the page), or a
    fresh one, kept for the next viewers. The page shows when it was computed. Per tenant: the key carries the
    tenant id, and the posts are read back through the tenant."""
    now = now or timezone.now()
    stored = cache.get(crisis_cache_key(tenant))
    if stored is None or not 0 <= (now - stored["at"]).total_seconds() <= settings.SAC_SLA_CRISIS_MAX_AGE:
        check = crisis_check(tenant, now=now)
        crisis_check_keep(tenant, check)
        return check
    found = None
    if stored["post_ids"] is not None:
        posts = list(Mention.objects.filter(tenant=tenant, pk__in=stored["post_ids"]).select_related("author")
                     .order_by("-posted_at"))
        found = Crisis(count=stored["count"], baseline=stored["baseline"], posts=posts)
    return CrisisCheck(at=stored["at"], count=stored["count"], baseline=stored["baseline"], crisis=found)


def crisis_check_keep(tenant: Tenant, check: CrisisCheck) -> None:
    """Store a check for the dashboard (a cache entry, not data: losing it costs one recomputation)."""
    cache.set(crisis_cache_key(tenant), {
        "at": check.at, "count": check.count, "baseline": check.baseline,
        "post_ids": [m.pk for m in check.crisis.posts] if check.crisis else None,
    }, timeout=settings.SAC_SLA_CRISIS_MAX_AGE)


# ---------------------------------------------------------------- configuration pages

def access_policy(tenant: Tenant, policy_id: int) -> SLAPolicy:
    """Not yours and not there are the same 404."""
    return get_object_or_404(SLAPolicy.objects.select_related("channel", "calendar"), tenant=tenant, pk=policy_id)


def access_calendar(tenant: Tenant, calendar_id: int) -> BusinessCalendar:
    return get_object_or_404(BusinessCalendar, tenant=tenant, pk=calendar_id)


def policies_for_admin(tenant: Tenant) -> list[SLAPolicy]:
    """In the order they are tried: the admin's order, the default last."""
    return list(SLAPolicy.objects.filter(tenant=tenant).select_related("channel", "calendar")
                .order_by("is_default", "position", "pk"))


def calendars_of(tenant: Tenant) -> list[BusinessCalendar]:
    return list(BusinessCalendar.objects.filter(tenant=tenant).order_by("name"))
