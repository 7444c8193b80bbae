"""Every write of the SLA app: due times and clocks (called by the inbox's case events, inside the inbox
service's transaction), met/missed events, the breach sweep, notifications and the e-mail digest."""

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext, ngettext, pgettext

from channels_ingest.models import ChannelAccount, Mention, Platform, SocialProfile
from inbox.masking import masked_subject, masked_text
from inbox.models import OPEN_STATUSES, Case, CaseMention, MentionTriage, Reply
from inbox.services import protocol_next
from sac.bulk import rows_insert, rows_update
from sac.i18n import tenant_language
from sac.models import AuditEvent, Membership, Role, Tenant
from sac.services import audit_record, tenant_create

from .histograms import categories_add, categories_rebuild, durations_rebuild, durations_sync
from .hours import Hours
from .importers import Thread
from .models import (
    BusinessCalendar,
    CaseClock,
    CasePromise,
    SLAAlert,
    SLACrisis,
    SLAEvent,
    SLANotification,
    SLAPolicy,
    SLARollupHour,
    Target,
)
from .selectors import (
    crisis,
    crisis_check,
    crisis_check_keep,
    hours_for,
    policies_of,
    policy_match,
    policy_pick,
    rollups_from_raw,
)

log = logging.getLogger(__name__)

SUPERVISOR_ROLES = (Role.SUPERVISOR, Role.ADMIN)


# ---------------------------------------------------------------- clocks (called inside the inbox's transactions)

def _warn_at(hours: Hours, start: datetime, minutes: float, percent: int) -> datetime:
    return hours.add(start, minutes * percent / 100)


def case_deadlines_set(*, case: Case) -> Case:
    """Start the clocks of a new case. Runs inside the transaction that opens the case, so a case is never
    visible without its deadlines. Both clocks start at the customer's first message, not at ingestion."""
    _deadlines_set(tenant=case.tenant, cases=[case])
    return case


def _deadlines_compute(tenant: Tenant, cases: list[Case]) -> None:
    """Due times on the case objects, and their clock's warning times kept on them (`_sla_clock`) until the
    clocks are written. Policies and calendars are read once for all the cases."""
    policies = policies_of(tenant)
    calendars: dict[int | None, Hours] = {}
    for case in cases:
        policy = policy_pick(policies, case)
        if policy.pk not in calendars:
            calendars[policy.pk] = hours_for(tenant, policy)
        hours = calendars[policy.pk]
        start = case.first_message_at
        case.first_response_due = hours.add(start, policy.first_response_minutes)
        case.resolution_due = hours.add(start, policy.resolution_minutes)
        case._sla_clock = {  # type: ignore[attr-defined]
            "tenant_id": tenant.pk, "policy_id": policy.pk,
            "first_response_warn_at": _warn_at(hours, start, policy.first_response_minutes, policy.warn_percent),
            "resolution_warn_at": _warn_at(hours, start, policy.resolution_minutes, policy.warn_percent),
        }


def cases_due_times_fill(*, tenant: Tenant, cases: list[Case]) -> None:
    """The cases_opening subscriber: due times set on cases about to be inserted, so the INSERT carries them.
    Setting them afterwards meant an UPDATE that wrote every fresh case row, and each of its indexes, twice."""
    _deadlines_compute(tenant, cases)


def _deadlines_set(*, tenant: Tenant, cases: list[Case]) -> None:
    """Due times and clocks of new cases in a fixed number of statements: due times computed (unless
    cases_due_times_fill did it before the INSERT) and written in one UPDATE, clocks in one upsert.
    The one place a case's clocks start."""
    saved = [case for case in cases if getattr(case, "_sla_clock", None) is None]
    if saved:
        _deadlines_compute(tenant, saved)
        rows_update(Case, saved, ["first_response_due", "resolution_due"], tenant_id=tenant.pk)
    clocks = [{**case.__dict__.pop("_sla_clock"), "case_id": case.pk} for case in cases]
    rows_insert(CaseClock, clocks, conflict=["tenant_id", "case_id"],
                update=["policy_id", "first_response_warn_at", "resolution_warn_at"], returning=[])


def _clock(case: Case) -> CaseClock:
    clock = CaseClock.objects.select_for_update().filter(tenant=case.tenant, case=case).first()
    if clock is None:  # a case opened before this app kept clocks: start them now
        case_deadlines_set(case=case)
        clock = CaseClock.objects.select_for_update().get(tenant=case.tenant, case=case)
    return clock


def _policy_of(case: Case, clock: CaseClock) -> SLAPolicy:
    return clock.policy or policy_match(case.tenant, case)


