"""Cases: protocol numbers, triage outcomes, claiming, status, transfers, notes, auto-close."""


import logging
import zoneinfo
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Case as SqlCase
from django.db.models import Count, F, Max, Q, Value, When
from django.utils import timezone

from channels_ingest.models import Mention
from channels_ingest.services import mentions_mark_triaged
from sac.models import Membership, Role, Team, Tenant
from sac.services import audit_record
from sac.tenancy import online_user_ids

from .. import events
from ..models import (
    OPEN_STATUSES,
    Case,
    CaseMention,
    MentionTriage,
    Note,
    Tag,
)
from ..selectors import author_complaints_this_week, triage_config_for
from ..triage import TriageDecision, TriageInput, triage
from .common import CaseActionError, _may_work_on

log = logging.getLogger(__name__)

# ---------------------------------------------------------------- protocol numbers

def protocol_next(*, tenant: Tenant, at: datetime | None = None) -> str:
    """`YYYYMMDD-NNNNNN` in the tenant's time zone, unique per tenant (DESIGN.md: protocol numbers).

    One atomic upsert per number, so concurrent case openings never share one,
    on PostgreSQL and SQLite alike (both speak ON CONFLICT … RETURNING).
    """
    day = (at or timezone.now()).astimezone(zoneinfo.ZoneInfo(tenant.time_zone)).date()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO inbox_protocolsequence (tenant_id, day, last_value) VALUES (%s, %s, 1) "
            "ON CONFLICT (tenant_id, day) DO UPDATE SET last_value = inbox_protocolsequence.last_value + 1 "
            "RETURNING last_value",
            [tenant.pk, day],
        )
        (value,) = cursor.fetchone()
    return f"{day:%Y%m%d}-{value:06d}"


# ---------------------------------------------------------------- triage → cases

def _case_open(*, tenant: Tenant, mention: Mention, decision: TriageDecision) -> Case:
    case = Case.objects.create(
        tenant=tenant,
        protocol=protocol_next(tenant=tenant),
        status=Case.Status.NEW,
        priority=decision.priority,
        channel=mention.channel,
        customer=mention.author,
        subject=mention.text[:140],
        language=decision.language,
        category=decision.category,
        personal_data=decision.personal_data,
        triage=decision.as_dict(),
        first_message_at=mention.posted_at,
        last_customer_message_at=mention.posted_at,
        team_id=decision.team_id,  # from the tenant's own routing rule (its team choices are the tenant's)
    )
    CaseMention.objects.create(tenant=tenant, case=case, mention=mention)
    if decision.tags:
        case.tags.add(*(Tag.objects.get_or_create(tenant=tenant, name=name[:50])[0] for name in decision.tags))
    audit_record(tenant=tenant, actor=None, verb="case.opened", obj=case,
                 data={"priority": case.priority, "category": case.category, "mention": mention.pk})
    # Synchronous subscribers (SLA due times) write inside this transaction.
    events.case_opened.send(sender=Case, case=case, actor=None)
    return case_auto_assign(tenant=tenant, case=case)


def _case_attach(*, tenant: Tenant, case: Case, mention: Mention, decision: TriageDecision) -> Case:
    CaseMention.objects.create(tenant=tenant, case=case, mention=mention)
    changes = {
        "last_customer_message_at": max(case.last_customer_message_at, mention.posted_at),
        "priority": max(case.priority, decision.priority),
        "personal_data": sorted(set(case.personal_data) | set(decision.personal_data)),
    }
    if case.status == Case.Status.PENDING_CUSTOMER:
        # The customer answered: the ball is back in our court.
        changes["status"] = Case.Status.OPEN
    Case.objects.filter(tenant=tenant, pk=case.pk).update(**changes)
    old_status = case.status
    case.refresh_from_db()
    audit_record(tenant=tenant, actor=None, verb="case.mention_attached", obj=case, data={"mention": mention.pk})
    events.case_mention_attached.send(sender=Case, case=case, actor=None, mention=mention)
    if old_status != case.status:
        events.case_status_changed.send(sender=Case, case=case, actor=None, old_status=old_status,
                                        new_status=case.status)
    return case


