"""Cases: protocol numbers, triage outcomes, claiming, status, transfers, notes, auto-close."""


import functools
import logging
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Case as SqlCase
from django.db.models import Count, F, Max, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from channels_ingest.models import ChannelAccount, Mention, SentMessage
from channels_ingest.selectors import mentions_untriaged
from channels_ingest.services import mentions_mark_triaged
from sac.bulk import commit_without_waiting_for_disk, of_tenant_by_ids, rows_insert, rows_update
from sac.models import AuditEvent, Membership, Role, Team, Tenant
from sac.prepared import model_from_row, prepared
from sac.queueing import failed_held, failed_mark
from sac.services import audit_record, audit_record_many
from sac.tenancy import online_user_ids

from .. import events
from ..models import (
    OPEN_STATUSES,
    Case,
    CaseMention,
    MentionTriage,
    Note,
    Reply,
    Tag,
    TriageCorrection,
)
from ..selectors import author_complaints_by_author, triage_categories, triage_config_for
from ..triage import TriageConfig, TriageDecision, TriageInput, triage
from .common import CaseActionError, _may_work_on, case_answered
from .notifications import notes_notify_mentions
from .tags import case_require_mandatory_tags

log = logging.getLogger(__name__)

# ---------------------------------------------------------------- protocol numbers

def protocols_next(*, tenant: Tenant, count: int = 1, at: datetime | None = None) -> list[str]:
    """`count` protocol numbers `YYYYMMDD-NNNNNN` in the tenant's time zone, unique per tenant (DESIGN.md).

    One atomic upsert reserves the whole range, so concurrent case openings never share a number,
    on PostgreSQL and SQLite alike (both speak ON CONFLICT … RETURNING).
    """
    day = (at or timezone.now()).astimezone(zoneinfo.ZoneInfo(tenant.time_zone)).date()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO inbox_protocolsequence (tenant_id, day, last_value) VALUES (%s, %s, %s) "
            "ON CONFLICT (tenant_id, day) DO UPDATE SET last_value = inbox_protocolsequence.last_value + %s "
            "RETURNING last_value",
            [tenant.pk, day, count, count],
        )
        (last,) = cursor.fetchone()
    return [f"{day:%Y%m%d}-{value:06d}" for value in range(last - count + 1, last + 1)]


def protocol_next(*, tenant: Tenant, at: datetime | None = None) -> str:
    return protocols_next(tenant=tenant, at=at)[0]


# ---------------------------------------------------------------- triage → cases

@dataclass
class _Outcome:
    """What batch triage does with one mention."""

    mention: Mention
    decision: TriageDecision
    case: Case | None = None
    verb: str = ""  # case.opened | case.mention_attached | case.reopened | case.mention_filed
    stored: dict | None = None  # decision.as_dict(), computed once for the case and the MentionTriage row

    def decision_dict(self) -> dict:
        if self.stored is None:
            self.stored = self.decision.as_dict()
        return self.stored


def _latest_by_pair(cases: list[Case]) -> dict[tuple[int, int], Case]:
    """(channel, customer) → their most recent case among `cases` (ordered newest first)."""
    latest: dict[tuple[int, int], Case] = {}
    for case in cases:
        latest.setdefault((case.channel_id, case.customer_id), case)
    return latest