def sla_event_record(*, case: Case, target: str, due_at: datetime, at: datetime, met: bool) -> bool:
    """Record a target met or missed, once per case, target and due time (a late answer to a target the sweep
    already found missed does not turn it into a met one). Returns whether it was new."""
    if SLAEvent.objects.filter(tenant_id=case.tenant_id, case=case, target=target, due_at=due_at).exists():
        return False
    try:
        with transaction.atomic():
            SLAEvent.objects.create(
                tenant_id=case.tenant_id, case=case, target=target, due_at=due_at, at=at, met=met,
                channel_id_copy=case.channel_id, team_id_copy=case.team_id, assignee_id_copy=case.assignee_id,
                category=case.category,
            )
    except IntegrityError:  # recorded by a concurrent transaction a moment ago
        return False
    rollup_add(tenant_id=case.tenant_id, at=at, channel_id=case.channel_id, met=int(met), missed=int(not met))
    return True


# ---------------------------------------------------------------- rollups

def _hour(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def rollup_add(*, tenant_id: int, at: datetime, channel_id: int, inbound: int = 0, met: int = 0,
               missed: int = 0) -> None:
    """One atomic upsert, inside the caller's transaction, so the counts commit or roll back with the change."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO sla_slarolluphour (tenant_id, hour, channel_id_copy, inbound, met, missed) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (tenant_id, hour, channel_id_copy) DO UPDATE SET "
            "inbound = sla_slarolluphour.inbound + EXCLUDED.inbound, met = sla_slarolluphour.met + EXCLUDED.met, "
            "missed = sla_slarolluphour.missed + EXCLUDED.missed",
            [tenant_id, _hour(at), channel_id, inbound, met, missed],
        )


def case_opened(*, case: Case) -> Case:
    """The case_opened subscriber: due times, and the case counted in its hour's rollup."""
    cases_opened_bulk(tenant=case.tenant, cases=[case])
    return case


def cases_opened_bulk(*, tenant: Tenant, cases: list[Case]) -> None:
    """The cases_opened subscriber (batch triage), and case_opened's: due times and clocks, then the cases
    counted in their hours' rollups and their categories' counts, one upsert each."""
    if not cases:
        return
    _deadlines_set(tenant=tenant, cases=cases)
    inbound: dict[tuple[datetime, int], int] = defaultdict(int)
    for case in cases:
        inbound[(_hour(case.first_message_at), case.channel_id)] += 1
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO sla_slarolluphour (tenant_id, hour, channel_id_copy, inbound, met, missed) VALUES "
            + ", ".join(["(%s, %s, %s, %s, 0, 0)"] * len(inbound))
            + " ON CONFLICT (tenant_id, hour, channel_id_copy) DO UPDATE SET "
            "inbound = sla_slarolluphour.inbound + EXCLUDED.inbound",
            [v for (hour, channel), n in inbound.items() for v in (tenant.pk, hour, channel, n)],
        )
    categories_add(tenant_id=tenant.pk, rows=[(c.first_message_at, c.channel_id, c.category) for c in cases])


def case_recategorized(*, case: Case, old_category: str, new_category: str) -> None:
    """An agent corrected the category: the case moves between the per-category counts, in the same transaction."""
    categories_add(tenant_id=case.tenant_id, rows=[(case.first_message_at, case.channel_id, old_category)], delta=-1)
    categories_add(tenant_id=case.tenant_id, rows=[(case.first_message_at, case.channel_id, new_category)])


def rollups_rebuild(*, tenant: Tenant) -> int:
    """Recompute a tenant's rollups from the raw rows (after a bug, or for history imported before rollups)."""
    with transaction.atomic():
        rows = rollups_from_raw(tenant)
        SLARollupHour.objects.filter(tenant=tenant).delete()
        SLARollupHour.objects.bulk_create([
            SLARollupHour(tenant=tenant, hour=hour, channel_id_copy=channel, inbound=v[0], met=v[1], missed=v[2],
                          resolved=v[3])
            for (hour, channel), v in rows.items()
        ], batch_size=5000)
        durations = 0
        if connection.vendor == "postgresql":
            durations = durations_rebuild(tenant_id=tenant.pk)
            categories_rebuild(tenant_id=tenant.pk)
        audit_record(tenant=tenant, actor=None, verb="sla.rollups_rebuilt", obj=tenant,
                     data={"rows": len(rows), "durations": durations})
    return len(rows)


def case_customer_wrote(*, case: Case, posted_at: datetime) -> None:
    """A later customer message: once we have answered, the next-response clock runs from the oldest
    message we have not answered yet."""
    if case.first_response_at is None:
        return  # the first-response clock is still running: nothing to start (and nothing to read)
    clock = _clock(case)
    policy = _policy_of(case, clock)
    if clock.next_response_due is not None or not policy.next_response_minutes:
        return
    hours = hours_for(case.tenant, policy)
    clock.next_response_since = posted_at
    clock.next_response_due = hours.add(posted_at, policy.next_response_minutes)
    clock.next_response_warn_at = _warn_at(hours, posted_at, policy.next_response_minutes, policy.warn_percent)
    clock.save(update_fields=["next_response_since", "next_response_due", "next_response_warn_at"])