def mentions_triage(*, tenant_id: int, mention_ids: list[int]) -> list[Case]:
    """Triage stored mentions: ignore, attach to the customer's open case, or open a new one.

    Each mention is handled in its own transaction, locked with SKIP LOCKED and
    re-checked as untriaged, so the task and the sweep can race without doing it twice.
    """
    tenant = Tenant.objects.get(pk=tenant_id)
    config = triage_config_for(tenant)  # rules, patterns and model: loaded once per batch
    touched: list[Case] = []
    for mention_id in mention_ids:
        try:
            with transaction.atomic():
                mention = (
                    Mention.objects.select_for_update(skip_locked=True, of=("self",))
                    .select_related("author", "channel")
                    .filter(tenant=tenant, pk=mention_id, triaged_at__isnull=True)
                    .first()
                )
                if mention is None:
                    continue
                author = mention.author
                decision = triage(TriageInput(
                    text=mention.text,
                    followers_count=author.followers_count if author else 0,
                    verified=author.verified if author else False,
                    language_hint=mention.language,
                    platform=mention.channel.platform,
                    channel_id=mention.channel_id,
                    author_complaints_week=author_complaints_this_week(tenant, mention.author_id),
                ), config)
                existing = None
                if author is not None:
                    existing = (
                        Case.objects.select_for_update()
                        .filter(tenant=tenant, channel=mention.channel, customer=author, status__in=OPEN_STATUSES)
                        .order_by("-created_at")
                        .first()
                    )
                case = None
                if existing is not None:
                    # Whatever the customer says next belongs to the conversation already under way.
                    case = _case_attach(tenant=tenant, case=existing, mention=mention, decision=decision)
                elif not decision.ignore:
                    case = _case_open(tenant=tenant, mention=mention, decision=decision)
                MentionTriage.objects.create(tenant=tenant, mention=mention, ignored=case is None,
                                             decision=decision.as_dict(), case=case)
                mentions_mark_triaged(tenant=tenant, mention_ids=[mention.pk])
                if case is not None:
                    touched.append(case)
        except Exception:
            # One mention that breaks triage must not hold back the others; it stays untriaged,
            # visible in the logs, and the sweep tries it again.
            log.exception("triage failed for mention %s of tenant %s", mention_id, tenant_id)
    return touched


# ---------------------------------------------------------------- claiming and status

def _open_load(tenant: Tenant, user: AbstractBaseUser) -> int:
    return Case.objects.filter(tenant=tenant, assignee=user, status__in=OPEN_STATUSES).count()


def case_claim_next(*, tenant: Tenant, membership: Membership) -> Case | None:
    """Give the agent the most urgent unassigned case they may take. Two agents never get the same one."""
    user = membership.user
    with transaction.atomic():
        if _open_load(tenant, user) >= membership.max_open_cases:
            raise CaseActionError(
                f"You already have {membership.max_open_cases} open cases: resolve one before taking another."
            )
        # of=("self",): lock only the case row, never the joined channel row other claims also read.
        candidates = Case.objects.select_for_update(skip_locked=True, of=("self",)).filter(
            tenant=tenant, assignee__isnull=True, status__in=(Case.Status.NEW, Case.Status.OPEN)
        )
        team_ids = list(membership.teams.values_list("pk", flat=True))
        if team_ids:
            candidates = candidates.filter(Q(team__isnull=True) | Q(team__in=team_ids))
        if membership.languages:
            candidates = candidates.filter(Q(language__in=membership.languages) | Q(language=""))
        if membership.platforms:
            candidates = candidates.filter(channel__platform__in=membership.platforms)
        case = candidates.order_by("-priority", "first_message_at", "pk").first()
        if case is None:
            return None
        # The conditional update is what keeps the promise on SQLite, where SKIP LOCKED is a no-op.
        if not Case.objects.filter(tenant=tenant, pk=case.pk, assignee__isnull=True).update(
            assignee=user, status=Case.Status.OPEN
        ):
            return None
        old_status = case.status
        case.refresh_from_db()
        audit_record(tenant=tenant, actor=user, verb="case.assigned", obj=case,
                     data={"assignee": user.get_username(), "how": "claim_next"})
        if old_status != case.status:
            events.case_status_changed.send(sender=Case, case=case, actor=user, old_status=old_status,
                                            new_status=case.status)
    return case


