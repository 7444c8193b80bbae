"""Tenant-scoped reads for surveys: the metrics the dashboard and the API show. Tenant first, always."""

import functools
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate, TruncWeek
from django.http import Http404
from django.utils import timezone

from channels_ingest.models import ChannelAccount
from inbox.models import Case
from sac.models import Tenant
from sac.parsing import parse_int
from sac.prepared import model_columns, models_from_row, prepared
from sla.selectors import resolved_count

from .models import DeflectionDay, FollowUp, SurveyConfig, SurveyInvitation, SurveyResponse

# The dimensions a supervisor can break the figures down by: name → the case field behind it.
DIMENSIONS = {
    "channel": "case__channel__name",
    "team": "case__team__name",
    "agent": "case__assignee__username",
    "category": "case__category",
}


@dataclass(frozen=True)
class MetricsFilter:
    start: datetime
    end: datetime
    channel_id: int | None = None
    team_id: int | None = None
    agent_id: int | None = None
    category: str = ""

    def case_q(self) -> Q:
        q = Q()
        if self.channel_id:
            q &= Q(case__channel_id=self.channel_id)
        if self.team_id:
            q &= Q(case__team_id=self.team_id)
        if self.agent_id:
            q &= Q(case__assignee_id=self.agent_id)
        if self.category:
            q &= Q(case__category=self.category)
        return q


def period(days: int = 30, *, now: datetime | None = None, channel_id: int | None = None,
           team_id: int | None = None, agent_id: int | None = None, category: str = "") -> MetricsFilter:
    now = now or timezone.now()
    return MetricsFilter(start=now - timedelta(days=days), end=now, channel_id=channel_id, team_id=team_id,
                         agent_id=agent_id, category=category)


def filter_from_query(query: Any, days: int) -> MetricsFilter:
    """The dashboard's and the API's ?channel=&team=&agent=&category= (ids of this tenant's rows; another
    tenant's id simply matches nothing, every query being scoped by the tenant)."""

    def number(name: str) -> int | None:
        raw = str(query.get(name, "") or "")
        return parse_int(raw)

    return period(days, channel_id=number("channel"), team_id=number("team"), agent_id=number("agent"),
                  category=str(query.get("category", "") or "")[:30])


@dataclass(frozen=True)
class SurveyMetrics:
    invitations_sent: int = 0
    answers: int = 0
    csat_answers: int = 0
    csat_satisfied: int = 0
    nps_answers: int = 0
    promoters: int = 0
    detractors: int = 0
    label: str = ""

    @property
    def csat_pct(self) -> float | None:
        """CSAT % = answers of 4–5 ÷ CSAT answers."""
        return round(100 * self.csat_satisfied / self.csat_answers, 1) if self.csat_answers else None

    @property
    def nps(self) -> float | None:
        """NPS = % promoters (9–10) − % detractors (0–6)."""
        if not self.nps_answers:
            return None
        return round(100 * (self.promoters - self.detractors) / self.nps_answers, 1)

    @property
    def response_rate(self) -> float | None:
        """Answers ÷ invitations sent."""
        return round(100 * self.answers / self.invitations_sent, 1) if self.invitations_sent else None


_RESPONSE_AGG = {
    "answers": Count("pk"),
    "csat_answers": Count("pk", filter=Q(csat__isnull=False)),
    "csat_satisfied": Count("pk", filter=Q(csat__gte=4)),
    "nps_answers": Count("pk", filter=Q(nps__isnull=False)),
    "promoters": Count("pk", filter=Q(nps__gte=9)),
    "detractors": Count("pk", filter=Q(nps__lte=6)),
}


def _responses(tenant: Tenant, f: MetricsFilter) -> QuerySet[SurveyResponse]:
    return SurveyResponse.objects.filter(tenant=tenant, invitation__sent_at__gte=f.start,
                                         invitation__sent_at__lt=f.end).filter(f.case_q())


def _sent(tenant: Tenant, f: MetricsFilter) -> QuerySet[SurveyInvitation]:
    return SurveyInvitation.objects.filter(tenant=tenant, sent_at__gte=f.start, sent_at__lt=f.end).filter(f.case_q())