def case_answered(*, case: Case, at: datetime) -> None:
    """A reply reached the customer: the first-response target (once) and any running next-response
    target are met or missed now."""
    durations_sync(tenant_id=case.tenant_id, case_id=case.pk)
    clock = _clock(case)
    if case.first_response_at is not None and case.first_response_due is not None:
        sla_event_record(case=case, target=Target.FIRST_RESPONSE, due_at=case.first_response_due,
                         at=case.first_response_at, met=case.first_response_at <= case.first_response_due)
    if case.first_response_at is not None and clock.first_response_warn_at is not None:
        # Settled: off the near-breach index, which then holds live clocks only.
        clock.first_response_warn_at = None
        clock.save(update_fields=["first_response_warn_at"])
    if clock.next_response_due is not None:
        sla_event_record(case=case, target=Target.NEXT_RESPONSE, due_at=clock.next_response_due, at=at,
                         met=at <= clock.next_response_due)
        clock.next_response_since = clock.next_response_due = clock.next_response_warn_at = None
        clock.save(update_fields=["next_response_since", "next_response_due", "next_response_warn_at"])


def case_status_moved(*, case: Case, old_status: str, new_status: str, at: datetime) -> None:
    """Pause the resolution clock while the case waits on the customer; resume it when they reply.
    The first-response clock never pauses."""
    durations_sync(tenant_id=case.tenant_id, case_id=case.pk)  # a reopened case has no resolution time any more
    clock = _clock(case)
    policy = _policy_of(case, clock)
    hours = hours_for(case.tenant, policy)
    if new_status == Case.Status.PENDING_CUSTOMER and clock.paused_at is None and case.resolution_due is not None:
        remaining = hours.between(at, case.resolution_due)
        clock.paused_at = at
        clock.resolution_remaining_seconds = remaining.total_seconds()
        clock.resolution_warn_at = None
        clock.save(update_fields=["paused_at", "resolution_remaining_seconds", "resolution_warn_at"])
        Case.objects.filter(tenant=case.tenant, pk=case.pk).update(resolution_due=None)
        case.resolution_due = None
    elif old_status == Case.Status.PENDING_CUSTOMER and clock.paused_at is not None and new_status in OPEN_STATUSES:
        remaining_min = (clock.resolution_remaining_seconds or 0) / 60
        if remaining_min >= 0:
            due = hours.add(at, remaining_min)
        else:  # already overdue when it was paused: it stays overdue by the same amount
            due = at + timedelta(minutes=remaining_min)
        warn_left = remaining_min - policy.resolution_minutes * (100 - policy.warn_percent) / 100
        clock.paused_seconds += (at - clock.paused_at).total_seconds()
        clock.paused_at = None
        clock.resolution_remaining_seconds = None
        clock.resolution_warn_at = hours.add(at, warn_left) if warn_left > 0 else at
        clock.save(update_fields=["paused_at", "resolution_remaining_seconds", "paused_seconds",
                                  "resolution_warn_at"])
        Case.objects.filter(tenant=case.tenant, pk=case.pk).update(resolution_due=due)
        case.resolution_due = due
    elif old_status in (Case.Status.RESOLVED, Case.Status.IGNORED) and new_status in OPEN_STATUSES:
        # A reopened case is a new problem to solve: a fresh resolution target from now.
        due = hours.add(at, policy.resolution_minutes)
        clock.resolution_warn_at = _warn_at(hours, at, policy.resolution_minutes, policy.warn_percent)
        clock.save(update_fields=["resolution_warn_at"])
        Case.objects.filter(tenant=case.tenant, pk=case.pk).update(resolution_due=due)
        case.resolution_due = due


def case_resolution_record(*, case: Case, at: datetime) -> None:
    durations_sync(tenant_id=case.tenant_id, case_id=case.pk)
    clock = _clock(case)
    if clock.paused_at is not None:  # resolved while waiting on the customer
        due = clock.paused_at + timedelta(seconds=clock.resolution_remaining_seconds or 0)
        met = (clock.resolution_remaining_seconds or 0) >= 0
        clock.paused_seconds += (at - clock.paused_at).total_seconds()
        clock.paused_at = None
        clock.resolution_remaining_seconds = None
        clock.save(update_fields=["paused_at", "resolution_remaining_seconds", "paused_seconds"])
    elif case.resolution_due is not None:
        due, met = case.resolution_due, at <= case.resolution_due
    else:
        return
    sla_event_record(case=case, target=Target.RESOLUTION, due_at=due, at=at, met=met)
    _promise_settle(case, at)
    if clock.resolution_warn_at is not None:
        clock.resolution_warn_at = None
        clock.save(update_fields=["resolution_warn_at"])
    if clock.next_response_due is not None:
        clock.next_response_since = clock.next_response_due = clock.next_response_warn_at = None
        clock.save(update_fields=["next_response_since", "next_response_due", "next_response_warn_at"])