def case_auto_assign(*, tenant: Tenant, case: Case) -> Case:
    """Round-robin for teams that ask for it: the online team member with the fewest open cases
    (then the one who waited longest for a case) gets it, if under their cap and skilled for it.
    Call inside the transaction that opened or re-teamed the case."""
    if case.team_id is None or case.assignee_id is not None or not case.team.auto_assign:
        return case
    members = list(
        Membership.objects.filter(tenant=tenant, teams=case.team_id, is_active=True).select_related("user")
    )
    online = online_user_ids(tenant, [m.user_id for m in members])
    loads = dict(
        Case.objects.filter(tenant=tenant, assignee_id__in=online, status__in=OPEN_STATUSES)
        .values("assignee_id").annotate(n=Count("pk")).values_list("assignee_id", "n")
    )
    last_taken = dict(
        Case.objects.filter(tenant=tenant, assignee_id__in=online).values("assignee_id")
        .annotate(last=Max("updated_at")).values_list("assignee_id", "last")
    )
    eligible = [
        m for m in members
        if m.user_id in online and loads.get(m.user_id, 0) < m.max_open_cases
        and (not m.languages or not case.language or case.language in m.languages)
        and (not m.platforms or case.channel.platform in m.platforms)
    ]
    if not eligible:
        return case  # stays in the team's queue for "take next case"
    epoch = timezone.make_aware(datetime(1970, 1, 1))
    chosen = min(eligible, key=lambda m: (loads.get(m.user_id, 0), last_taken.get(m.user_id) or epoch, m.pk))
    if Case.objects.filter(tenant=tenant, pk=case.pk, assignee__isnull=True).update(
        assignee=chosen.user, status=SqlCase(When(status=Case.Status.NEW, then=Value(Case.Status.OPEN)),
                                             default=F("status"))
    ):
        case.refresh_from_db()
        audit_record(tenant=tenant, actor=None, verb="case.assigned", obj=case,
                     data={"assignee": chosen.user.get_username(), "how": "round_robin"})
    return case


def case_claim(*, tenant: Tenant, membership: Membership, case: Case) -> Case:
    """Take one specific unassigned case from the queue."""
    user = membership.user
    with transaction.atomic():
        if _open_load(tenant, user) >= membership.max_open_cases:
            raise CaseActionError(
                f"You already have {membership.max_open_cases} open cases: resolve one before taking another."
            )
        # A new case becomes open when someone takes it; a case waiting on the customer keeps waiting.
        opened = SqlCase(When(status=Case.Status.NEW, then=Value(Case.Status.OPEN)), default=F("status"))
        if not Case.objects.filter(tenant=tenant, pk=case.pk, assignee__isnull=True,
                                   status__in=OPEN_STATUSES).update(assignee=user, status=opened):
            raise CaseActionError("Someone else took this case a moment ago.")
        case.refresh_from_db()
        audit_record(tenant=tenant, actor=user, verb="case.assigned", obj=case,
                     data={"assignee": user.get_username(), "how": "claim"})
    return case


# Which status may follow which; resolved cases can be reopened, closed ones cannot.
TRANSITIONS: dict[str, set[str]] = {
    Case.Status.NEW: {Case.Status.OPEN, Case.Status.PENDING_CUSTOMER, Case.Status.RESOLVED, Case.Status.IGNORED},
    Case.Status.OPEN: {Case.Status.PENDING_CUSTOMER, Case.Status.RESOLVED, Case.Status.IGNORED},
    Case.Status.PENDING_CUSTOMER: {Case.Status.OPEN, Case.Status.RESOLVED},
    Case.Status.RESOLVED: {Case.Status.OPEN, Case.Status.CLOSED},
    Case.Status.IGNORED: {Case.Status.OPEN},
    Case.Status.CLOSED: set(),
}

def case_status_change(*, tenant: Tenant, membership: Membership, case: Case, new_status: str) -> Case:
    if not _may_work_on(membership, case):
        raise CaseActionError("Only the assignee or a supervisor can change this case.")
    old_status = case.status
    if new_status not in TRANSITIONS[Case.Status(old_status)]:
        raise CaseActionError(
            f"A case that is {Case.Status(old_status).label.lower()} cannot become "
            f"{Case.Status(new_status).label.lower()}."
        )
    now = timezone.now()
    changes: dict[str, object] = {"status": new_status}
    if new_status == Case.Status.RESOLVED:
        changes["resolved_at"] = now
    elif new_status == Case.Status.OPEN:
        changes["resolved_at"] = None
    with transaction.atomic():
        if not Case.objects.filter(tenant=tenant, pk=case.pk, status=old_status).update(**changes):
            raise CaseActionError("The case changed meanwhile; reload and try again.")
        case.refresh_from_db()
        audit_record(tenant=tenant, actor=membership.user, verb="case.status_changed", obj=case,
                     data={"from": old_status, "to": new_status})
        events.case_status_changed.send(sender=Case, case=case, actor=membership.user, old_status=old_status,
                                        new_status=new_status)
        if new_status == Case.Status.RESOLVED:
            events.case_resolved.send(sender=Case, case=case, actor=membership.user)
    return case


# ---------------------------------------------------------------- transfers and reassignment

