"""Every write of the inbox: triage outcomes, cases, claims, replies, notes, canned replies."""

import csv
import io
import logging
import re
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Case as SqlCase
from django.db.models import Count, F, Max, Q, Value, When
from django.utils import timezone

from channels_ingest.connectors import connector_for
from channels_ingest.errors import DeliveryUnknown, PermanentError, TransientError
from channels_ingest.models import Mention
from channels_ingest.services import mentions_mark_triaged
from channels_ingest.types import OutboundMessage
from sac.models import Membership, Role, Team, Tenant
from sac.services import audit_record
from sac.tenancy import online_user_ids

from . import events
from .limits import check_length
from .models import (
    OPEN_STATUSES,
    CannedReply,
    Case,
    CaseMention,
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
from .selectors import author_complaints_this_week, case_first_mention, triage_categories, triage_config_for
from .triage import TriageConfig, TriageDecision, TriageInput, triage

log = logging.getLogger(__name__)

MAX_SEND_ATTEMPTS = 6
# Starts the error of a send whose outcome is unknown (the post may exist): never resent without a human.
DELIVERY_UNKNOWN = "Delivery unknown:"


class CaseActionError(Exception):
    """A user-facing refusal: the message is shown to the agent as it is."""


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


def _may_work_on(membership: Membership, case: Case) -> bool:
    return case.assignee_id == membership.user_id or membership.has_role(Role.SUPERVISOR)


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


# ---------------------------------------------------------------- replies

class ThreadChanged(CaseActionError):
    """The conversation moved on while the agent was writing; the reply is not sent until they have seen it."""

    def __init__(self, changes: list[str]) -> None:
        super().__init__("Since you opened this reply: " + "; ".join(changes)
                         + ". Read the thread, then press Send again to send it as it is.")
        self.changes = changes


def thread_changes_since(*, tenant: Tenant, case: Case, since: datetime, user: AbstractBaseUser) -> list[str]:
    """What a colleague or the customer added to the thread after `since` (what the agent has not seen)."""
    changes = []
    inbound = Mention.objects.filter(tenant=tenant, case_link__case=case, direction=Mention.Direction.INBOUND,
                                     received_at__gt=since).count()
    if inbound:
        changes.append(f"the customer wrote {inbound} new message{'s' if inbound > 1 else ''}")
    for reply in Reply.objects.filter(tenant=tenant, case=case, created_at__gt=since).exclude(author=user) \
            .select_related("author"):
        who = reply.author.get_username() if reply.author else "someone"
        changes.append(f"{who} replied: “{reply.text[:60]}”")
    return changes


def reply_create(*, tenant: Tenant, membership: Membership, case: Case, text: str, visibility: str,
                 idempotency_key: str, canned_reply: CannedReply | None = None,
                 seen_at: datetime | None = None) -> Reply:
    """Queue a reply. The same idempotency key (a double click, a resubmitted form) returns the same reply.

    `seen_at` is when the agent's page last showed the thread: if the customer or a colleague
    added to it since, the send stops with ThreadChanged so nobody answers a conversation they have not read.
    """
    key = f"t{tenant.pk}:{idempotency_key}"
    existing = Reply.objects.filter(tenant=tenant, idempotency_key=key).first()
    if existing is not None:
        return existing
    if not _may_work_on(membership, case):
        raise CaseActionError("Only the assignee or a supervisor can reply on this case. Claim it first.")
    if not case.is_open:
        raise CaseActionError("This case is closed for replies; reopen it first.")
    text = text.strip()
    if not text:
        raise CaseActionError("The reply is empty.")
    if visibility not in Reply.Visibility.values:
        raise CaseActionError("Choose a public reply or a private message.")
    length = check_length(text, platform=case.channel.platform, visibility=visibility)
    if not length.ok:
        raise CaseActionError(
            f"Too long for a {Reply.Visibility(visibility).label.lower()} on {case.channel.get_platform_display()}: "
            f"{length.length} characters as the network counts them, {length.limit} at most."
        )
    last_inbound = (
        Mention.objects.filter(tenant=tenant, case_link__case=case, direction=Mention.Direction.INBOUND)
        .order_by("-posted_at", "-pk").first()
    )
    if visibility == Reply.Visibility.PRIVATE and case.customer is None:
        raise CaseActionError("We do not know who the customer is on this network, so no private message.")
    if seen_at is not None:
        changes = thread_changes_since(tenant=tenant, case=case, since=seen_at, user=membership.user)
        if changes:
            raise ThreadChanged(changes)
    with transaction.atomic():
        reply = Reply.objects.create(
            tenant=tenant, case=case, author=membership.user, visibility=visibility, text=text,
            in_reply_to=last_inbound, canned_reply=canned_reply, idempotency_key=key,
        )
        if canned_reply is not None:
            CannedReply.objects.filter(tenant=tenant, pk=canned_reply.pk).update(usage_count=F("usage_count") + 1)
        audit_record(tenant=tenant, actor=membership.user, verb="reply.queued", obj=case,
                     data={"reply": reply.pk, "visibility": visibility})
        from . import tasks

        transaction.on_commit(lambda: tasks.reply_deliver.delay(tenant.pk, reply.pk))
    return reply


def reply_retry(*, tenant: Tenant, membership: Membership, reply: Reply, outcome_checked: bool = False) -> Reply:
    """Send a failed reply again, as the same row (so it still cannot go out twice at once).

    When the first attempt timed out after the request left, the post may exist on the network:
    the agent must say they checked (`outcome_checked`) before we try again.
    """
    if not _may_work_on(membership, reply.case):
        raise CaseActionError("Only the assignee or a supervisor can resend on this case.")
    if reply.state != Reply.State.FAILED:
        raise CaseActionError("Only a failed reply can be sent again.")
    if reply.error.startswith(DELIVERY_UNKNOWN) and not outcome_checked:
        raise CaseActionError("This reply may already be on the network: check the conversation there, "
                              "then confirm to send it again.")
    with transaction.atomic():
        if not Reply.objects.filter(tenant=tenant, pk=reply.pk, state=Reply.State.FAILED).update(
            state=Reply.State.QUEUED, error=""
        ):
            raise CaseActionError("The reply changed meanwhile; reload the page.")
        audit_record(tenant=tenant, actor=membership.user, verb="reply.retried", obj=reply.case,
                     data={"reply": reply.pk, "outcome_checked": outcome_checked})
        from . import tasks

        transaction.on_commit(lambda: tasks.reply_deliver.delay(tenant.pk, reply.pk))
    reply.refresh_from_db()
    return reply


def case_handoff_private(*, tenant: Tenant, membership: Membership, case: Case, public_text: str,
                         private_text: str, idempotency_key: str) -> tuple[Reply, Reply]:
    """One click from a public complaint to a private conversation: a short public answer
    ("we sent you a message") and the private message itself, both queued together or not at all."""
    if case.customer is None:
        raise CaseActionError("We do not know who the customer is on this network, so no private message.")
    with transaction.atomic():
        public = reply_create(tenant=tenant, membership=membership, case=case, text=public_text,
                              visibility=Reply.Visibility.PUBLIC, idempotency_key=f"{idempotency_key}:public")
        private = reply_create(tenant=tenant, membership=membership, case=case, text=private_text,
                               visibility=Reply.Visibility.PRIVATE, idempotency_key=f"{idempotency_key}:private")
    return public, private


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


def reply_deliver(*, tenant_id: int, reply_id: int) -> Reply | None:
    """Send a queued reply once. queued → sending → sent|failed, each step a conditional update.

    Whoever moves the row out of `queued` owns the send; a retried or duplicated
    task finds it taken and does nothing, so the customer never gets it twice.
    """
    now = timezone.now()
    taken = Reply.objects.filter(tenant_id=tenant_id, pk=reply_id, state=Reply.State.QUEUED).update(
        state=Reply.State.SENDING, sending_started_at=now, attempts=F("attempts") + 1
    )
    if not taken:
        return None
    reply = Reply.objects.select_related("case__channel", "case__customer", "in_reply_to", "tenant").get(
        tenant_id=tenant_id, pk=reply_id
    )
    message = OutboundMessage(
        visibility=reply.visibility,
        text=reply.text,
        in_reply_to_external_id=reply.in_reply_to.external_id if reply.in_reply_to else "",
        recipient_external_id=reply.case.customer.external_id if reply.case.customer else "",
    )
    try:
        external_id = connector_for(reply.case.channel).send(message)
    except TransientError as exc:
        # Not sent (the request never landed): back to the queue for the retry, unless we tried enough.
        give_up = reply.attempts >= MAX_SEND_ATTEMPTS
        Reply.objects.filter(tenant_id=tenant_id, pk=reply_id, state=Reply.State.SENDING).update(
            state=Reply.State.FAILED if give_up else Reply.State.QUEUED, error=str(exc)
        )
        if give_up:
            _reply_failed_audit(reply, str(exc))
            return reply
        raise
    except PermanentError as exc:
        error = f"{DELIVERY_UNKNOWN} {exc}" if isinstance(exc, DeliveryUnknown) else str(exc)
        Reply.objects.filter(tenant_id=tenant_id, pk=reply_id, state=Reply.State.SENDING).update(
            state=Reply.State.FAILED, error=error
        )
        _reply_failed_audit(reply, str(exc))
        reply.refresh_from_db()
        return reply
    _reply_sent(reply, external_id)
    reply.refresh_from_db()
    return reply


def _reply_failed_audit(reply: Reply, error: str) -> None:
    audit_record(tenant=reply.tenant, actor=None, verb="reply.failed", obj=reply.case,
                 data={"reply": reply.pk, "error": error})


def _reply_sent(reply: Reply, external_id: str) -> None:
    tenant, now = reply.tenant, timezone.now()
    with transaction.atomic():
        Reply.objects.filter(tenant=tenant, pk=reply.pk, state=Reply.State.SENDING).update(
            state=Reply.State.SENT, external_id=external_id, sent_at=now, error=""
        )
        Case.objects.filter(tenant=tenant, pk=reply.case_id, first_response_at__isnull=True).update(
            first_response_at=now
        )
        case = Case.objects.get(tenant=tenant, pk=reply.case_id)
        audit_record(tenant=tenant, actor=reply.author, verb="reply.sent", obj=case,
                     data={"reply": reply.pk, "external_id": external_id, "visibility": reply.visibility})
        events.case_replied.send(sender=Case, case=case, actor=reply.author, reply=reply)


def replies_stale_sweep(*, older_than: timedelta = timedelta(seconds=30)) -> list[tuple[int, int]]:
    """Queued replies whose task was lost (broker restart) are returned for re-enqueueing;
    replies stuck in `sending` (a worker died mid-send) are failed for a human to check, never resent."""
    now = timezone.now()
    stuck = Reply.objects.filter(state=Reply.State.SENDING, sending_started_at__lt=now - timedelta(minutes=5))
    for reply in stuck.select_related("tenant", "case"):
        if Reply.objects.filter(tenant=reply.tenant, pk=reply.pk, state=Reply.State.SENDING).update(
            state=Reply.State.FAILED,
            error=f"{DELIVERY_UNKNOWN} the worker stopped while sending; check the network before resending."
        ):
            _reply_failed_audit(reply, "worker stopped while sending")
    return list(
        Reply.objects.filter(state=Reply.State.QUEUED, created_at__lt=now - older_than)
        .values_list("tenant_id", "pk")[:500]
    )


# ---------------------------------------------------------------- canned replies

def canned_reply_save(*, tenant: Tenant, membership: Membership, canned: CannedReply | None, title: str,
                      shortcut: str, body: str, language: str = "") -> CannedReply:
    if not membership.has_role(Role.ADMIN):
        raise CaseActionError("Only tenant admins edit the canned-reply bank.")
    if CannedReply.objects.filter(tenant=tenant, shortcut=shortcut).exclude(pk=canned.pk if canned else None).exists():
        raise CaseActionError(f"The shortcut /{shortcut} is already used.")
    with transaction.atomic():
        if canned is None:
            canned = CannedReply.objects.create(tenant=tenant, title=title, shortcut=shortcut, body=body,
                                                language=language)
            verb = "canned_reply.created"
        else:
            CannedReply.objects.filter(tenant=tenant, pk=canned.pk).update(
                title=title, shortcut=shortcut, body=body, language=language, updated_at=timezone.now()
            )
            canned.refresh_from_db()
            verb = "canned_reply.updated"
        audit_record(tenant=tenant, actor=membership.user, verb=verb, obj=canned, data={"shortcut": shortcut})
    return canned


def canned_reply_delete(*, tenant: Tenant, membership: Membership, canned: CannedReply) -> None:
    if not membership.has_role(Role.ADMIN):
        raise CaseActionError("Only tenant admins edit the canned-reply bank.")
    with transaction.atomic():
        audit_record(tenant=tenant, actor=membership.user, verb="canned_reply.deleted", obj=canned,
                     data={"shortcut": canned.shortcut})
        CannedReply.objects.filter(tenant=tenant, pk=canned.pk).delete()


CANNED_CSV_COLUMNS = ["shortcut", "title", "language", "body"]


@dataclass(frozen=True)
class CannedImportResult:
    created: int
    updated: int
    errors: list[str]


def canned_replies_import_csv(*, tenant: Tenant, membership: Membership, text: str) -> CannedImportResult:
    """Create or update canned replies from CSV (columns shortcut,title,language,body; header required).
    Bad rows are reported with their line number and skipped; good rows are applied in one transaction."""
    if not membership.has_role(Role.ADMIN):
        raise CaseActionError("Only tenant admins edit the canned-reply bank.")
    reader = csv.DictReader(io.StringIO(text))
    missing = set(CANNED_CSV_COLUMNS) - set(reader.fieldnames or [])
    if missing:
        raise CaseActionError(f"The CSV needs the columns {', '.join(CANNED_CSV_COLUMNS)}; missing: "
                              f"{', '.join(sorted(missing))}.")
    created = updated = 0
    errors: list[str] = []
    with transaction.atomic():
        for row in reader:
            line = reader.line_num
            shortcut = (row.get("shortcut") or "").strip().lstrip("/")
            title, body = (row.get("title") or "").strip(), (row.get("body") or "").strip()
            language = (row.get("language") or "").strip()[:8]
            if not re.fullmatch(r"[-a-zA-Z0-9_]{1,40}", shortcut):
                errors.append(f"line {line}: the shortcut {shortcut!r} must be 1–40 letters, digits, - or _")
                continue
            if not title or not body:
                errors.append(f"line {line}: title and body are required")
                continue
            _, was_created = CannedReply.objects.update_or_create(
                tenant=tenant, shortcut=shortcut, defaults={"title": title[:120], "body": body, "language": language}
            )
            created += was_created
            updated += not was_created
        audit_record(tenant=tenant, actor=membership.user, verb="canned_reply.imported", obj=tenant,
                     data={"created": created, "updated": updated, "errors": len(errors)})
    return CannedImportResult(created=created, updated=updated, errors=errors)


# ---------------------------------------------------------------- triage: corrections, learning, routing rules (#4)

# A tenant model is retrained once this many corrections arrived since the last version.
RETRAIN_EVERY = 20
# Fewer held-back corrections than this and a comparison means nothing: keep the current model.
MIN_HELD_BACK = 5


def triage_correct(*, tenant: Tenant, membership: Membership, case: Case, category: str, requires_response: bool,
                   priority: int | None = None) -> TriageCorrection:
    """An agent re-labels a case: the case changes now, and the correction becomes a training example."""
    if category not in triage_categories(tenant):
        raise CaseActionError(f"Unknown category {category!r}.")
    if priority is not None and not 0 <= priority <= 100:
        raise CaseActionError("Priority goes from 0 to 100.")
    mention = case_first_mention(tenant, case)
    if mention is None:
        raise CaseActionError("This case has no customer post to learn from.")
    with transaction.atomic():
        changes: dict[str, object] = {"category": category}
        if priority is not None:
            changes["priority"] = priority
        Case.objects.filter(tenant=tenant, pk=case.pk).update(**changes)
        correction, _ = TriageCorrection.objects.update_or_create(
            tenant=tenant, mention=mention,
            defaults={"case": case, "text": mention.text, "category": category,
                      "requires_response": requires_response, "priority": priority,
                      "original": {k: case.triage.get(k) for k in ("category", "requires_response", "priority")},
                      "corrected_by": membership.user},
        )
        audit_record(tenant=tenant, actor=membership.user, verb="triage.corrected", obj=case,
                     data={"category": category, "requires_response": requires_response, "priority": priority,
                           "was": correction.original})
        latest = TriageModelVersion.objects.filter(tenant=tenant).order_by("-version").first()
        since = TriageCorrection.objects.filter(tenant=tenant)
        if latest is not None:
            since = since.filter(created_at__gt=latest.created_at)
        if since.count() >= RETRAIN_EVERY:
            from .tasks import triage_model_retrain

            transaction.on_commit(lambda: triage_model_retrain.delay(tenant.pk))
    case.refresh_from_db()
    return correction


def triage_model_retrain(*, tenant_id: int) -> TriageModelVersion | None:
    """Train a candidate on the tenant's corrections, judge it against the model in use on the held-back
    slice, and promote it only when it scores higher. Every attempt is kept as a version with its metrics."""
    from .triage.train import Example, fit, held_back, score

    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        log.info("triage_model_retrain: tenant %s is gone", tenant_id)
        return None
    rows = list(TriageCorrection.objects.filter(tenant=tenant).values_list("text", "category", "requires_response"))
    examples = [Example(text, category, rr) for text, category, rr in rows]
    train = [e for e in examples if not held_back(e.text)]
    test = [e for e in examples if held_back(e.text)]
    if len(train) < 10 or len(test) < MIN_HELD_BACK:
        log.info("triage_model_retrain: tenant %s has too few corrections (%d)", tenant_id, len(examples))
        return None
    current = triage_config_for(tenant)
    with transaction.atomic():
        # One retraining per tenant at a time: the version number and the promotion are decided under this lock.
        Tenant.objects.select_for_update().filter(pk=tenant.pk).first()
        last = TriageModelVersion.objects.filter(tenant=tenant).order_by("-version").first()
        number = (last.version if last else 0) + 1
        model = fit(train, version=f"v{number}")
        incumbent = score(test, current)
        candidate = score(test, TriageConfig(custom_patterns=current.custom_patterns, categories=current.categories,
                                             rules=current.rules, model=model))
        better = candidate["score"] > incumbent["score"]
        if better:
            TriageModelVersion.objects.filter(tenant=tenant, status=TriageModelVersion.Status.PROMOTED).update(
                status=TriageModelVersion.Status.RETIRED)
        version = TriageModelVersion.objects.create(
            tenant=tenant, version=number, trained_on=len(train), held_back=len(test),
            status=TriageModelVersion.Status.PROMOTED if better else TriageModelVersion.Status.REJECTED,
            metrics={"candidate": candidate, "incumbent": incumbent,
                     "incumbent_version": current.model.version if current.model else "baseline"},
            weights=model.to_json(),
        )
        audit_record(tenant=tenant, actor=None, verb="triage.model_trained", obj=version,
                     data={"version": number, "promoted": better, "candidate": candidate, "incumbent": incumbent})
    return version


def routing_rule_save(*, tenant: Tenant, membership: Membership, rule: RoutingRule | None,
                      fields: dict[str, object]) -> RoutingRule:
    """Create or update a rule; `fields` come from RoutingRuleForm (its choices are the tenant's own)."""
    with transaction.atomic():
        if rule is None:
            last = RoutingRule.objects.filter(tenant=tenant).order_by("-position").first()
            rule = RoutingRule(tenant=tenant, position=(last.position + 1) if last else 0)
        for name, value in fields.items():
            setattr(rule, name, value)
        if rule.team_id is not None and rule.team.tenant_id != tenant.pk:
            raise CaseActionError("No such team.")
        if rule.channel_id is not None and rule.channel.tenant_id != tenant.pk:
            raise CaseActionError("No such channel.")
        rule.save()
        audit_record(tenant=tenant, actor=membership.user, verb="routing_rule.saved", obj=rule,
                     data={"name": rule.name})
    return rule


def routing_rule_delete(*, tenant: Tenant, membership: Membership, rule: RoutingRule) -> None:
    with transaction.atomic():
        audit_record(tenant=tenant, actor=membership.user, verb="routing_rule.deleted", obj=rule,
                     data={"name": rule.name})
        RoutingRule.objects.filter(tenant=tenant, pk=rule.pk).delete()


def routing_rule_move(*, tenant: Tenant, membership: Membership, rule: RoutingRule, up: bool) -> None:
    """Swap a rule with its neighbour; positions are renumbered so ties never make the order ambiguous."""
    with transaction.atomic():
        rules = list(RoutingRule.objects.select_for_update().filter(tenant=tenant).order_by("position", "pk"))
        index = next(i for i, r in enumerate(rules) if r.pk == rule.pk)
        other = index - 1 if up else index + 1
        if 0 <= other < len(rules):
            rules[index], rules[other] = rules[other], rules[index]
        for position, r in enumerate(rules):
            if r.position != position:
                RoutingRule.objects.filter(tenant=tenant, pk=r.pk).update(position=position)
        audit_record(tenant=tenant, actor=membership.user, verb="routing_rule.moved", obj=rule,
                     data={"up": up})


def personal_data_pattern_add(*, tenant: Tenant, membership: Membership, name: str, regex: str) -> PersonalDataPattern:
    try:
        re.compile(regex)
    except re.error as exc:
        raise CaseActionError(f"Not a valid regular expression: {exc}") from None
    if not regex or re.compile(regex).search(""):
        raise CaseActionError("The pattern must not match empty text.")
    with transaction.atomic():
        if PersonalDataPattern.objects.filter(tenant=tenant, name=name).exists():
            raise CaseActionError(f"There is already a pattern named {name!r}.")
        pattern = PersonalDataPattern.objects.create(tenant=tenant, name=name, regex=regex)
        audit_record(tenant=tenant, actor=membership.user, verb="personal_data_pattern.added", obj=pattern,
                     data={"name": name, "regex": regex})
    return pattern


def personal_data_pattern_delete(*, tenant: Tenant, membership: Membership, pattern: PersonalDataPattern) -> None:
    with transaction.atomic():
        audit_record(tenant=tenant, actor=membership.user, verb="personal_data_pattern.deleted", obj=pattern,
                     data={"name": pattern.name})
        PersonalDataPattern.objects.filter(tenant=tenant, pk=pattern.pk).delete()


def triage_category_add(*, tenant: Tenant, membership: Membership, name: str) -> TriageCategory:
    with transaction.atomic():
        category, created = TriageCategory.objects.get_or_create(tenant=tenant, name=name)
        if created:
            audit_record(tenant=tenant, actor=membership.user, verb="triage_category.added", obj=category,
                         data={"name": name})
    return category