# ---------------------------------------------------------------- promise windows

class PromiseError(Exception):
    """A user-facing refusal, shown as it is."""


def promise_make(*, tenant: Tenant, membership: Membership, case: Case, min_hours: float,
                 max_hours: float) -> CasePromise:
    """The agent promises the customer a window; it replaces an earlier promise on the same case."""
    if case.assignee_id != membership.user_id and not membership.has_role(Role.SUPERVISOR):
        raise PromiseError("Only the assignee or a supervisor can promise a time on this case.")
    if not case.is_open:
        raise PromiseError("Only open cases take a promise.")
    if not 0 <= min_hours <= max_hours <= 24 * 30 or max_hours == 0:
        raise PromiseError("The window must be from 0 to 720 hours, the first number not above the second.")
    now = timezone.now()
    with transaction.atomic():
        CasePromise.objects.filter(tenant=tenant, case=case, is_active=True).update(is_active=False)
        promise = CasePromise.objects.create(
            tenant=tenant, case=case, min_minutes=round(min_hours * 60), max_minutes=round(max_hours * 60),
            promised_at=now, due_at=now + timedelta(hours=max_hours), promised_by=membership.user,
        )
        audit_record(tenant=tenant, actor=membership.user, verb="sla.promise_made", obj=case,
                     data={"min_hours": min_hours, "max_hours": max_hours})
    return promise


def _promise_settle(case: Case, at: datetime) -> None:
    promise = CasePromise.objects.filter(tenant=case.tenant, case=case, is_active=True).first()
    if promise is not None:
        sla_event_record(case=case, target=Target.PROMISE, due_at=promise.due_at, at=at, met=at <= promise.due_at)
        CasePromise.objects.filter(tenant=case.tenant, pk=promise.pk).update(is_active=False)


# ---------------------------------------------------------------- the sweep

# (tenant id, case id, target, level, due)
Crossing = tuple[int, int, str, str, datetime]


def _candidates(now: datetime, limit: int) -> Iterable[Crossing]:
    """(tenant id, case id, target, level, due) of every crossing not alerted yet; each query reads a partial
    index. The sweep covers every tenant; the tenant id travels with each crossing so that every later fetch is
    scoped by it."""
    open_cases = Case.objects.filter(status__in=OPEN_STATUSES)
    fr = open_cases.filter(first_response_at__isnull=True)
    queries: list[tuple[QuerySet, str, str, str]] = [
        (fr.filter(first_response_due__lte=now), Target.FIRST_RESPONSE, SLAAlert.Level.BREACH, "first_response_due"),
        (fr.filter(first_response_due__gt=now, sla_clock__first_response_warn_at__lte=now),
         Target.FIRST_RESPONSE, SLAAlert.Level.WARNING, "first_response_due"),
        (open_cases.filter(resolution_due__lte=now), Target.RESOLUTION, SLAAlert.Level.BREACH, "resolution_due"),
        (open_cases.filter(resolution_due__gt=now, sla_clock__resolution_warn_at__lte=now),
         Target.RESOLUTION, SLAAlert.Level.WARNING, "resolution_due"),
        (open_cases.filter(sla_clock__next_response_due__lte=now), Target.NEXT_RESPONSE, SLAAlert.Level.BREACH,
         "sla_clock__next_response_due"),
        (open_cases.filter(sla_clock__next_response_due__gt=now, sla_clock__next_response_warn_at__lte=now),
         Target.NEXT_RESPONSE, SLAAlert.Level.WARNING, "sla_clock__next_response_due"),
    ]
    promised = open_cases.filter(sla_promises__is_active=True, sla_promises__due_at__lte=now)
    queries.append((promised, Target.PROMISE, SLAAlert.Level.BREACH, "sla_promises__due_at"))
    for qs, target, level, due_field in queries:
        alerted = SLAAlert.objects.filter(tenant=OuterRef("tenant"), case=OuterRef("pk"), target=target,
                                          level=level, due_at=OuterRef("due"))
        rows = (qs.annotate(due=F(due_field)).filter(~Exists(alerted)).order_by("due")
                .values_list("tenant_id", "pk", "due")[:limit])
        for tenant_id, pk, due in rows:
            yield tenant_id, pk, target, level, due


