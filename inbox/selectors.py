"""Tenant-scoped reads for the inbox. Every function takes the tenant first."""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from channels_ingest.models import Mention
from sac.models import Membership, Tenant
from sac.selectors import audit_events_for

from .models import (
    OPEN_STATUSES,
    CannedReply,
    Case,
    MentionTriage,
    Note,
    PersonalDataPattern,
    Reply,
    RoutingRule,
    Tag,
    TriageCategory,
    TriageCorrection,
    TriageModelVersion,
)
from .triage import CATEGORIES, LinearModel, RouteRule, TriageConfig, compile_custom

QUEUE_VIEWS = {
    "mine": "My cases",
    "unassigned": "Unassigned",
    "team": "My teams",
    "all": "All open",
}


def access_case(tenant: Tenant, case_id: int) -> Case:
    """Another tenant's case and a case that does not exist are the same 404."""
    try:
        return (Case.objects.select_related("channel", "customer", "assignee", "team")
                .defer("channel__credentials").get(tenant=tenant, pk=case_id))
    except Case.DoesNotExist:
        raise Http404("No such case.") from None


def access_reply(tenant: Tenant, case: Case, reply_id: int) -> Reply:
    try:
        return Reply.objects.select_related("case").get(tenant=tenant, case=case, pk=reply_id)
    except Reply.DoesNotExist:
        raise Http404("No such reply.") from None


def access_canned_reply(tenant: Tenant, canned_id: int) -> CannedReply:
    try:
        return CannedReply.objects.get(tenant=tenant, pk=canned_id)
    except CannedReply.DoesNotExist:
        raise Http404("No such canned reply.") from None


@dataclass(frozen=True)
class QueueFilters:
    """What an agent narrowed the queue to; every field optional. Built from the query string by the view."""

    q: str = ""
    channel: int | None = None
    status: str = ""
    min_priority: int | None = None
    category: str = ""
    tag: int | None = None
    language: str = ""
    sla: str = ""  # "overdue" | "soon" (first response due within 15 minutes)
    personal_data: bool = False


def _search(tenant: Tenant, qs: QuerySet[Case], text: str) -> QuerySet[Case]:
    """Full text over the case's mentions and notes, plus exact protocol and @handle.

    PostgreSQL matches in Portuguese and English at once (stemmed: "cobrança" finds "cobranças");
    SQLite (the demo) falls back to a case-insensitive substring match.
    """
    text = text.strip()
    handle = text.lstrip("@")
    direct = Q(protocol=text) | Q(customer__handle__iexact=handle)
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery, SearchVector

        query = SearchQuery(text, config="portuguese") | SearchQuery(text, config="english")
        vector = SearchVector("text", config="portuguese") + SearchVector("text", config="english")
        mention_hits = (Mention.objects.filter(tenant=tenant, case_link__case=OuterRef("pk"))
                        .annotate(document=vector).filter(document=query))
        note_hits = (Note.objects.filter(tenant=tenant, case=OuterRef("pk"))
                     .annotate(document=vector).filter(document=query))
    else:
        mention_hits = Mention.objects.filter(tenant=tenant, case_link__case=OuterRef("pk"), text__icontains=text)
        note_hits = Note.objects.filter(tenant=tenant, case=OuterRef("pk"), text__icontains=text)
    return qs.filter(direct | Exists(mention_hits) | Exists(note_hits))


def case_queue(tenant: Tenant, membership: Membership, view: str,
               filters: QueueFilters | None = None) -> QuerySet[Case]:
    filters = filters or QueueFilters()
    statuses = [filters.status] if filters.status in Case.Status.values else OPEN_STATUSES
    # Channel credentials stay encrypted in the database: the queue never needs them.
    qs = (Case.objects.filter(tenant=tenant, status__in=statuses)
          .select_related("channel", "customer", "assignee").defer("channel__credentials"))
    if view == "mine":
        qs = qs.filter(assignee=membership.user)
    elif view == "unassigned":
        qs = qs.filter(assignee__isnull=True)
    elif view == "team":
        qs = qs.filter(team__in=membership.teams.all())
    if filters.channel:
        qs = qs.filter(channel_id=filters.channel)
    if filters.min_priority is not None:
        qs = qs.filter(priority__gte=filters.min_priority)
    if filters.category:
        qs = qs.filter(category=filters.category)
    if filters.tag:
        qs = qs.filter(tags__id=filters.tag)
    if filters.language:
        qs = qs.filter(language=filters.language)
    if filters.personal_data:
        qs = qs.exclude(personal_data=[])
    now = timezone.now()
    if filters.sla == "overdue":
        qs = qs.filter(first_response_at__isnull=True, first_response_due__lt=now)
    elif filters.sla == "soon":
        qs = qs.filter(first_response_at__isnull=True, first_response_due__gte=now,
                       first_response_due__lt=now + timedelta(minutes=15))
    if filters.q.strip():
        qs = _search(tenant, qs, filters.q)
    return qs.order_by("-priority", "first_message_at", "pk")