def _triage_batch(tenant: Tenant, config: TriageConfig, mention_ids: list[int]) -> list[Case]:
    """Triage up to a page of mentions in the caller's transaction, with a fixed number of statements.

    In the customer's order (posted_at): a mention joins the customer's open case on that channel (opened
    earlier or in this very batch); on a resolved case it reopens it within the tenant's reopen window when it
    needs an answer, is filed in its thread when it does not ("obrigado!"), or opens a new case that follows
    it once the window has passed or the case was closed; otherwise it opens a case unless triage ignores it.
    """
    commit_without_waiting_for_disk()  # triaged_at commits with the cases: a lost commit is triaged again
    mentions = list(
        of_tenant_by_ids(Mention.objects.select_for_update(skip_locked=True, of=("self",)), tenant.pk)
        .select_related("author")
        .defer("raw")  # the network's whole payload, kilobytes a mention: triage reads none of it
        .filter(pk__in=mention_ids)  # untriaged is checked below, on the locked rows (see mentions_mark_triaged)
        .order_by("posted_at", "pk")
    )
    mentions = [m for m in mentions if m.triaged_at is None]
    outside = [m for m in mentions if m.direction == Mention.Direction.OUTBOUND]
    if outside:  # the brand's replies written outside SAC: into their cases as ours, never classified
        _outside_replies_file(tenant, outside)
        mentions = [m for m in mentions if m.direction != Mention.Direction.OUTBOUND]
    if not mentions:
        return []
    # Not select_related: each joined channel row would decrypt its credentials again, a hundred times a page.
    platforms = dict(ChannelAccount.objects.filter(tenant=tenant, pk__in={m.channel_id for m in mentions})
                     .values_list("pk", "platform"))
    now = timezone.now()
    author_ids = {m.author_id for m in mentions if m.author_id is not None}
    complaints = author_complaints_by_author(tenant, author_ids, now=now)
    outcomes: list[_Outcome] = []
    for mention in mentions:
        author = mention.author
        decision = triage(TriageInput(
            text=mention.text,
            followers_count=author.followers_count if author else 0,
            verified=author.verified if author else False,
            language_hint=mention.language,
            platform=platforms[mention.channel_id],
            channel_id=mention.channel_id,
            author_complaints_week=complaints.get(mention.author_id, 0),
        ), config)
        if decision.category == "complaint" and mention.author_id is not None:
            complaints[mention.author_id] = complaints.get(mention.author_id, 0) + 1  # counts for the next one
        outcomes.append(_Outcome(mention=mention, decision=decision))

    done = (Case.Status.RESOLVED, Case.Status.CLOSED)
    known = list(
        # By the customer index alone (the pair is matched in Python): see of_tenant_by_ids for why. Open and
        # earlier cases in one statement: the authors' index entries are read once, not once per status group.
        of_tenant_by_ids(Case.objects.select_for_update(), tenant.pk)
        .filter(customer_id__in=author_ids, status__in=(*OPEN_STATUSES, *done))
        .defer("triage")  # the earlier decision, a kilobyte of JSON a case: nothing below reads it
        .order_by("-created_at", "-pk")
    ) if author_ids else []
    for case in known:
        case.tenant = tenant  # the SLA receivers read case.tenant: no query per case for it
    open_cases = _latest_by_pair([case for case in known if case.status in OPEN_STATUSES])
    earlier = _latest_by_pair([case for case in known if case.status in done])
    # A customer answering the private reply to their comment writes from another id than the commenter's
    # (Messenger's page-scoped id): their answer continues the case the handoff came from, when that is newer
    # than any case of their own; a resolved one is reopened or followed by the usual rules below.
    for pair, (case, sent_at) in _handoff_cases(tenant, mentions, known).items():
        if case.status in OPEN_STATUSES:
            own = open_cases.get(pair)
            if own is None or own.created_at < sent_at:
                open_cases[pair] = case
        elif case.status in done and pair not in open_cases \
                and (pair not in earlier or earlier[pair].created_at < sent_at):
            earlier[pair] = case
    window = timedelta(days=tenant.reopen_window_days)

    new_cases: list[Case] = []
    attached: dict[int, Case] = {}  # existing cases that got a mention, by pk
    status_moves: dict[int, str] = {}  # case pk → status before this batch moved it
    for outcome in outcomes:
        mention, decision = outcome.mention, outcome.decision
        pair = (mention.channel_id, mention.author_id)
        case = open_cases.get(pair) if mention.author_id is not None else None
        if case is None and mention.author_id is not None and pair in earlier:
            before = earlier[pair]
            reopenable = (before.status == Case.Status.RESOLVED and before.resolved_at is not None
                          and mention.posted_at - before.resolved_at <= window)
            if decision.ignore and before.status == Case.Status.RESOLVED:
                outcome.case, outcome.verb = before, "case.mention_filed"  # a thank-you in the thread, no reopen
                attached.setdefault(before.pk, before)
                continue
            if reopenable:
                status_moves.setdefault(before.pk, before.status)
                before.status, before.resolved_at = Case.Status.OPEN, None
                open_cases[pair] = case = before
                outcome.verb = "case.reopened"
        if case is None:
            if decision.ignore:
                continue
            case = Case(
                tenant=tenant, status=Case.Status.NEW, priority=decision.priority, channel_id=mention.channel_id,
                customer=mention.author, subject=mention.text[:140], language=decision.language[:8],
                category=decision.category[:30], personal_data=decision.personal_data,
                triage=outcome.decision_dict(), first_message_at=mention.posted_at,
                last_customer_message_at=mention.posted_at,
                team_id=decision.team_id,  # from the tenant's own routing rule (its team choices are the tenant's)
                follows=earlier.get(pair) if mention.author_id is not None else None,
            )
            case._tags = list(decision.tags)  # type: ignore[attr-defined]
            new_cases.append(case)
            if mention.author_id is not None:
                open_cases[pair] = case
            outcome.case, outcome.verb = case, "case.opened"
            continue
        # Whatever the customer says next belongs to the conversation already under way.
        case.last_customer_message_at = max(case.last_customer_message_at, mention.posted_at)
        case.priority = max(case.priority, decision.priority)
        case.personal_data = sorted(set(case.personal_data) | set(decision.personal_data))
        if case.pk is None:
            case._tags = list(dict.fromkeys([*case._tags, *decision.tags]))  # type: ignore[attr-defined]
        else:
            if case.status == Case.Status.PENDING_CUSTOMER:
                status_moves.setdefault(case.pk, case.status)
                case.status = Case.Status.OPEN  # the customer answered: the ball is back in our court
            attached.setdefault(case.pk, case)
        outcome.case, outcome.verb = case, outcome.verb or "case.mention_attached"

    if new_cases:
        for case, protocol in zip(new_cases, protocols_next(tenant=tenant, count=len(new_cases), at=now),
                                  strict=True):
            case.protocol = protocol
            case.created_at = case.updated_at = now
        events.cases_opening.send(sender=Case, cases=new_cases, actor=None)
        Case.objects.bulk_create(new_cases)
        _tags_apply(tenant, new_cases)
    if attached:
        for case in attached.values():
            case.updated_at = now
        rows_update(Case, list(attached.values()), ["last_customer_message_at", "priority", "personal_data",
                                                    "status", "resolved_at", "updated_at"], tenant_id=tenant.pk)
    linked = [o for o in outcomes if o.case is not None]
    rows_insert(CaseMention, [{"tenant_id": tenant.pk, "case_id": o.case.pk, "mention_id": o.mention.pk}
                              for o in linked], returning=[])
    rows_insert(MentionTriage, [
        {"tenant_id": tenant.pk, "mention_id": o.mention.pk,
         "ignored": o.case is None or o.verb == "case.mention_filed", "decision": o.decision_dict(),
         "case_id": o.case.pk if o.case else None}
        for o in outcomes
    ], returning=[])
    audit_record_many(tenant=tenant, entries=[
        (o.verb, o.case, {"mention": o.mention.pk} if o.verb != "case.opened" else
         {"priority": o.case.priority, "category": o.case.category, "mention": o.mention.pk})
        for o in linked
    ])
    mentions_mark_triaged(tenant=tenant, mention_ids=[m.pk for m in mentions])

    # Synchronous subscribers (SLA due times and clocks, rollups) write inside this transaction.
    if new_cases:
        events.cases_opened.send(sender=Case, cases=new_cases, actor=None)
    for o in linked:
        if o.case.pk in attached and o.verb != "case.mention_filed":
            events.case_mention_attached.send(sender=Case, case=o.case, actor=None, mention=o.mention)
    for pk, old_status in status_moves.items():
        case = attached[pk]
        events.case_status_changed.send(sender=Case, case=case, actor=None, old_status=old_status,
                                        new_status=case.status)
    team_ids = {c.team_id for c in new_cases if c.team_id}
    auto_teams = set(Team.objects.filter(tenant=tenant, auto_assign=True, pk__in=team_ids)
                     .values_list("pk", flat=True)) if team_ids else set()
    touched = [case_auto_assign(tenant=tenant, case=c) if c.team_id in auto_teams else c for c in new_cases]
    return touched + [c for c in attached.values() if c.status in OPEN_STATUSES]