def _recipients(tenant_id: int, assignee_id: int | None) -> set[int]:
    ids = set(Membership.objects.filter(tenant_id=tenant_id, is_active=True, role__in=SUPERVISOR_ROLES)
              .values_list("user_id", flat=True))
    if assignee_id is not None:
        ids.add(assignee_id)
    return ids


def sla_alert_raise(*, tenant_id: int, case_id: int, target: str, level: str, due_at: datetime,
                    now: datetime) -> SLAAlert | None:
    """One crossing: the alert row, a missed event for a breach, and an in-product notification for the
    assignee and the supervisors. Idempotent: a second sweep finds the alert and does nothing. A case that is not
    (or no longer) the tenant's is skipped."""
    with transaction.atomic():
        case = (Case.objects.select_for_update(of=("self",)).select_related("tenant")
                .filter(tenant_id=tenant_id, pk=case_id).first())
        if case is None:
            return None
        alert, created = SLAAlert.objects.get_or_create(
            tenant_id=case.tenant_id, case=case, target=target, level=level, due_at=due_at,
            defaults={"created_at": now},
        )
        if not created:
            return None
        if level == SLAAlert.Level.BREACH:
            sla_event_record(case=case, target=target, due_at=due_at, at=due_at, met=False)
        SLANotification.objects.bulk_create([
            SLANotification(tenant_id=case.tenant_id, user_id=user_id, alert=alert, created_at=now)
            for user_id in _recipients(case.tenant_id, case.assignee_id)
        ], ignore_conflicts=True)
        audit_record(tenant=case.tenant, actor=None, verb=f"sla.{level}", obj=case,
                     data={"target": target, "due": due_at.isoformat()})
    return alert


SWEEP_CHUNK = 500


def _alerts_bulk(crossings: list[Crossing], now: datetime) -> dict[str, int]:
    """A chunk of crossings in one transaction and a handful of statements (a burst of breaches after an outage
    must not take minutes). Same outcome as sla_alert_raise for each crossing."""
    counts = {"warning": 0, "breach": 0}
    by_tenant: dict[int, set[int]] = defaultdict(set)
    for tenant_id, case_id, *_ in crossings:
        by_tenant[tenant_id].add(case_id)
    with transaction.atomic():
        cases: dict[int, Case] = {}
        for tenant_id, case_ids in by_tenant.items():
            cases.update((c.pk, c) for c in Case.objects.filter(tenant_id=tenant_id, pk__in=case_ids).only(
                "pk", "tenant_id", "channel_id", "team_id", "assignee_id", "category"))
        # A crossing whose case is not its tenant's (or is gone) is dropped, never written under another tenant.
        crossings = [c for c in crossings if c[1] in cases and cases[c[1]].tenant_id == c[0]]
        if not crossings:
            return counts
        with connection.cursor() as cursor:
            values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(crossings))
            params = [x for tenant_id, case_id, target, level, due in crossings
                      for x in (tenant_id, case_id, target, level, due, now)]
            cursor.execute(
                "INSERT INTO sla_slaalert (tenant_id, case_id, target, level, due_at, created_at) VALUES "
                f"{values} ON CONFLICT (tenant_id, case_id, target, level, due_at) DO NOTHING "
                "RETURNING id, case_id, target, level, due_at", params)
            created = cursor.fetchall()
        if not created:
            return counts
        breaches = [row for row in created if row[3] == SLAAlert.Level.BREACH]
        new_events = SLAEvent.objects.bulk_create([
            SLAEvent(tenant_id=cases[case_id].tenant_id, case_id=case_id, target=target, due_at=due, at=due,
                     met=False, channel_id_copy=cases[case_id].channel_id, team_id_copy=cases[case_id].team_id,
                     assignee_id_copy=cases[case_id].assignee_id, category=cases[case_id].category)
            for _, case_id, target, _, due in breaches
            if not SLAEvent.objects.filter(tenant_id=cases[case_id].tenant_id, case_id=case_id, target=target,
                                           due_at=due).exists()
        ])
        missed: dict[tuple[int, datetime, int], int] = defaultdict(int)
        for event in new_events:
            missed[(event.tenant_id, _hour(event.at), event.channel_id_copy)] += 1
        for (tenant_id, hour, channel_id), n in missed.items():
            rollup_add(tenant_id=tenant_id, at=hour, channel_id=channel_id, missed=n)
        supervisors: dict[int, set[int]] = {}
        notifications, audits = [], []
        for alert_id, case_id, target, level, due in created:
            case = cases[case_id]
            if case.tenant_id not in supervisors:
                supervisors[case.tenant_id] = _recipients(case.tenant_id, None)
            users = supervisors[case.tenant_id] | ({case.assignee_id} if case.assignee_id else set())
            notifications += [SLANotification(tenant_id=case.tenant_id, user_id=u, alert_id=alert_id, created_at=now)
                              for u in users]
            audits.append(AuditEvent(tenant_id=case.tenant_id, verb=f"sla.{level}", object_type="inbox.case",
                                     object_id=str(case_id), data={"target": target, "due": due.isoformat()}))
            counts[level] += 1
        SLANotification.objects.bulk_create(notifications, ignore_conflicts=True)
        AuditEvent.objects.bulk_create(audits)
    return counts