def survey_metrics(tenant: Tenant, f: MetricsFilter) -> SurveyMetrics:
    """Answers are counted against the invitations sent in the same period, so the rate stays ≤ 100%."""
    agg = _responses(tenant, f).aggregate(**_RESPONSE_AGG)
    return SurveyMetrics(invitations_sent=_sent(tenant, f).count(), **agg)


def survey_metrics_by(tenant: Tenant, f: MetricsFilter, dimension: str) -> list[SurveyMetrics]:
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension!r}")
    column = DIMENSIONS[dimension]
    sent = {row[column]: row["n"] for row in _sent(tenant, f).values(column).annotate(n=Count("pk"))}
    rows: list[SurveyMetrics] = []
    for row in _responses(tenant, f).values(column).annotate(**_RESPONSE_AGG).order_by(column):
        key = row.pop(column)
        rows.append(SurveyMetrics(label=key or "—", invitations_sent=sent.pop(key, 0), **row))
    rows += [SurveyMetrics(label=key or "—", invitations_sent=n) for key, n in sent.items()]
    return sorted(rows, key=lambda m: m.label)


def survey_trend(tenant: Tenant, f: MetricsFilter, bucket: str = "day") -> list[tuple[date, SurveyMetrics]]:
    trunc = TruncWeek if bucket == "week" else TruncDate
    sent = dict(_sent(tenant, f).annotate(b=trunc("sent_at")).values("b").annotate(n=Count("pk"))
                .values_list("b", "n"))
    out: dict[Any, SurveyMetrics] = {}
    for row in _responses(tenant, f).annotate(b=trunc("invitation__sent_at")).values("b").annotate(**_RESPONSE_AGG):
        key = row.pop("b")
        out[key] = SurveyMetrics(invitations_sent=sent.get(key, 0), **row)
    for key, n in sent.items():
        out.setdefault(key, SurveyMetrics(invitations_sent=n))
    return sorted(((_as_date(k), v) for k, v in out.items()), key=lambda kv: kv[0])


def _as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def followups_open(tenant: Tenant, team_ids: list[int] | None = None) -> QuerySet[FollowUp]:
    """Open follow-ups, oldest first; with team_ids, those of these teams (and of cases with no team)."""
    rows = FollowUp.objects.filter(tenant=tenant, status=FollowUp.Status.OPEN)
    if team_ids is not None:
        rows = rows.filter(Q(team_id__in=team_ids) | Q(team__isnull=True))
    return rows.select_related("case", "response", "team").order_by("created_at")


def followups_recent_done(tenant: Tenant, limit: int = 10) -> QuerySet[FollowUp]:
    return (FollowUp.objects.filter(tenant=tenant, status=FollowUp.Status.DONE)
            .select_related("case", "response", "closed_by").order_by("-closed_at")[:limit])


def access_followup(tenant: Tenant, followup_id: int) -> FollowUp:
    try:
        return FollowUp.objects.select_related("case").get(tenant=tenant, pk=followup_id)
    except FollowUp.DoesNotExist:
        raise Http404("No such follow-up.") from None


def survey_config_for(tenant: Tenant) -> SurveyConfig:
    """The stored configuration, or an unsaved default (surveys off) to show in the form."""
    return SurveyConfig.objects.filter(tenant=tenant).first() or SurveyConfig(tenant=tenant, enabled=False)


def case_survey(tenant: Tenant, case: Case) -> SurveyInvitation | None:
    """The case's invitation with its response (or a cached None) read along, as select_related("response")."""
    if connection.vendor == "postgresql":
        return _case_survey_prepared(tenant, case)
    return SurveyInvitation.objects.filter(tenant=tenant, case=case).select_related("response").first()