def _handoff_cases(tenant: Tenant, mentions: list[Mention],
                   known: list[Case]) -> dict[tuple[int, int], tuple[Case, datetime]]:
    """(channel, author) → the case whose private reply reached this author of a private message, and when it
    was sent (the latest one). The send recorded the id the network delivered it to (Reply.recipient_external_id);
    the cases are locked like `known`, and one already in `known` is that same object."""
    direct = {(m.channel_id, m.author.external_id): m.author_id for m in mentions
              if m.kind == Mention.Kind.DIRECT and m.author_id is not None}
    if not direct:
        return {}
    latest: dict[tuple[int, int], tuple[int, datetime]] = {}
    for case_id, channel_id, recipient, sent_at in (
        Reply.objects.filter(tenant=tenant, visibility=Reply.Visibility.PRIVATE, state=Reply.State.SENT,
                             recipient_external_id__in={external_id for _channel, external_id in direct})
        .exclude(recipient_external_id="")  # the partial index's own condition, so the planner takes it
        .values_list("case_id", "case__channel_id", "recipient_external_id", "sent_at").order_by("sent_at", "pk")
    ):
        if (channel_id, recipient) in direct:
            latest[(channel_id, direct[(channel_id, recipient)])] = (case_id, sent_at)
    if not latest:
        return {}
    by_pk = {case.pk: case for case in known}
    missing = {case_id for case_id, _sent in latest.values()} - by_pk.keys()
    if missing:
        for case in of_tenant_by_ids(Case.objects.select_for_update(), tenant.pk).filter(pk__in=missing) \
                .defer("triage"):
            case.tenant = tenant
            by_pk[case.pk] = case
    return {pair: (by_pk[case_id], sent_at) for pair, (case_id, sent_at) in latest.items() if case_id in by_pk}