def sla_sweep(*, now: datetime | None = None, limit: int = 5000) -> dict[str, int]:
    """Mark breaches and near-breaches. Crossings go in chunks, each in one transaction; a chunk that fails is
    redone one crossing per transaction, and a crossing that still fails is logged and skipped, so one bad row
    never stops the sweep (the next run tries it again)."""
    now = now or timezone.now()
    counts = {"warning": 0, "breach": 0, "failed": 0}
    crossings = list(_candidates(now, limit))
    for start in range(0, len(crossings), SWEEP_CHUNK):
        chunk = crossings[start:start + SWEEP_CHUNK]
        try:
            for level, n in _alerts_bulk(chunk, now).items():
                counts[level] += n
            continue
        except Exception:
            log.warning("sla sweep: a chunk of %s failed; retrying one by one", len(chunk), exc_info=True)
        for tenant_id, case_id, target, level, due in chunk:
            try:
                if sla_alert_raise(tenant_id=tenant_id, case_id=case_id, target=target, level=level, due_at=due,
                                   now=now):
                    counts[level] += 1
            except Exception:
                counts["failed"] += 1
                log.exception("sla sweep: case %s %s %s failed; skipped until the next sweep", case_id, target,
                              level)
    return counts


# ---------------------------------------------------------------- notifications

def sla_notifications_mark_read(*, tenant: Tenant, user_id: int) -> int:
    return SLANotification.objects.filter(tenant=tenant, user_id=user_id, read_at__isnull=True).update(
        read_at=timezone.now())


def sla_digest_send(*, now: datetime | None = None) -> int:
    """One e-mail per person with every alert not yet e-mailed (never one e-mail per breach). Rows are marked in
    the transaction and the e-mail leaves on commit: a crash between the two loses an e-mail, never doubles it;
    the alerts stay in the product either way."""
    now = now or timezone.now()
    sla_crises_record(now=now)
    sent = 0
    user_ids = set(SLANotification.objects.filter(emailed_at__isnull=True).values_list("user_id", flat=True))
    for user in get_user_model().objects.filter(pk__in=user_ids):
        with transaction.atomic():
            rows = list(SLANotification.objects.select_for_update(skip_locked=True, of=("self",))
                        .filter(user=user, emailed_at__isnull=True)
                        .select_related("alert__case", "crisis", "tenant")
                        .order_by("tenant_id", "crisis_id", "alert__created_at"))
            if not rows:
                continue
            SLANotification.objects.filter(user=user, pk__in=[r.pk for r in rows]).update(emailed_at=now)
            if not user.email:
                continue
            with translation.override(_digest_language(rows)):
                body = _digest_body(rows)
                subject = _digest_subject(rows)
            transaction.on_commit(lambda s=subject, b=body, to=user.email: send_mail(
                s, b, settings.DEFAULT_FROM_EMAIL, [to], fail_silently=False))
            sent += 1
    return sent


def _digest_language(rows: list[SLANotification]) -> str:
    """The brand's locale (Tenant.locale), as on its pages. A user's own pick is a browser cookie (sac.i18n), not
    known here. Someone in several brands gets one e-mail: in the locale of the first brand it lists."""
    return tenant_language(rows[0].tenant)


def _digest_subject(rows: list[SLANotification]) -> str:
    crises = sum(1 for r in rows if r.crisis_id)
    others = len(rows) - crises
    parts = []
    if crises:
        parts.append(ngettext("%(count)s crisis alert", "%(count)s crisis alerts", crises) % {"count": crises})
    if others:
        parts.append(ngettext("%(count)s SLA alert", "%(count)s SLA alerts", others) % {"count": others})
    return "SAC: " + ", ".join(parts)


def _target_label(alert: SLAAlert) -> str:
    # "Promise" alone is translated as the verb (the case page's button); here it is the noun.
    if alert.target == Target.PROMISE:
        return pgettext("SLA target", "Promise")
    return gettext(alert.get_target_display())