def case_transfer(*, tenant: Tenant, membership: Membership, case: Case, to_membership: Membership | None = None,
                  to_team: Team | None = None, note: str = "") -> Case:
    """Hand a case to a colleague and/or a team, with an optional note for them.

    The assignee or a supervisor may transfer; the target must belong to the same tenant
    (the caller fetches it with the tenant in the query). Moving to a team without a person
    puts the case back in that team's unassigned queue.
    """
    if not _may_work_on(membership, case):
        raise CaseActionError("Only the assignee or a supervisor can transfer this case.")
    if to_membership is None and to_team is None:
        raise CaseActionError("Choose a colleague or a team.")
    if not case.is_open:
        raise CaseActionError("Only open cases can be transferred.")
    if to_membership is not None and (to_membership.tenant_id != tenant.pk or not to_membership.is_active):
        raise CaseActionError("That person is not a member of this brand.")
    if to_team is not None and to_team.tenant_id != tenant.pk:
        raise CaseActionError("That team does not belong to this brand.")
    old_assignee_id, old_team_id = case.assignee_id, case.team_id
    changes: dict[str, object] = {"assignee": to_membership.user if to_membership else None}
    if to_team is not None:
        changes["team"] = to_team
    with transaction.atomic():
        # Conditional on the assignee we read, so two simultaneous transfers cannot both win.
        if not Case.objects.filter(tenant=tenant, pk=case.pk, assignee_id=old_assignee_id).update(**changes):
            raise CaseActionError("The case changed meanwhile; reload and try again.")
        case.refresh_from_db()
        audit_record(tenant=tenant, actor=membership.user, verb="case.assigned", obj=case, data={
            "assignee": case.assignee.get_username() if case.assignee else None,
            "team": case.team.name if case.team else None, "how": "transfer",
        })
        if note.strip():
            Note.objects.create(tenant=tenant, case=case, author=membership.user, text=note.strip())
        events.case_assigned.send(sender=Case, case=case, actor=membership.user, old_assignee_id=old_assignee_id,
                                  old_team_id=old_team_id)
        if to_membership is None:
            case = case_auto_assign(tenant=tenant, case=case)
    return case


def cases_reassign_bulk(*, tenant: Tenant, membership: Membership, case_ids: list[int],
                        to_membership: Membership | None) -> int:
    """Supervisors move many cases at once (to a person, or back to the queue with None)."""
    if not membership.has_role(Role.SUPERVISOR):
        raise CaseActionError("Only supervisors reassign cases in bulk.")
    if to_membership is not None and to_membership.tenant_id != tenant.pk:
        raise CaseActionError("That person is not a member of this brand.")
    moved = 0
    for case in Case.objects.filter(tenant=tenant, pk__in=case_ids, status__in=OPEN_STATUSES):
        if to_membership is None and case.assignee_id is None:
            continue
        old_assignee_id = case.assignee_id
        with transaction.atomic():
            if not Case.objects.filter(tenant=tenant, pk=case.pk, assignee_id=old_assignee_id).update(
                assignee=to_membership.user if to_membership else None
            ):
                continue
            case.refresh_from_db()
            audit_record(tenant=tenant, actor=membership.user, verb="case.assigned", obj=case, data={
                "assignee": case.assignee.get_username() if case.assignee else None, "how": "bulk"})
            events.case_assigned.send(sender=Case, case=case, actor=membership.user,
                                      old_assignee_id=old_assignee_id, old_team_id=case.team_id)
        moved += 1
    return moved


def note_add(*, tenant: Tenant, membership: Membership, case: Case, text: str) -> Note:
    text = text.strip()
    if not text:
        raise CaseActionError("A note needs some text.")
    with transaction.atomic():
        note = Note.objects.create(tenant=tenant, case=case, author=membership.user, text=text)
        audit_record(tenant=tenant, actor=membership.user, verb="note.added", obj=case, data={"note": note.pk})
    return note

def cases_auto_close(*, older_than: timedelta) -> int:
    """Resolved cases nobody reopened within the window become closed (final)."""
    cutoff, closed = timezone.now() - older_than, 0
    due = Case.objects.filter(status=Case.Status.RESOLVED, resolved_at__lt=cutoff).select_related("tenant")
    for case in due[:1000]:
        with transaction.atomic():
            if Case.objects.filter(tenant=case.tenant, pk=case.pk, status=Case.Status.RESOLVED).update(
                status=Case.Status.CLOSED
            ):
                audit_record(tenant=case.tenant, actor=None, verb="case.status_changed", obj=case,
                             data={"from": Case.Status.RESOLVED, "to": Case.Status.CLOSED, "how": "auto_close"})
                case.status = Case.Status.CLOSED
                events.case_status_changed.send(sender=Case, case=case, actor=None,
                                                old_status=Case.Status.RESOLVED, new_status=Case.Status.CLOSED)
                closed += 1
    return closed