@functools.cache
def _case_survey_sql() -> str:
    return (f"SELECT {model_columns(SurveyInvitation, 'i')}, {model_columns(SurveyResponse, 'r')} "
            f"FROM {SurveyInvitation._meta.db_table} i LEFT JOIN {SurveyResponse._meta.db_table} r "
            "ON r.invitation_id = i.id AND r.tenant_id = %(tenant)s "
            "WHERE i.tenant_id = %(tenant)s AND i.case_id = %(case)s ORDER BY i.id LIMIT 1")


def _case_survey_prepared(tenant: Tenant, case: Case) -> SurveyInvitation | None:
    """case_survey as a prepared statement: the survey panel is on every case page, and building and compiling
    the queryset cost more CPU than PostgreSQL spends on it (a case has one invitation at most)."""
    with connection.cursor() as cursor:
        cursor.execute(*prepared("surveys_case_survey", _case_survey_sql(), {"tenant": tenant.pk, "case": case.pk}))
        row = cursor.fetchone()
    if row is None:
        return None
    invitation, response = models_from_row(row, [(SurveyInvitation, None), (SurveyResponse, None)])
    # Cached either way, as select_related leaves it: `invitation.response` then costs no query.
    SurveyInvitation.response.related.set_cached_value(invitation, response)
    if response is not None:
        SurveyResponse.invitation.field.set_cached_value(response, invitation)
    return invitation


@dataclass(frozen=True)
class Deflection:
    start: date
    end: date
    social_resolved: int
    calls: int
    site_visits: int
    currency: str
    cost_per_call: Decimal
    cost_per_social: Decimal
    days_imported: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def cost_saved(self) -> Decimal:
        """Each contact resolved on social instead of by phone saves a call's cost minus a social interaction's."""
        return (self.social_resolved * (self.cost_per_call - self.cost_per_social)).quantize(Decimal("0.01"))

    @property
    def social_share(self) -> float | None:
        total = self.social_resolved + self.calls
        return round(100 * self.social_resolved / total, 2) if total else None


def deflection(tenant: Tenant, start: date, end: date) -> Deflection:
    """Social contacts resolved against the contact centre's calls over the same days (end inclusive)."""
    config = survey_config_for(tenant)
    tz = timezone.get_current_timezone()
    start_dt = timezone.make_aware(datetime.combine(start, time.min), tz)
    end_dt = timezone.make_aware(datetime.combine(end + timedelta(days=1), time.min), tz)
    resolved = resolved_count(tenant, since=start_dt, until=end_dt)
    if resolved is None:  # not answerable from the rollups (see resolved_count): every resolved case is read
        resolved = Case.objects.filter(tenant=tenant, resolved_at__gte=start_dt, resolved_at__lt=end_dt).count()
    days = DeflectionDay.objects.filter(tenant=tenant, day__gte=start, day__lte=end)
    totals = days.aggregate(calls=Sum("calls"), visits=Sum("site_visits"), n=Count("pk"))
    return Deflection(start=start, end=end, social_resolved=resolved, calls=totals["calls"] or 0,
                      site_visits=totals["visits"] or 0, currency=config.currency,
                      cost_per_call=config.cost_per_call, cost_per_social=config.cost_per_social,
                      days_imported=totals["n"] or 0)


def deflection_days(tenant: Tenant, start: date, end: date) -> QuerySet[DeflectionDay]:
    return DeflectionDay.objects.filter(tenant=tenant, day__gte=start, day__lte=end).order_by("day")


def dashboard_context(tenant: Tenant, days: int = 30, f: MetricsFilter | None = None) -> dict[str, Any]:
    """What `surveys/_kpis.html` needs, for the supervisor dashboard (or any page) that includes it."""
    today = timezone.localdate()
    return {"metrics": survey_metrics(tenant, f or period(days)),
            "deflection": deflection(tenant, today - timedelta(days=days - 1), today)}


def channels_of(tenant: Tenant) -> QuerySet[ChannelAccount]:
    return ChannelAccount.objects.filter(tenant=tenant).order_by("name")


def categories_of(tenant: Tenant) -> list[str]:
    return list(Case.objects.filter(tenant=tenant).exclude(category="").values_list("category", flat=True)
                .distinct().order_by("category")[:50])