def queue_filter_choices(tenant: Tenant) -> dict[str, Any]:
    from channels_ingest.selectors import channels_for

    def distinct_values() -> dict[str, list[str]]:
        cases = Case.objects.filter(tenant=tenant)
        return {
            "categories": sorted(c for c in cases.values_list("category", flat=True).distinct() if c),
            "languages": sorted(c for c in cases.values_list("language", flat=True).distinct() if c),
        }

    # DISTINCT over all of a tenant's cases costs tens of ms at 100k cases and changes rarely.
    values = cache.get_or_set(f"t{tenant.pk}:queue-filter-values", distinct_values, timeout=300)
    return {
        "channels": channels_for(tenant),
        "categories": values["categories"],
        "languages": values["languages"],
        "tags": Tag.objects.filter(tenant=tenant).order_by("name"),
        "statuses": Case.Status.choices,
    }


COUNT_CAP = 1000


def queue_counts(tenant: Tenant, membership: Membership) -> dict[str, int]:
    """Sidebar counts, capped at COUNT_CAP (shown as "999+"): exact counts over a big tenant's open
    cases cost tens of ms on every poll, and nobody acts differently on 4,812 than on "999+"."""
    open_cases = Case.objects.filter(tenant=tenant, status__in=OPEN_STATUSES)
    views = {
        "mine": open_cases.filter(assignee=membership.user),
        "unassigned": open_cases.filter(assignee__isnull=True),
        "team": open_cases.filter(team__in=membership.teams.all()),
        "all": open_cases,
    }
    return {name: qs.values("pk")[:COUNT_CAP].count() for name, qs in views.items()}


@dataclass(frozen=True)
class ThreadEntry:
    at: datetime
    kind: str  # mention | reply | note | event
    obj: Any


def case_thread(tenant: Tenant, case: Case) -> list[ThreadEntry]:
    """The whole story of a case in time order: customer posts, our replies, notes, status changes."""
    mentions = Mention.objects.filter(tenant=tenant, case_link__case=case).select_related("author")
    replies = Reply.objects.filter(tenant=tenant, case=case).select_related("author")
    notes = Note.objects.filter(tenant=tenant, case=case).select_related("author")
    events = audit_events_for(tenant, object_type="inbox.case", object_id=str(case.pk)).filter(
        verb__in=["case.opened", "case.assigned", "case.status_changed"]
    )
    entries = [ThreadEntry(m.posted_at, "mention", m) for m in mentions]
    entries += [ThreadEntry(r.created_at, "reply", r) for r in replies]
    entries += [ThreadEntry(n.created_at, "note", n) for n in notes]
    entries += [ThreadEntry(e.created_at, "event", e) for e in events]
    return sorted(entries, key=lambda e: e.at)


def customer_history(tenant: Tenant, case: Case) -> QuerySet[Case]:
    if case.customer_id is None:
        return Case.objects.none()
    return Case.objects.filter(tenant=tenant, customer_id=case.customer_id).exclude(pk=case.pk).order_by(
        "-created_at"
    )[:10]


def canned_replies_for(tenant: Tenant, *, language: str = "") -> QuerySet[CannedReply]:
    qs = CannedReply.objects.filter(tenant=tenant)
    if language:
        qs = qs.filter(Q(language="") | Q(language=language))
    return qs.order_by("-usage_count", "title")


_VARIABLE = re.compile(r"\{\{\s*([a-z_]+\.[a-z_]+)\s*\}\}")


def canned_render(canned: CannedReply, *, case: Case, agent: Any) -> str:
    """Fill `{{customer.first_name}}`, `{{agent.first_name}}`, `{{case.protocol}}`, `{{tenant.name}}`.
    Unknown variables stay visible so the agent notices them before sending."""
    values = {
        "customer.first_name": case.customer.first_name if case.customer else "",
        "customer.handle": f"@{case.customer.handle}" if case.customer and case.customer.handle else "",
        "agent.first_name": agent.first_name or agent.get_username(),
        "case.protocol": case.protocol,
        "tenant.name": case.tenant.name,
    }
    return _VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), canned.body)