@dataclass(frozen=True)
class OutsideReply:
    """A reply the brand wrote outside SAC, as the case_replied subscribers read a Reply (its sent_at)."""

    mention: Mention

    @property
    def sent_at(self) -> datetime:
        return self.mention.posted_at


def _outside_replies_file(tenant: Tenant, outside: list[Mention]) -> None:
    """File the brand's replies written outside SAC (on X or Facebook themselves, or in another tool) in the case of
    the post they answer (or of their conversation, for private messages), shown in its thread as ours: an agent
    must not answer a second time what a colleague already answered there. One that answers a case still open
    meets its SLA first response like a reply sent from SAC. One whose id SAC itself sent (the send was recorded
    after the post came back) is already in the thread as its Reply; one that answers nothing we hold is kept
    and marked triaged, nothing more. Four statements for the batch, and a few for each reply filed."""
    mentions_mark_triaged(tenant=tenant, mention_ids=[m.pk for m in outside])
    sent = set(SentMessage.objects.filter(tenant=tenant, external_id__in=[m.external_id for m in outside])
               .exclude(external_id="").values_list("channel_id", "external_id"))
    outside = [m for m in outside if (m.channel_id, m.external_id) not in sent]
    replied = {m.in_reply_to_external_id for m in outside if m.in_reply_to_external_id}
    conversations = {m.conversation_id for m in outside if m.conversation_id}
    by_post: dict[tuple[int, str], int] = {}
    by_conversation: dict[tuple[int, str], int] = {}
    if replied or conversations:
        # The newest case first, so a conversation that ran over several cases files into the latest.
        for channel_id, external_id, conversation_id, case_id in (
                CaseMention.objects.filter(tenant=tenant, mention__tenant=tenant)
                .filter(Q(mention__external_id__in=replied) | Q(mention__conversation_id__in=conversations))
                .order_by("-case__created_at", "-case_id")
                .values_list("mention__channel_id", "mention__external_id", "mention__conversation_id", "case_id")):
            by_post.setdefault((channel_id, external_id), case_id)
            if conversation_id:
                by_conversation.setdefault((channel_id, conversation_id), case_id)
    filed = []
    for mention in outside:
        case_id = (by_post.get((mention.channel_id, mention.in_reply_to_external_id))
                   or by_conversation.get((mention.channel_id, mention.conversation_id)))
        if case_id is not None:
            filed.append((mention, case_id))
    if not filed:
        return
    cases = {c.pk: c for c in Case.objects.filter(tenant=tenant, pk__in={case_id for _, case_id in filed})}
    rows_insert(CaseMention, [{"tenant_id": tenant.pk, "case_id": case_id, "mention_id": mention.pk}
                              for mention, case_id in filed], conflict=["tenant_id", "mention_id"], returning=[])
    for mention, case_id in filed:
        case = cases[case_id]
        case.tenant = tenant  # the SLA receivers read case.tenant: no query for it
        audit_record(tenant=tenant, actor=None, verb="case.replied_outside", obj=case, data={"mention": mention.pk})
        if case.status in OPEN_STATUSES:
            case_answered(case=case, at=mention.posted_at, actor=None, reply=OutsideReply(mention))


def _tags_apply(tenant: Tenant, cases: list[Case]) -> None:
    names = {name[:50] for case in cases for name in case._tags}  # type: ignore[attr-defined]
    if not names:
        return
    tags = {name: Tag.objects.get_or_create(tenant=tenant, name=name)[0] for name in sorted(names)}
    Case.tags.through.objects.bulk_create([
        Case.tags.through(case_id=case.pk, tag_id=tags[name[:50]].pk)
        for case in cases for name in dict.fromkeys(case._tags)  # type: ignore[attr-defined]
    ], ignore_conflicts=True)