def _digest_body(rows: list[SLANotification]) -> str:
    by_tenant: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        tz = ZoneInfo(row.tenant.time_zone)
        if row.crisis_id:
            crisis = row.crisis
            headline = gettext("CRISIS: %(count)s negative mentions in the hour to %(time)s (usually %(baseline)s at "
                               "that hour)") % {"count": crisis.count,
                                                "time": f"{crisis.detected_at.astimezone(tz):%Y-%m-%d %H:%M}",
                                                "baseline": f"{crisis.baseline:g}"}
            lines = [f"- {headline}"]
            # An e-mail leaves the product: personal data in it is masked as the dashboard masks it.
            lines += [f"    @{p['handle']}: {masked_text(p['text'])[:100]}" for p in crisis.posts[:5]]
            by_tenant[row.tenant.name].extend(lines)
            continue
        alert = row.alert
        by_tenant[row.tenant.name].append(
            f"- {alert.case.protocol} {_target_label(alert)}: {gettext(alert.get_level_display()).lower()} "
            + gettext("(due %(time)s)") % {"time": f"{alert.due_at.astimezone(tz):%Y-%m-%d %H:%M}"}
            + f" {masked_subject(alert.case)[:60]}"
        )
    parts = [f"{name}\n" + "\n".join(lines) for name, lines in by_tenant.items()]
    return gettext("SLA alerts since the last digest:") + "\n\n" + "\n\n".join(parts) + "\n"


def sla_crises_record(*, now: datetime | None = None) -> int:
    """Record each tenant's crisis (a spike of negative mentions, selectors.crisis) for its supervisors and admins:
    in the product now, in their next digest e-mail. At most one per tenant per hour, however long the spike lasts
    and however often this runs. Returns how many were recorded."""
    now = now or timezone.now()
    hour = timedelta(hours=1)
    recorded = 0
    for tenant in Tenant.objects.order_by("pk"):
        # Only a tenant with a negative mention in the last hour can be in a crisis. Asked per tenant, by its
        # (tenant, posted_at) index on mentions: asked once across tenants, it read every mention stored
        # (1.5 s, a sequential scan, at 10M mentions), against under a millisecond per tenant.
        if not MentionTriage.objects.filter(tenant=tenant, decision__sentiment="negative", mention__tenant=tenant,
                                            mention__posted_at__gte=now - hour, mention__posted_at__lt=now).exists():
            continue
        with transaction.atomic():
            # The tenant row lock makes two overlapping runs record the crisis once.
            Tenant.objects.select_for_update().filter(pk=tenant.pk).first()
            if SLACrisis.objects.filter(tenant=tenant, detected_at__gt=now - hour).exists():
                continue
            found = crisis(tenant, now=now)
            if found is None:
                continue
            record = SLACrisis.objects.create(
                tenant=tenant, detected_at=now, count=found.count, baseline=round(found.baseline, 2),
                posts=[{"handle": m.author.handle if m.author_id else "", "text": m.text[:280],
                        "posted_at": m.posted_at.isoformat()} for m in found.posts],
            )
            SLANotification.objects.bulk_create([
                SLANotification(tenant=tenant, user_id=user_id, crisis=record, created_at=now)
                for user_id in _recipients(tenant.pk, None)
            ], ignore_conflicts=True)
            audit_record(tenant=tenant, actor=None, verb="sla.crisis", obj=tenant,
                         data={"count": found.count, "baseline": found.baseline})
            recorded += 1
    return recorded


def sla_crisis_watch(*, now: datetime | None = None) -> int:
    """Every minute: each tenant's crisis check, kept (per tenant) for the dashboard, which shows when it was made
    and makes its own when this one is older than SAC_SLA_CRISIS_MAX_AGE. One tenant at a time, each query
    filtered by it (the tenant's (tenant, posted_at) index on mentions serves every window). Returns how many
    tenants were checked."""
    now = now or timezone.now()
    checked = 0
    for tenant in Tenant.objects.order_by("pk"):
        crisis_check_keep(tenant, crisis_check(tenant, now=now))
        checked += 1
    return checked


# ---------------------------------------------------------------- configuration

@transaction.atomic
def sla_policy_ensure_default(*, tenant: Tenant, first_response_minutes: int = 60,
                              resolution_minutes: int = 24 * 60) -> SLAPolicy:
    policy, _ = SLAPolicy.objects.get_or_create(
        tenant=tenant, is_default=True,
        defaults={"name": "Default", "first_response_minutes": first_response_minutes,
                  "resolution_minutes": resolution_minutes, "position": 1_000_000},
    )
    return policy


def business_calendar_save(*, tenant: Tenant, name: str, windows: dict, country: str = "", subdivision: str = "",
                           extra_holidays: list[str] | None = None) -> BusinessCalendar:
    """Validates the whole configuration (weekdays, times, country/state) before storing it."""
    Hours.from_config(tz=tenant.time_zone, windows=windows, country=country, subdivision=subdivision,
                      extra_holidays=extra_holidays or [])
    with transaction.atomic():
        calendar, _ = BusinessCalendar.objects.update_or_create(
            tenant=tenant, name=name,
            defaults={"windows": windows, "country": country, "subdivision": subdivision,
                      "extra_holidays": extra_holidays or []},
        )
        audit_record(tenant=tenant, actor=None, verb="sla.calendar_saved", obj=calendar, data={"name": name})
    return calendar