# ---------------------------------------------------------------- triage configuration (issue #4)

_MODEL_CACHE: dict[int, LinearModel] = {}  # TriageModelVersion pk → parsed model


def triage_config_for(tenant: Tenant) -> TriageConfig:
    """The tenant's routing rules, personal-data patterns, categories and promoted model, ready for triage()."""

    patterns = []
    for p in PersonalDataPattern.objects.filter(tenant=tenant):
        try:
            patterns.append(compile_custom(p.name, p.regex))
        except re.error:
            continue  # the form refuses bad patterns; one saved before a Python upgrade must not stop triage
    rules = []
    for r in RoutingRule.objects.filter(tenant=tenant, enabled=True).order_by("position", "pk"):
        try:
            rules.append(RouteRule.build(
                name=r.name, keywords=r.keywords, regex=r.regex,
                channel_ids=(r.channel_id,) if r.channel_id else (),
                categories=(r.category,) if r.category else (), languages=(r.language,) if r.language else (),
                team_id=r.team_id, tags=tuple(t.strip() for t in r.tags.split(",") if t.strip()),
                priority_boost=r.priority_boost, auto_ignore=r.auto_ignore,
            ))
        except re.error:
            continue
    promoted = TriageModelVersion.objects.filter(tenant=tenant, status="promoted").values_list("pk", "version").first()
    model = None
    if promoted is not None:
        # A version's weights never change: parse them once per process, not once per triage batch.
        model = _MODEL_CACHE.get(promoted[0])
        if model is None:
            weights = TriageModelVersion.objects.filter(tenant=tenant, pk=promoted[0]).values_list("weights", flat=True)
            model = LinearModel.from_json({**weights[0], "version": f"v{promoted[1]}"})
            if len(_MODEL_CACHE) >= 64:
                _MODEL_CACHE.pop(next(iter(_MODEL_CACHE)))
            _MODEL_CACHE[promoted[0]] = model
    return TriageConfig(
        custom_patterns=tuple(patterns),
        categories=tuple(TriageCategory.objects.filter(tenant=tenant).values_list("name", flat=True)),
        rules=tuple(rules),
        model=model,
    )


def triage_categories(tenant: Tenant) -> list[str]:

    return list(CATEGORIES) + [c for c in TriageCategory.objects.filter(tenant=tenant).values_list("name", flat=True)
                               if c not in CATEGORIES]


def author_complaints_this_week(tenant: Tenant, author_id: int | None, *, now: datetime | None = None) -> int:
    """Earlier complaints by this author in the last 7 days, for the priority."""
    if author_id is None:
        return 0

    since = (now or timezone.now()) - timedelta(days=7)
    return MentionTriage.objects.filter(tenant=tenant, mention__author_id=author_id, created_at__gte=since,
                                        decision__category="complaint").count()


def routing_rules_of(tenant: Tenant) -> QuerySet:

    return RoutingRule.objects.filter(tenant=tenant).select_related("team", "channel").order_by("position", "pk")


def access_routing_rule(tenant: Tenant, rule_id: int) -> RoutingRule:

    try:
        return RoutingRule.objects.get(tenant=tenant, pk=rule_id)
    except RoutingRule.DoesNotExist:
        raise Http404("No such routing rule.") from None


def triage_model_versions(tenant: Tenant) -> QuerySet:

    return TriageModelVersion.objects.filter(tenant=tenant).defer("weights").order_by("-version")


def triage_corrections_count(tenant: Tenant) -> int:

    return TriageCorrection.objects.filter(tenant=tenant).count()


def case_first_mention(tenant: Tenant, case: Case) -> Mention | None:
    return Mention.objects.filter(tenant=tenant, case_link__case=case).order_by("posted_at", "pk").first()


def personal_data_patterns_of(tenant: Tenant) -> QuerySet[PersonalDataPattern]:
    return PersonalDataPattern.objects.filter(tenant=tenant).order_by("name")


def access_personal_data_pattern(tenant: Tenant, pattern_id: int) -> PersonalDataPattern:
    try:
        return PersonalDataPattern.objects.get(tenant=tenant, pk=pattern_id)
    except PersonalDataPattern.DoesNotExist:
        raise Http404("No such pattern.") from None


def triage_categories_of(tenant: Tenant) -> QuerySet[TriageCategory]:
    return TriageCategory.objects.filter(tenant=tenant).order_by("name")