def mentions_triage(*, tenant_id: int, mention_ids: list[int]) -> list[Case]:
    """Triage stored mentions: ignore, attach to the customer's case, reopen it, or open a new one.

    The batch goes in one transaction with a fixed number of statements (ingest's page of 100 at a time).
    Mentions are locked with SKIP LOCKED and re-checked as untriaged, so the task and the sweep can race
    without doing anything twice. If the batch fails, each mention is retried in its own transaction, so one
    mention that breaks triage holds back nobody else; it stays untriaged, logged, and the sweep tries again.
    """
    tenant = Tenant.objects.get(pk=tenant_id)
    config = triage_config_for(tenant)  # rules, patterns and model: loaded once per batch
    try:
        with transaction.atomic():
            return _triage_batch(tenant, config, mention_ids)
    except SoftTimeLimitExceeded:
        raise  # the task's time is up: what is untriaged stays for the next drain, nothing is held out
    except Exception:
        if len(mention_ids) == 1:
            log.exception("triage failed for mention %s of tenant %s", mention_ids[0], tenant_id)
            failed_mark("triage", tenant_id, mention_ids)
            return []
        log.exception("batch triage failed for tenant %s; trying its %d mentions one by one", tenant_id,
                      len(mention_ids))
    touched: list[Case] = []
    failed: list[int] = []
    for mention_id in mention_ids:
        try:
            with transaction.atomic():
                touched.extend(_triage_batch(tenant, config, [mention_id]))
        except SoftTimeLimitExceeded:
            failed_mark("triage", tenant_id, failed)
            raise
        except Exception:
            log.exception("triage failed for mention %s of tenant %s", mention_id, tenant_id)
            failed.append(mention_id)
    # Held out of the tenant's next triage slices for a while, so they do not fail every batch they are in (and
    # send it one by one) nor hold back the mentions behind them; the sweep tries them again later.
    failed_mark("triage", tenant_id, failed)
    return touched


# What one triage drain takes before other tenants' work goes first (sac/queueing.py): ingest's pages of 100.
TRIAGE_DRAIN_BATCH = 100
TRIAGE_DRAIN_BATCHES = 5


def mentions_triage_drain(*, tenant_id: int, batch: int = TRIAGE_DRAIN_BATCH,
                          batches: int = TRIAGE_DRAIN_BATCHES) -> bool:
    """Triage the tenant's oldest untriaged mentions, a few batches; whether its drain should run again.

    Mentions triage could not handle (it logs them, leaves them untriaged and holds them out of the next slices
    for a while: sac.queueing.failed_mark) are not taken again meanwhile, and the drain asks for another run only
    after full batches that triaged something, so mentions that keep failing wait for the sweep instead of
    spinning the queue or holding back the newer ones.
    """
    tried: list[int] = failed_held("triage", tenant_id)
    for _batch in range(batches):
        ids = list(mentions_untriaged(tenant_id).exclude(pk__in=tried).order_by("received_at", "pk")
                   .values_list("pk", flat=True)[:batch])
        if ids:
            mentions_triage(tenant_id=tenant_id, mention_ids=ids)
            tried += ids
        if len(ids) < batch:
            return False
    return Mention.objects.filter(tenant_id=tenant_id, pk__in=tried, triaged_at__isnull=False).exists()


# ---------------------------------------------------------------- claiming and status

def _open_load(tenant: Tenant, user: AbstractBaseUser, cap: int) -> int:
    """The agent's open cases, counted up to `cap` (their limit): whether they reached it is all the
    callers ask, so an agent with thousands of cases does not make every claim count them all."""
    return Case.objects.filter(tenant=tenant, assignee=user, status__in=OPEN_STATUSES).values("pk")[:cap].count()


@functools.cache
def _claim_next_sql(*, languages: bool, platforms: bool, cap: int) -> str:
    """claim-next as one statement: the agent's open cases counted up to their cap, the most urgent case they
    may take locked with SKIP LOCKED (read from the case_claim_order index), assigned, and its audit row
    written. Always one row: the agent's load, and the claimed case's columns (NULL when none was taken)."""
    case, teams = Case._meta.db_table, Membership.teams.through._meta.db_table
    user_model = get_user_model()
    users, username = user_model._meta.db_table, user_model._meta.get_field(user_model.USERNAME_FIELD).column
    skills = ""
    if languages:  # a case of unknown language goes to anyone
        skills += " AND (c.language = ANY(%(languages)s) OR c.language = '')"
    if platforms:
        skills += (f" AND c.channel_id IN (SELECT id FROM {ChannelAccount._meta.db_table} "
                   "WHERE tenant_id = %(tenant)s AND platform = ANY(%(platforms)s))")
    open_statuses = ", ".join(f"'{status}'" for status in OPEN_STATUSES)  # constants of the code, not input
    return f"""
WITH load AS (
    SELECT count(*) AS n FROM (
        SELECT 1 FROM {case} WHERE tenant_id = %(tenant)s AND assignee_id = %(user)s
        AND status IN ({open_statuses}) LIMIT {int(cap)}) mine
), picked AS (
    SELECT c.id, c.status FROM {case} c
    WHERE c.tenant_id = %(tenant)s AND c.assignee_id IS NULL AND c.status IN ('new', 'open')
      AND (SELECT n FROM load) < {int(cap)}
      -- An agent in teams takes their teams' cases and those of no team; an agent in none takes any.
      -- (The membership's teams are this tenant's; the link table has no tenant column of its own.)
      AND (c.team_id IS NULL
           OR c.team_id IN (SELECT team_id FROM {teams} WHERE membership_id = %(membership)s)
           OR NOT EXISTS (SELECT 1 FROM {teams} WHERE membership_id = %(membership)s)){skills}
    ORDER BY c.priority DESC, c.first_message_at, c.id
    LIMIT 1
    FOR UPDATE OF c SKIP LOCKED
), claimed AS (
    UPDATE {case} c SET assignee_id = %(user)s, status = 'open'
    FROM picked WHERE c.tenant_id = %(tenant)s AND c.id = picked.id AND c.assignee_id IS NULL
    RETURNING {", ".join(f"c.{field.column}" for field in Case._meta.concrete_fields)},
              picked.status AS claim_old_status
), audit AS (
    INSERT INTO {AuditEvent._meta.db_table} (tenant_id, actor_id, verb, object_type, object_id, data, created_at)
    SELECT %(tenant)s, %(user)s, 'case.assigned', %(object_type)s, claimed.id::text,
           jsonb_build_object('assignee', (SELECT {username} FROM {users} WHERE id = %(user)s), 'how', 'claim_next'),
           %(now)s
    FROM claimed
)
SELECT load.n AS claim_load, claimed.* FROM load LEFT JOIN claimed ON TRUE"""