# ---------------------------------------------------------------- importing history

@dataclass
class ImportResult:
    imported: int = 0
    already: int = 0
    failed: list[str] = field(default_factory=list)


def import_tenant_ensure(*, slug: str) -> Tenant:
    """The tenant an import goes to; created with calendar hours and the default policy when missing."""
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        with transaction.atomic():
            tenant = tenant_create(slug=slug, name=slug.replace("-", " ").title())
            sla_policy_ensure_default(tenant=tenant)
    return tenant


def _import_channel(tenant: Tenant, brand: str) -> ChannelAccount:
    # Paused and without credentials: a channel of history is never polled and never sends.
    channel, _ = ChannelAccount.objects.get_or_create(
        tenant=tenant, platform=Platform.X, external_account_id=brand[:64],
        defaults={"name": f"@{brand}", "handle": brand[:120], "status": ChannelAccount.Status.PAUSED,
                  "status_detail": "Imported history (import_threads)"},
    )
    return channel


def _import_profile(tenant: Tenant, handle: str) -> SocialProfile:
    profile, _ = SocialProfile.objects.get_or_create(tenant=tenant, platform=Platform.X, external_id=handle[:64],
                                                     defaults={"handle": handle[:120]})
    return profile


def thread_import(*, tenant: Tenant, thread: Thread) -> Case | None:
    """One thread of history, in one transaction: mentions (already triaged, so the triage sweep leaves them
    alone), a closed case, its replies as sent, and its SLA record. No case event is sent, so nothing reacts:
    no survey, notification, CRM push or outbound reply. A thread already imported is left as it is."""
    with transaction.atomic():
        channel = _import_channel(tenant, thread.brand)
        if Mention.objects.filter(tenant=tenant, channel=channel, external_id=thread.root_id).exists():
            return None
        now = timezone.now()
        mentions: dict[str, Mention] = {}
        for post in thread.customer_posts:
            mention, created = Mention.objects.get_or_create(
                tenant=tenant, channel=channel, external_id=post.external_id,
                defaults={"author": _import_profile(tenant, post.author), "text": post.text, "posted_at": post.at,
                          "conversation_id": thread.root_id, "in_reply_to_external_id": post.in_reply_to,
                          "raw": {"imported": True}, "triaged_at": now},
            )
            if created:
                mentions[post.external_id] = mention
        if thread.root_id not in mentions:
            return None  # the root was already imported as part of another thread
        root = mentions[thread.root_id]
        first_response_at = thread.first_response_at
        case = Case.objects.create(
            tenant=tenant, protocol=protocol_next(tenant=tenant, at=thread.first_message_at),
            status=Case.Status.CLOSED, channel=channel, customer=root.author, subject=root.text[:140],
            first_message_at=thread.first_message_at,
            last_customer_message_at=max(p.at for p in thread.customer_posts),
            first_response_at=first_response_at,
            triage={"imported": True},
        )
        CaseMention.objects.bulk_create([CaseMention(tenant=tenant, case=case, mention=m) for m in mentions.values()])
        Reply.objects.bulk_create([
            Reply(tenant=tenant, case=case, visibility=Reply.Visibility.PUBLIC, text=post.text,
                  in_reply_to=mentions.get(post.in_reply_to), state=Reply.State.SENT, external_id=post.external_id,
                  idempotency_key=f"import:{channel.pk}:{post.external_id}"[:64], sent_at=post.at)
            for post in thread.brand_posts
        ], ignore_conflicts=True)
        case = case_opened(case=case)
        durations_sync(tenant_id=tenant.pk, case_id=case.pk)
        # History: no clock of it is running, so none may show up as about to breach.
        CaseClock.objects.filter(tenant=tenant, case=case).update(first_response_warn_at=None, resolution_warn_at=None)
        if first_response_at is not None:
            sla_event_record(case=case, target=Target.FIRST_RESPONSE, due_at=case.first_response_due,
                             at=first_response_at, met=first_response_at <= case.first_response_due)
        audit_record(tenant=tenant, actor=None, verb="case.imported", obj=case, data={"root": thread.root_id})
    return case


def threads_import(*, tenant: Tenant, threads: Iterable[Thread]) -> ImportResult:
    result = ImportResult()
    for thread in threads:
        try:
            case = thread_import(tenant=tenant, thread=thread)
        except Exception as exc:  # one bad thread is reported and skipped; the others go in
            log.exception("import: thread %s failed", thread.root_id)
            result.failed.append(f"thread {thread.root_id}: {exc.__class__.__name__}: {exc}")
            continue
        if case is None:
            result.already += 1
        else:
            result.imported += 1
    return result
