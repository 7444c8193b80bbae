"""Tenant-scoped reads for the inbox. Every function takes the tenant first."""

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from channels_ingest.models import Mention
from sac.models import Membership, Role, Tenant
from sac.selectors import audit_events_for

from .models import OPEN_STATUSES, CannedReply, Case, Note, Reply

QUEUE_VIEWS = {
    "mine": "My cases",
    "unassigned": "Unassigned",
    "team": "My teams",
    "all": "All open",
}


def access_case(tenant: Tenant, case_id: int) -> Case:
    """Another tenant's case and a case that does not exist are the same 404."""
    try:
        return Case.objects.select_related("channel", "customer", "assignee", "team").get(tenant=tenant, pk=case_id)
    except Case.DoesNotExist:
        raise Http404("No such case.") from None


def access_canned_reply(tenant: Tenant, canned_id: int) -> CannedReply:
    try:
        return CannedReply.objects.get(tenant=tenant, pk=canned_id)
    except CannedReply.DoesNotExist:
        raise Http404("No such canned reply.") from None


def case_queue(tenant: Tenant, membership: Membership, view: str) -> QuerySet[Case]:
    qs = Case.objects.filter(tenant=tenant, status__in=OPEN_STATUSES).select_related(
        "channel", "customer", "assignee"
    )
    if view == "mine":
        qs = qs.filter(assignee=membership.user)
    elif view == "unassigned":
        qs = qs.filter(assignee__isnull=True)
    elif view == "team":
        qs = qs.filter(team__in=membership.teams.all())
    elif view == "all" and not membership.has_role(Role.SUPERVISOR):
        # Agents see the open queue too (to pick a case); only supervisors reassign from it.
        pass
    return qs.order_by("-priority", "first_message_at", "pk")


def queue_counts(tenant: Tenant, membership: Membership) -> dict[str, int]:
    agg = Case.objects.filter(tenant=tenant, status__in=OPEN_STATUSES).aggregate(
        mine=Count("pk", filter=Q(assignee=membership.user)),
        unassigned=Count("pk", filter=Q(assignee__isnull=True)),
        team=Count("pk", filter=Q(team__in=membership.teams.all())),
        all=Count("pk"),
    )
    return {k: v or 0 for k, v in agg.items()}


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