def _claim_next_postgres(tenant: Tenant, membership: Membership) -> Case | None:
    """case_claim_next in one statement and one round trip (it was 11 to 22 statements): what the
    ORM path below does, with the same guarantees (SKIP LOCKED, then the conditional update), and the same
    audit row and event."""
    cap = membership.max_open_cases
    # The cap in the text (not a parameter) lets PostgreSQL keep one plan for the prepared statement.
    sql = _claim_next_sql(languages=bool(membership.languages), platforms=bool(membership.platforms), cap=cap)
    params = {"tenant": tenant.pk, "user": membership.user_id, "membership": membership.pk,
              "languages": [str(code) for code in membership.languages or []],
              "platforms": [str(code) for code in membership.platforms or []],
              "object_type": Case._meta.label_lower, "now": timezone.now()}
    name = f"inbox_claim_next_{int(bool(membership.languages))}{int(bool(membership.platforms))}_{int(cap)}"
    # The statement is the whole claim (lock, assignment, audit row), so outside a caller's transaction it runs
    # as its own: one round trip instead of BEGIN, EXECUTE and COMMIT. Under contention each round trip is one
    # more wait for the CPU (and, in a threaded worker, for the GIL).
    with connection.cursor() as cursor:
        cursor.execute(*prepared(name, sql, params))
        load, *columns, old_status = cursor.fetchone()
    if columns[0] is None:  # the id: no case taken
        if load >= cap:
            raise CaseActionError(
                _("You already have %(count)s open cases: resolve one before taking another.") % {"count": cap}
            )
        return None
    # Built from the row as the ORM would (sac.prepared.model_from_row): through Case.objects.raw, describing the
    # columns and looking up their converters cost more Python than the rest of the claim (1.5 ms of CPU a claim
    # on the 2-core bench machine), and with 50 agents in one threaded worker that Python is what they queue for.
    case = model_from_row(Case, columns)
    case.tenant = tenant  # the sla receivers read case.tenant: no query for it
    if Membership.user.is_cached(membership):
        case.assignee = membership.user
    if old_status != case.status:
        # Always new → open here (only new and open cases are picked). It moves no SLA clock (sla.receivers), so
        # its subscribers write nothing today; one that did would commit right after the claim, in its own
        # transaction (or in the caller's, when claim-next runs inside one).
        with transaction.atomic():
            events.case_status_changed.send(sender=Case, case=case, actor=membership.user, old_status=old_status,
                                            new_status=case.status)
    return case


def case_claim_next(*, tenant: Tenant, membership: Membership) -> Case | None:
    """Give the agent the most urgent unassigned case they may take. Two agents never get the same one."""
    if connection.vendor == "postgresql":
        return _claim_next_postgres(tenant, membership)
    # Elsewhere (the SQLite demo) the same steps one statement at a time.
    user = membership.user
    with transaction.atomic():
        if _open_load(tenant, user, membership.max_open_cases) >= membership.max_open_cases:
            raise CaseActionError(
                _("You already have %(count)s open cases: resolve one before taking another.")
                % {"count": membership.max_open_cases}
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
        # The row is ours (locked above; on SQLite writers are serialised), so the update's effect is
        # known: set it on the object instead of reading the row back.
        old_status = case.status
        case.assignee, case.status = user, Case.Status.OPEN
        case.tenant = tenant  # the audit and the sla receivers read case.tenant: no query for it
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
        if _open_load(tenant, user, membership.max_open_cases) >= membership.max_open_cases:
            raise CaseActionError(
                _("You already have %(count)s open cases: resolve one before taking another.")
                % {"count": membership.max_open_cases}
            )
        # A new case becomes open when someone takes it; a case waiting on the customer keeps waiting.
        opened = SqlCase(When(status=Case.Status.NEW, then=Value(Case.Status.OPEN)), default=F("status"))
        if not Case.objects.filter(tenant=tenant, pk=case.pk, assignee__isnull=True,
                                   status__in=OPEN_STATUSES).update(assignee=user, status=opened):
            raise CaseActionError(_("Someone else took this case a moment ago."))
        case.refresh_from_db()
        audit_record(tenant=tenant, actor=user, verb="case.assigned", obj=case,
                     data={"assignee": user.get_username(), "how": "claim"})
    return case


# Which status may follow which; resolved cases can be reopened, closed ones cannot. An ignored case is
# recoverable to open. pending_customer → open also happens by itself when the customer writes (triage), and
# resolved → closed after the tenant's window (cases_auto_close); tests/inbox/test_status_transitions.py walks it.
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
        raise CaseActionError(_("Only the assignee or a supervisor can change this case."))
    old_status = case.status
    if new_status not in Case.Status.values:  # a form or an API client sent something that is no status at all
        raise CaseActionError(_("Unknown status %(status)s.") % {"status": new_status})
    if new_status not in TRANSITIONS[Case.Status(old_status)]:
        raise CaseActionError(
            _("A case that is %(old)s cannot become %(new)s.")
            % {"old": Case.Status(old_status).label.lower(), "new": Case.Status(new_status).label.lower()}
        )
    if new_status == Case.Status.RESOLVED:
        case_require_mandatory_tags(tenant, case)
    now = timezone.now()
    changes: dict[str, object] = {"status": new_status}
    if new_status == Case.Status.RESOLVED:
        changes["resolved_at"] = now
    elif new_status == Case.Status.OPEN:
        changes["resolved_at"] = None
    with transaction.atomic():
        if not Case.objects.filter(tenant=tenant, pk=case.pk, status=old_status).update(**changes):
            raise CaseActionError(_("The case changed meanwhile; reload and try again."))
        case.refresh_from_db()
        audit_record(tenant=tenant, actor=membership.user, verb="case.status_changed", obj=case,
                     data={"from": old_status, "to": new_status})
        events.case_status_changed.send(sender=Case, case=case, actor=membership.user, old_status=old_status,
                                        new_status=new_status)
        if new_status == Case.Status.RESOLVED:
            events.case_resolved.send(sender=Case, case=case, actor=membership.user)
    return case


def case_mark_seen(*, tenant: Tenant, user: AbstractBaseUser, case: Case) -> None:
    """The assignee has the thread in front of them: the customer's messages so far are seen (the tab title's
    unread count, selectors.tab_count). Called on every case page and thread poll, so it writes only when the
    case loaded by the caller shows something new for this user: usually no statement at all."""
    if case.assignee_id != user.pk:
        return  # a colleague or a supervisor looking does not make it read for the assignee
    if case.seen_by_id == user.pk and case.seen_upto is not None and case.seen_upto >= case.last_customer_message_at:
        return
    # Conditional on the assignee: a transfer a moment ago means it is no longer theirs to mark. A read mark,
    # not a state change: no audit row, and updated_at stays (update() leaves auto_now alone).
    Case.objects.filter(tenant=tenant, pk=case.pk, assignee_id=user.pk).update(
        seen_by_id=user.pk, seen_upto=case.last_customer_message_at)
    case.seen_by_id, case.seen_upto = user.pk, case.last_customer_message_at


def ignored_mention_open_case(*, tenant: Tenant, membership: Membership, mention_id: int,
                              category: str = "") -> Case:
    """A supervisor decides that a mention triage ignored as noise needs an answer after all.

    It joins the customer's open case on that channel when there is one (never a second case for the same
    conversation), or opens a new case, as triage would have. The ignored decision becomes a triage correction
    (requires_response, and the category the supervisor chose), so the tenant's model learns from it like from an
    agent's re-labelling (triage_correct)."""
    from .triage_learning import triage_retrain_when_due

    if not membership.has_role(Role.SUPERVISOR):
        raise CaseActionError(_("Only supervisors recover ignored mentions."))
    categories = triage_categories(tenant)
    with transaction.atomic():
        # Locked, and re-checked as still ignored: two supervisors clicking at once open one case, not two.
        row = (MentionTriage.objects.select_for_update(of=("self",))
               .filter(tenant=tenant, mention_id=mention_id, ignored=True, case__isnull=True)
               .select_related("mention").first())
        if row is None:
            raise CaseActionError(_("This mention is no longer ignored: it is already in a case."))
        mention, decision = row.mention, row.decision or {}
        chosen = category or decision.get("category") or ""
        if chosen not in categories:
            raise CaseActionError(_("Unknown category %(category)s.") % {"category": chosen})
        case = None
        if mention.author_id is not None:
            case = (Case.objects.select_for_update(of=("self",))
                    .filter(tenant=tenant, channel_id=mention.channel_id, customer_id=mention.author_id,
                            status__in=OPEN_STATUSES).order_by("-created_at", "-pk").first())
        if case is not None:
            Case.objects.filter(tenant=tenant, pk=case.pk).update(
                last_customer_message_at=max(case.last_customer_message_at, mention.posted_at),
                personal_data=sorted(set(case.personal_data) | set(decision.get("personal_data") or [])))
            case.refresh_from_db()
            CaseMention.objects.create(tenant=tenant, case=case, mention=mention)
            audit_record(tenant=tenant, actor=membership.user, verb="case.mention_attached", obj=case,
                         data={"mention": mention.pk, "how": "recovered"})
            events.case_mention_attached.send(sender=Case, case=case, actor=membership.user, mention=mention)
        else:
            team_id = decision.get("team_id")
            if team_id is not None and not Team.objects.filter(tenant=tenant, pk=team_id).exists():
                team_id = None  # the routing rule's team was deleted since
            case = Case.objects.create(
                tenant=tenant, protocol=protocol_next(tenant=tenant), status=Case.Status.NEW,
                # Triage caps "no answer needed" at 20; a supervisor says it needs one, so the usual floor applies.
                priority=max(int(decision.get("priority") or 0), 50), channel_id=mention.channel_id,
                customer_id=mention.author_id, subject=mention.text[:140],
                language=(decision.get("language") or mention.language or "")[:8], category=chosen[:30],
                personal_data=decision.get("personal_data") or [], triage=decision,
                first_message_at=mention.posted_at, last_customer_message_at=mention.posted_at, team_id=team_id)
            case.tenant = tenant
            case._tags = list(decision.get("tags") or [])  # type: ignore[attr-defined]
            _tags_apply(tenant, [case])
            CaseMention.objects.create(tenant=tenant, case=case, mention=mention)
            audit_record(tenant=tenant, actor=membership.user, verb="case.opened", obj=case,
                         data={"priority": case.priority, "category": case.category, "mention": mention.pk,
                               "how": "recovered"})
            events.case_opened.send(sender=Case, case=case, actor=membership.user)
            # As triage does for a case it opens: a team that hands out its cases in turn gets this one too.
            case = case_auto_assign(tenant=tenant, case=case)
        MentionTriage.objects.filter(tenant=tenant, pk=row.pk).update(ignored=False, case=case)
        TriageCorrection.objects.update_or_create(
            tenant=tenant, mention=mention,
            defaults={"case": case, "text": mention.text, "category": chosen, "requires_response": True,
                      "priority": None, "corrected_by": membership.user,
                      "original": {k: decision.get(k) for k in ("category", "requires_response", "priority")}})
        audit_record(tenant=tenant, actor=membership.user, verb="triage.corrected", obj=case,
                     data={"category": chosen, "requires_response": True, "priority": None, "how": "recovered",
                           "was": {k: decision.get(k) for k in ("category", "requires_response", "priority")}})
        triage_retrain_when_due(tenant=tenant)
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
        raise CaseActionError(_("Only the assignee or a supervisor can transfer this case."))
    if to_membership is None and to_team is None:
        raise CaseActionError(_("Choose a colleague or a team."))
    if not case.is_open:
        raise CaseActionError(_("Only open cases can be transferred."))
    if to_membership is not None and (to_membership.tenant_id != tenant.pk or not to_membership.is_active):
        raise CaseActionError(_("That person is not a member of this brand."))
    if to_team is not None and to_team.tenant_id != tenant.pk:
        raise CaseActionError(_("That team does not belong to this brand."))
    old_assignee_id, old_team_id = case.assignee_id, case.team_id
    changes: dict[str, object] = {"assignee": to_membership.user if to_membership else None}
    if to_team is not None:
        changes["team"] = to_team
    with transaction.atomic():
        # Conditional on the assignee we read, so two simultaneous transfers cannot both win.
        if not Case.objects.filter(tenant=tenant, pk=case.pk, assignee_id=old_assignee_id).update(**changes):
            raise CaseActionError(_("The case changed meanwhile; reload and try again."))
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
        raise CaseActionError(_("Only supervisors reassign cases in bulk."))
    if to_membership is not None and to_membership.tenant_id != tenant.pk:
        raise CaseActionError(_("That person is not a member of this brand."))
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
        raise CaseActionError(_("A note needs some text."))
    with transaction.atomic():
        note = Note.objects.create(tenant=tenant, case=case, author=membership.user, text=text)
        audit_record(tenant=tenant, actor=membership.user, verb="note.added", obj=case, data={"note": note.pk})
        notes_notify_mentions(tenant=tenant, note=note, actor=membership.user)
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
