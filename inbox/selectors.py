"""Tenant-scoped reads for the inbox. Every function takes the tenant first."""

import functools
import json
import re
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from channels_ingest.models import ChannelAccount, Mention, SocialProfile
from sac.models import AuditEvent, Membership, Role, Tenant
from sac.prepared import model_columns, model_from_row, models_from_row, prepared, prepared_batch
from sac.selectors import audit_events_for

from .canned_variables import registered_canned_variables
from .models import (
    OPEN_STATUSES,
    CannedReply,
    Case,
    InboxSettings,
    MentionTriage,
    Note,
    Notification,
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
    "mine": _("My cases"),
    "unassigned": _("Unassigned"),
    "team": _("My teams"),
    "all": _("All open"),
}


def access_case(tenant: Tenant, case_id: int) -> Case:
    """Another tenant's case and a case that does not exist are the same 404."""
    if connection.vendor == "postgresql":
        case = _access_case_prepared(tenant, case_id)
    else:
        try:
            case = (Case.objects.select_related("channel", "customer", "assignee", "team")
                    .defer("channel__credentials").get(tenant=tenant, pk=case_id))
        except Case.DoesNotExist:
            raise Http404("No such case.") from None
    # The case page and its panels read case.tenant several times: hand them the tenant we already hold
    # instead of one more query for it.
    case.tenant = tenant
    return case


@functools.cache
def _access_case_parts() -> tuple[tuple[type, tuple[str, ...] | None], ...]:
    """The models access_case reads, in the statement's order, each with the fields it reads (None: all): the
    channel without its credentials (encrypted; decrypting them is for the network clients), the assignee
    without the password hash."""
    user = get_user_model()
    return ((Case, None),
            (ChannelAccount, tuple(f.attname for f in ChannelAccount._meta.concrete_fields
                                   if f.attname != "credentials")),
            (SocialProfile, None),
            (user, tuple(f.attname for f in user._meta.concrete_fields if f.attname != "password")),
            (Case._meta.get_field("team").related_model, None))


@functools.cache
def _access_case_sql() -> str:
    (_case, _all), (channel, channel_fields), (profile, _), (user, user_fields), (team, _) = _access_case_parts()
    return (f"SELECT {model_columns(Case, 'c')}, {model_columns(channel, 'ch', channel_fields)}, "
            f"{model_columns(profile, 'p')}, {model_columns(user, 'u', user_fields)}, {model_columns(team, 't')} "
            f"FROM {Case._meta.db_table} c JOIN {channel._meta.db_table} ch ON ch.id = c.channel_id "
            f"LEFT JOIN {profile._meta.db_table} p ON p.id = c.customer_id "
            f"LEFT JOIN {user._meta.db_table} u ON u.id = c.assignee_id "
            f"LEFT JOIN {team._meta.db_table} t ON t.id = c.team_id "
            "WHERE c.tenant_id = %(tenant)s AND c.id = %(case)s")


def _access_case_prepared(tenant: Tenant, case_id: int) -> Case:
    """access_case as one prepared statement: every page and every action on a case starts with it, and
    building and compiling the four-join queryset cost more CPU than PostgreSQL spends finding the row."""
    with connection.cursor() as cursor:
        cursor.execute(*prepared("inbox_access_case", _access_case_sql(), {"tenant": tenant.pk, "case": case_id}))
        row = cursor.fetchone()
    if row is None:
        raise Http404("No such case.")
    case, channel, customer, assignee, team = models_from_row(row, _access_case_parts())
    # As select_related leaves them: an absent customer, assignee or team is a cached None, not a query.
    case.channel, case.customer, case.assignee, case.team = channel, customer, assignee, team
    return case


def access_reply(tenant: Tenant, case: Case, reply_id: int) -> Reply:
    try:
        return Reply.objects.select_related("case").get(tenant=tenant, case=case, pk=reply_id)
    except Reply.DoesNotExist:
        raise Http404("No such reply.") from None


def access_canned_reply(tenant: Tenant, canned_id: int, *, user: Any = None) -> CannedReply:
    """A reply of the tenant's bank; with `user`, also that user's own personal replies (never a colleague's)."""
    mine = Q(owner__isnull=True) | Q(owner=user) if user is not None else Q(owner__isnull=True)
    try:
        return CannedReply.objects.get(mine, tenant=tenant, pk=canned_id)
    except CannedReply.DoesNotExist:
        raise Http404("No such canned reply.") from None


def access_personal_canned_reply(tenant: Tenant, user: Any, canned_id: int) -> CannedReply:
    try:
        return CannedReply.objects.get(tenant=tenant, owner=user, pk=canned_id)
    except CannedReply.DoesNotExist:
        raise Http404("No such canned reply.") from None


def access_tag(tenant: Tenant, tag_id: int) -> Tag:
    try:
        return Tag.objects.get(tenant=tenant, pk=tag_id)
    except Tag.DoesNotExist:
        raise Http404("No such tag.") from None


def access_notification(tenant: Tenant, user: Any, notification_id: int) -> Notification:
    """Only the recipient addresses a notification; anyone else's is a 404."""
    try:
        return Notification.objects.get(tenant=tenant, recipient=user, pk=notification_id)
    except Notification.DoesNotExist:
        raise Http404("No such notification.") from None


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
    sla: str = ""  # "overdue" | "soon" (first response or resolution due within 15 minutes)
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
    # The rows show the customer's handle and the assignee's name; nothing of the channel.
    qs = Case.objects.filter(tenant=tenant, status__in=statuses).select_related("customer", "assignee")
    if view == "mine":
        qs = qs.filter(assignee_id=membership.user_id)  # the id: membership.user would be one more query
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
    # The first response not yet given, or the resolution (its due time is empty while the case waits on the
    # customer). The next-response clock lives in the sla app, which the inbox does not read.
    soon = now + timedelta(minutes=15)
    if filters.sla == "overdue":
        qs = qs.filter(Q(first_response_at__isnull=True, first_response_due__lt=now) | Q(resolution_due__lt=now))
    elif filters.sla == "soon":
        qs = qs.filter(Q(first_response_at__isnull=True, first_response_due__gte=now, first_response_due__lt=soon)
                       | Q(resolution_due__gte=now, resolution_due__lt=soon))
    if filters.q.strip():
        qs = _search(tenant, qs, filters.q)
    return qs.order_by("-priority", "first_message_at", "pk")


@dataclass(frozen=True, slots=True)
class QueueRow:
    """What one queue row shows, as plain values. The queue polls its rows every 4 s: building 50 Case,
    SocialProfile and User instances (every column, the triage JSON included) cost more CPU than the query."""

    pk: int
    protocol: str
    priority: int
    category: str
    status: str
    subject: str
    personal_data: list[str]
    spans: list[dict] | None  # where triage found personal data in the subject
    first_response_due: datetime | None
    first_response_at: datetime | None
    customer_handle: str | None  # None when the case has no customer
    assignee_username: str | None


def queue_rows(tenant: Tenant, membership: Membership, view: str, filters: QueueFilters | None = None, *,
               limit: int) -> list[QueueRow]:
    """The first `limit` rows of case_queue (same filters, same order, same index), as QueueRows."""
    if connection.vendor == "postgresql" and (filters is None or filters == QueueFilters()):
        return _plain_queue_rows(tenant, membership, view, limit=limit)
    qs = case_queue(tenant, membership, view, filters).annotate(
        row_spans=F("triage__spans"), row_handle=F("customer__handle"), row_assignee=F("assignee__username"),
    ).values_list(
        "pk", "protocol", "priority", "category", "status", "subject", "personal_data", "row_spans",
        "first_response_due", "first_response_at", "row_handle", "row_assignee",
    )
    return [QueueRow(*values) for values in qs[:limit]]


@functools.cache
def _plain_queue_rows_sql(view: str, limit: int) -> str:
    case, teams = Case._meta.db_table, Membership.teams.through._meta.db_table
    profiles = Case._meta.get_field("customer").related_model._meta.db_table
    users = Case._meta.get_field("assignee").related_model._meta.db_table
    statuses = ", ".join(f"'{status}'" for status in OPEN_STATUSES)  # constants of the code, not input
    where = {
        "mine": "c.assignee_id = %(user)s",
        "unassigned": "c.assignee_id IS NULL",
        "team": f"c.team_id IN (SELECT team_id FROM {teams} WHERE membership_id = %(membership)s)",
        "all": "TRUE",
    }[view]
    # The customer and the assignee are joined by the ids on the tenant's own case rows.
    return (f"SELECT c.id, c.protocol, c.priority, c.category, c.status, c.subject, c.personal_data, "
            f"c.triage -> 'spans', c.first_response_due, c.first_response_at, p.handle, u.username "
            f"FROM {case} c LEFT JOIN {profiles} p ON p.id = c.customer_id LEFT JOIN {users} u ON u.id = c.assignee_id "
            f"WHERE c.tenant_id = %(tenant)s AND c.status IN ({statuses}) AND {where} "
            # The limit in the text, not a parameter: then PostgreSQL keeps one plan for the prepared statement
            # (with `LIMIT $n` it guesses a tenth of the table and plans again on every call).
            f"ORDER BY c.priority DESC, c.first_message_at, c.id LIMIT {int(limit)}")


def _plain_queue_rows(tenant: Tenant, membership: Membership, view: str, *, limit: int) -> list[QueueRow]:
    """queue_rows without filters, the page every open queue polls every 4 s, as one hand-written statement:
    the same rows in the same order as case_queue's (tests/inbox/test_queue_speed.py compares them), without
    building and compiling that queryset each time, which cost more CPU than PostgreSQL spends on it."""
    with connection.cursor() as cursor:
        view = view if view in QUEUE_VIEWS else "all"  # as case_queue does
        cursor.execute(*prepared(f"inbox_queue_rows_{view}_{int(limit)}", _plain_queue_rows_sql(view, limit), {
            "tenant": tenant.pk, "user": membership.user_id, "membership": membership.pk}))
        rows = cursor.fetchall()

    def loads(value: Any) -> Any:  # jsonb arrives as text, as it does for the ORM's JSONField
        return json.loads(value) if isinstance(value, str) else value

    return [QueueRow(pk, protocol, priority, category, status, subject, loads(personal_data), loads(spans), *rest)
            for pk, protocol, priority, category, status, subject, personal_data, spans, *rest in rows]


@dataclass(frozen=True, slots=True)
class Choice:
    pk: int
    name: str


def _channels_and_tags(tenant: Tenant) -> tuple[list[Choice], list[Choice]]:
    """The tenant's channels and live tags by name, in one round trip and without model instances (a
    channel row would decrypt its credentials, which a filter menu never needs)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 'channel', id, name FROM {ChannelAccount._meta.db_table} WHERE tenant_id = %s "
            f"UNION ALL SELECT 'tag', id, name FROM {Tag._meta.db_table} WHERE tenant_id = %s AND NOT archived "
            "ORDER BY 1, 3",
            [tenant.pk, tenant.pk],
        )
        rows = cursor.fetchall()
    return ([Choice(pk, name) for kind, pk, name in rows if kind == "channel"],
            [Choice(pk, name) for kind, pk, name in rows if kind == "tag"])


def queue_filter_choices(tenant: Tenant) -> dict[str, Any]:
    def distinct_values() -> dict[str, list[str]]:
        cases = Case.objects.filter(tenant=tenant)
        return {
            "categories": sorted(c for c in cases.values_list("category", flat=True).distinct() if c),
            "languages": sorted(c for c in cases.values_list("language", flat=True).distinct() if c),
        }

    # DISTINCT over all of a tenant's cases costs tens of ms at 100k cases and changes rarely.
    values = cache.get_or_set(f"t{tenant.pk}:queue-filter-values", distinct_values, timeout=300)
    channels, tags = _channels_and_tags(tenant)
    return {
        "channels": channels,
        "categories": values["categories"],
        "languages": values["languages"],
        "tags": tags,
        "statuses": Case.Status.choices,
    }


COUNT_CAP = 1000
# The tab title's two counts stop here (shown as "99+"): each counted row is a heap visit (seen marks and status
# are not in the queue's indexes), and at 1,000 an agent holding 670 open cases paid 3-4 ms of PostgreSQL on
# every case page and poll (bench/inbox.py, 2026-12-04) for a number nobody reads past 99.
TAB_COUNT_CAP = 99


@functools.cache
def _queue_counts_sql(cap: int) -> str:
    case, teams = Case._meta.db_table, Membership.teams.through._meta.db_table
    statuses = ", ".join(f"'{status}'" for status in OPEN_STATUSES)  # constants of the code, not input
    capped = ("(SELECT count(*) FROM (SELECT 1 FROM {case} WHERE tenant_id = %(tenant)s AND status IN ({statuses}) "
              "AND {where} LIMIT {cap}) capped)")  # in the text: see _plain_queue_rows_sql
    views = {
        "mine": "assignee_id = %(user)s",
        "unassigned": "assignee_id IS NULL",
        # The membership's teams: their ids came from this tenant's Team rows, and the cases are the tenant's.
        "team": f"team_id IN (SELECT team_id FROM {teams} WHERE membership_id = %(membership)s)",
        "all": "TRUE",
    }
    assert list(views) == list(QUEUE_VIEWS)
    return "SELECT " + ", ".join(capped.format(case=case, statuses=statuses, where=w, cap=int(cap))
                                 for w in views.values())


def queue_views_for(membership: Membership) -> dict[str, Any]:
    """The queue views this member may open: *All open* is for supervisors and tenant admins (an agent works
    their own cases, their teams' and the unassigned ones; the whole brand's open work is a supervisor's view)."""
    if membership.has_role(Role.SUPERVISOR):
        return QUEUE_VIEWS
    return {key: label for key, label in QUEUE_VIEWS.items() if key != "all"}


@dataclass(frozen=True)
class TabCount:
    """The number in the tab title (docs/inbox.md, "Views, statuses and the tab title"), each part capped at
    TAB_COUNT_CAP (the title then shows "99+"):

    - `unread`: the member's own open cases (assigned to them) whose customer wrote after the member last had the
      thread in front of them (Case.seen_by / seen_upto, set by services.case_mark_seen on the case page and its
      poll); a case handed to them counts until they open it. The case on screen, if any, never counts.
    - `claimable`: unassigned cases still `new` (nobody has taken them) that the member's *Take next case* may
      give them by team: of no team, of one of their teams, or any when they are in no team.
    """

    unread: int = 0
    claimable: int = 0

    @property
    def total(self) -> int:
        return self.unread + self.claimable

    @property
    def shown(self) -> str:
        """The title's number: the total, or "99+" from the cap on (a part at the cap may hold more)."""
        capped = self.total >= TAB_COUNT_CAP or TAB_COUNT_CAP in (self.unread, self.claimable)
        return f"{TAB_COUNT_CAP}+" if capped else str(self.total)


@functools.cache
def _tab_count_columns(cap: int) -> str:
    case, teams = Case._meta.db_table, Membership.teams.through._meta.db_table
    statuses = ", ".join(f"'{status}'" for status in OPEN_STATUSES)  # constants of the code, not input
    # Both read an index of the queue's (case_mine_order; case_claim_order) and stop at the cap.
    unread = (f"(SELECT count(*) FROM (SELECT 1 FROM {case} WHERE tenant_id = %(tenant)s AND assignee_id = %(user)s "
              f"AND status IN ({statuses}) AND id <> %(case)s AND (seen_by_id IS NULL OR seen_by_id <> %(user)s "
              f"OR seen_upto IS NULL OR seen_upto < last_customer_message_at) LIMIT {int(cap)}) unread)")
    claimable = (f"(SELECT count(*) FROM (SELECT 1 FROM {case} WHERE tenant_id = %(tenant)s AND assignee_id IS NULL "
                 "AND status = 'new' "
                 # As claim-next: the member's teams' cases and those of no team; any when in no team.
                 f"AND (team_id IS NULL "
                 f"OR team_id IN (SELECT team_id FROM {teams} WHERE membership_id = %(membership)s) "
                 f"OR NOT EXISTS (SELECT 1 FROM {teams} WHERE membership_id = %(membership)s)) "
                 f"LIMIT {int(cap)}) claimable)")
    return f"{unread}, {claimable}"


def tab_count_statement(tenant: Tenant, membership: Membership, *,
                        case_on_screen: int | None = None) -> tuple[str, str, dict[str, Any]]:
    """The TabCount statement, for a page's prepared_batch (the case page and its thread poll pay no extra round
    trip for it)."""
    return (f"inbox_tab_count_{int(TAB_COUNT_CAP)}", f"SELECT {_tab_count_columns(int(TAB_COUNT_CAP))}",
            {"tenant": tenant.pk, "user": membership.user_id, "membership": membership.pk,
             "case": case_on_screen or 0})


def tab_count(tenant: Tenant, membership: Membership, *, case_on_screen: int | None = None) -> TabCount:
    name, sql, params = tab_count_statement(tenant, membership, case_on_screen=case_on_screen)
    with connection.cursor() as cursor:
        cursor.execute(*prepared(name, sql, params))
        return TabCount(*cursor.fetchone())


def queue_counts_and_tab(tenant: Tenant, membership: Membership) -> tuple[dict[str, int], TabCount]:
    """The sidebar's counts and the tab title's (TabCount), in one statement: the queue polls both every 4 s.

    The sidebar counts are capped at COUNT_CAP (shown as "999+"): exact counts over a big tenant's open cases cost
    tens of ms on every poll, and nobody acts differently on 4,812 than on "999+". One round trip for the four
    views, each served by an index; written as SQL because building the four querysets and compiling them cost
    more CPU than PostgreSQL spends counting."""
    sql = f"{_queue_counts_sql(int(COUNT_CAP))}, {_tab_count_columns(int(TAB_COUNT_CAP))}"
    with connection.cursor() as cursor:
        cursor.execute(*prepared(f"inbox_queue_counts_tab_{int(COUNT_CAP)}_{int(TAB_COUNT_CAP)}", sql, {
            "tenant": tenant.pk, "user": membership.user_id, "membership": membership.pk, "case": 0}))
        row = cursor.fetchone()
    views = len(QUEUE_VIEWS)
    return dict(zip(QUEUE_VIEWS, row[:views], strict=True)), TabCount(*row[views:])


def queue_counts(tenant: Tenant, membership: Membership) -> dict[str, int]:
    """The sidebar's counts alone (queue_counts_and_tab)."""
    return queue_counts_and_tab(tenant, membership)[0]


@dataclass(frozen=True)
class ThreadEntry:
    at: datetime
    kind: str  # mention | reply | note | event
    obj: Any
    media: list["MediaRef"] = field(default_factory=list)  # a mention's images and videos


THREAD_VERBS = ("case.opened", "case.assigned", "case.status_changed", "case.tag_added", "case.tag_removed")


def case_thread(tenant: Tenant, case: Case) -> list[ThreadEntry]:
    """The whole story of a case in time order: customer posts, our replies, notes, status changes."""
    if connection.vendor == "postgresql":
        return _case_thread_prepared(tenant, case)
    return _case_thread_orm(tenant, case)


def _case_thread_orm(tenant: Tenant, case: Case) -> list[ThreadEntry]:
    # Not the network's whole payload (kilobytes a mention, decoded on every poll of the thread): only the
    # media the parsers kept in it.
    mentions = (Mention.objects.filter(tenant=tenant, case_link__case=case).select_related("author")
                .defer("raw").annotate(sac_media=F("raw__sac_media")))
    replies = Reply.objects.filter(tenant=tenant, case=case).select_related("author")
    notes = Note.objects.filter(tenant=tenant, case=case).select_related("author")
    events = audit_events_for(tenant, object_type="inbox.case", object_id=str(case.pk)).filter(
        verb__in=THREAD_VERBS)
    return _thread_entries(mentions, replies, notes, events)


def _thread_entries(mentions: Iterable[Mention], replies: Iterable[Reply], notes: Iterable[Note],
                    events: Iterable[AuditEvent]) -> list[ThreadEntry]:
    entries = [ThreadEntry(m.posted_at, "mention", m, media_refs(m.sac_media)) for m in mentions]
    entries += [ThreadEntry(r.created_at, "reply", r) for r in replies]
    entries += [ThreadEntry(n.created_at, "note", n) for n in notes]
    entries += [ThreadEntry(e.created_at, "event", e) for e in events]
    return sorted(entries, key=lambda e: e.at)


# What the thread shows of the people in it: a customer's handle, a colleague's username (never a password hash).
_PROFILE_FIELDS = ("id", "handle")
_USER_FIELDS = ("id", "username")
_MENTION_FIELDS = tuple(f.attname for f in Mention._meta.concrete_fields if f.attname != "raw")


@functools.cache
def _case_thread_sql() -> tuple[str, str, str, str]:
    user, profile = get_user_model(), SocialProfile
    users, profiles = user._meta.db_table, profile._meta.db_table
    links = Mention._meta.get_field("case_link").related_model._meta.db_table
    verbs = ", ".join(f"'{verb}'" for verb in THREAD_VERBS)  # constants of the code, not input
    # The same rows, in the same order, as the ORM querysets of case_thread (tests/inbox/test_case_page_speed.py
    # compares them); each joined row is the tenant's own case's, found by the ids on it.
    mentions = (f"SELECT {model_columns(Mention, 'm', _MENTION_FIELDS)}, m.raw -> 'sac_media', "
                f"{model_columns(profile, 'p', _PROFILE_FIELDS)} "
                f"FROM {Mention._meta.db_table} m JOIN {links} l ON l.mention_id = m.id "
                f"LEFT JOIN {profiles} p ON p.id = m.author_id "
                "WHERE l.case_id = %(case)s AND m.tenant_id = %(tenant)s ORDER BY m.posted_at, m.id")
    replies = (f"SELECT {model_columns(Reply, 'r')}, {model_columns(user, 'u', _USER_FIELDS)} "
               f"FROM {Reply._meta.db_table} r LEFT JOIN {users} u ON u.id = r.author_id "
               "WHERE r.case_id = %(case)s AND r.tenant_id = %(tenant)s ORDER BY r.id")
    notes = (f"SELECT {model_columns(Note, 'n')}, {model_columns(user, 'u', _USER_FIELDS)} "
             f"FROM {Note._meta.db_table} n LEFT JOIN {users} u ON u.id = n.author_id "
             "WHERE n.case_id = %(case)s AND n.tenant_id = %(tenant)s ORDER BY n.id")
    events = (f"SELECT {model_columns(AuditEvent, 'e')}, {model_columns(user, 'u', _USER_FIELDS)} "
              f"FROM {AuditEvent._meta.db_table} e LEFT JOIN {users} u ON u.id = e.actor_id "
              "WHERE e.object_id = %(object_id)s AND e.object_type = 'inbox.case' AND e.tenant_id = %(tenant)s "
              f"AND e.verb IN ({verbs}) ORDER BY e.created_at, e.id")
    return mentions, replies, notes, events


def _case_thread_prepared(tenant: Tenant, case: Case) -> list[ThreadEntry]:
    """case_thread as four prepared statements in one round trip. The thread is on every case page and each
    open page polls it every 3 s: building and compiling four querysets cost several times what PostgreSQL
    spends answering them."""
    return _thread_from_rows(prepared_batch(_case_thread_statements(tenant, case)))


def _case_thread_statements(tenant: Tenant, case: Case) -> list[tuple[str, str, dict[str, Any]]]:
    params = {"tenant": tenant.pk, "case": case.pk, "object_id": str(case.pk)}
    names = ("inbox_thread_mentions", "inbox_thread_replies", "inbox_thread_notes", "inbox_thread_events")
    return [(name, sql, params) for name, sql in zip(names, _case_thread_sql(), strict=True)]


def _thread_from_rows(rows: list[list[tuple]]) -> list[ThreadEntry]:
    """The thread from the rows of _case_thread_statements' four statements."""
    user = get_user_model()
    m_end = len(_MENTION_FIELDS)
    mentions = []
    for row in rows[0]:  # the mention, its media (raw -> 'sac_media'), its author
        (mention,) = models_from_row(row[:m_end], [(Mention, _MENTION_FIELDS)])
        mention.sac_media = json.loads(row[m_end]) if isinstance(row[m_end], str) else row[m_end]
        (mention.author,) = models_from_row(row[m_end + 1:], [(SocialProfile, _PROFILE_FIELDS)])
        mentions.append(mention)

    def with_user(model: Any, attribute: str, model_rows: list[tuple]) -> list[Any]:
        """Each row's object, with its author (or actor) as the colleague's id and username."""
        found = []
        for row in model_rows:
            obj, person = models_from_row(row, [(model, None), (user, _USER_FIELDS)])
            setattr(obj, attribute, person)
            found.append(obj)
        return found

    return _thread_entries(mentions, with_user(Reply, "author", rows[1]), with_user(Note, "author", rows[2]),
                           with_user(AuditEvent, "actor", rows[3]))


class HistoryRow(NamedTuple):
    """One of the customer's earlier cases, as the case page lists it."""

    pk: int
    protocol: str
    status_label: str
    category: str
    opened: datetime


HISTORY_LIMIT = 10  # shown; one more is read to know whether there are more


def customer_history(tenant: Tenant, case: Case) -> list[HistoryRow]:
    if case.customer_id is None:
        return []
    rows = (Case.objects.filter(tenant=tenant, customer_id=case.customer_id).exclude(pk=case.pk)
            .order_by("-created_at").values_list("pk", "protocol", "status", "category", "created_at")
            [:HISTORY_LIMIT + 1])
    return _history_rows(rows)


def _history_rows(rows: Iterable[tuple[int, str, str, str, datetime]]) -> list[HistoryRow]:
    labels = {value: str(label) for value, label in Case.Status.choices}  # in the request's language, once
    return [HistoryRow(pk, protocol, labels.get(status, status), category, opened)
            for pk, protocol, status, category, opened in rows]


@dataclass(frozen=True)
class CasePageReads:
    """What the case page reads besides the case and its panels."""

    thread: list[ThreadEntry]
    history: list[HistoryRow]  # the customer's earlier cases, newest first (HISTORY_LIMIT + 1 at most)
    tags: list[Tag]  # on the case, by name
    tag_menu: list[Tag] | None  # the tenant's live tags by name, when the page offers to add one
    categories: list[str]  # triage_categories: what the triage card's correction menu offers
    tab: TabCount | None = None  # the tab title's count, when asked for (tab_for)


@functools.cache
def _case_page_sql() -> dict[str, str]:
    cases, tags, links = Case._meta.db_table, Tag._meta.db_table, Case.tags.through._meta.db_table
    # The rows of customer_history, the case's tags (_tags_context), tags_of and triage_categories. The
    # earlier cases are the customer's within the tenant; a case without customer (NULL) matches none.
    return {
        "inbox_page_earlier_cases": (
            f"SELECT c.id, c.protocol, c.status, c.category, c.created_at FROM {cases} c "
            "WHERE c.tenant_id = %(tenant)s AND c.customer_id = %(customer)s AND c.id <> %(case)s "
            f"ORDER BY c.created_at DESC LIMIT {int(HISTORY_LIMIT) + 1}"),
        "inbox_page_tags": (f"SELECT {model_columns(Tag, 't')} FROM {tags} t JOIN {links} l ON l.tag_id = t.id "
                            "WHERE l.case_id = %(case)s AND t.tenant_id = %(tenant)s ORDER BY t.name"),
        "inbox_page_categories": (f"SELECT name FROM {TriageCategory._meta.db_table} WHERE tenant_id = %(tenant)s "
                                  "ORDER BY name"),
        "inbox_page_tag_menu": (f"SELECT {model_columns(Tag, 't')} FROM {tags} t "
                                "WHERE t.tenant_id = %(tenant)s AND NOT t.archived ORDER BY t.name"),
    }


def case_page_reads(tenant: Tenant, case: Case, *, tag_menu: bool,
                    tab_for: Membership | None = None) -> CasePageReads:
    """The case page's own reads in one round trip of prepared statements (PostgreSQL): the thread, the
    customer's earlier cases, the tags and the triage categories, and the tab title's count for `tab_for`. Each
    was its own ORM query, and building and compiling those cost more CPU than PostgreSQL spends answering them."""
    if connection.vendor != "postgresql":
        return CasePageReads(
            thread=case_thread(tenant, case), history=customer_history(tenant, case),
            tags=list(case.tags.filter(tenant=tenant).order_by("name")),
            tag_menu=list(tags_of(tenant)) if tag_menu else None, categories=triage_categories(tenant),
            tab=tab_count(tenant, tab_for, case_on_screen=case.pk) if tab_for is not None else None)
    sql = _case_page_sql()
    params = {"tenant": tenant.pk, "case": case.pk, "customer": case.customer_id}
    names = ["inbox_page_earlier_cases", "inbox_page_tags", "inbox_page_categories"]
    names += ["inbox_page_tag_menu"] if tag_menu else []
    tab = [tab_count_statement(tenant, tab_for, case_on_screen=case.pk)] if tab_for is not None else []
    rows = prepared_batch(_case_thread_statements(tenant, case) + [(name, sql[name], params) for name in names]
                          + tab)
    if tab:
        (tab_row,) = rows.pop()
    thread_rows, (history, tags, categories, *menu) = rows[:4], rows[4:]
    return CasePageReads(
        thread=_thread_from_rows(thread_rows), history=_history_rows(history),
        tags=[model_from_row(Tag, values) for values in tags],
        tag_menu=[model_from_row(Tag, values) for values in menu[0]] if menu else None,
        categories=_with_builtin_categories(name for (name,) in categories),
        tab=TabCount(*tab_row) if tab else None)


def case_thread_and_tab(tenant: Tenant, case: Case, membership: Membership) -> tuple[list[ThreadEntry], TabCount]:
    """The thread poll's reads: the thread and the tab title's count, in one round trip (PostgreSQL)."""
    if connection.vendor != "postgresql":
        return case_thread(tenant, case), tab_count(tenant, membership, case_on_screen=case.pk)
    rows = prepared_batch(_case_thread_statements(tenant, case)
                          + [tab_count_statement(tenant, membership, case_on_screen=case.pk)])
    (tab_row,) = rows.pop()
    return _thread_from_rows(rows), TabCount(*tab_row)


def case_missing_tags(tenant: Tenant, case: Case, *, tags: list[Tag], tag_menu: list[Tag]) -> list[Tag]:
    """inbox.services.case_missing_mandatory_tags from the tags the page already read (the case's, and the
    tenant's live ones by name): the live mandatory tags whose campaign dates, if any, include the day the
    customer first wrote (Tag.required_on, as services.mandatory_tags_for), and that the case does not carry."""
    day = case.first_message_at.astimezone(zoneinfo.ZoneInfo(tenant.time_zone)).date()
    present = {t.pk for t in tags}
    return [t for t in tag_menu if t.pk not in present and t.required_on(day)]


def canned_replies_for(tenant: Tenant, *, language: str = "") -> QuerySet[CannedReply]:
    """The tenant's bank (personal replies are never part of it)."""
    qs = CannedReply.objects.filter(tenant=tenant, owner__isnull=True).select_related("channel")
    if language:
        qs = qs.filter(Q(language="") | Q(language=language))
    return qs.order_by("-usage_count", "title")


def personal_canned_replies(tenant: Tenant, user: Any) -> QuerySet[CannedReply]:
    return CannedReply.objects.filter(tenant=tenant, owner=user).select_related("channel").order_by("title")


def _variant_fit(canned: CannedReply, case: Case) -> tuple[int, int]:
    """How well a variant fits the case; higher is better. The channel beats the network, and the network
    beats the language: a reply written for X's 280 characters matters more than an exact language match."""
    return (2 if canned.channel_id else 1 if canned.platform else 0, 1 if canned.language else 0)


def canned_picker(tenant: Tenant, case: Case, user: Any) -> dict[str, list[CannedReply]]:
    """What the composer offers for this case: the agent's own replies and the bank's, one per shortcut
    (the variant that fits the case's channel, network and language best), most used first."""
    usable: Iterable[CannedReply]
    if connection.vendor == "postgresql":
        usable = _canned_usable_prepared(tenant, case, user)
    else:
        usable = (CannedReply.objects.filter(tenant=tenant)
                  .filter(Q(owner__isnull=True) | Q(owner=user))
                  .filter(Q(platform="") | Q(platform=case.channel.platform))
                  .filter(Q(channel__isnull=True) | Q(channel=case.channel_id)))
        if case.language:  # a case of unknown language is offered every language
            usable = usable.filter(Q(language="") | Q(language=case.language))
    best: dict[tuple[bool, str], CannedReply] = {}
    for canned in usable:
        key = (canned.owner_id is not None, canned.shortcut)
        if key not in best or _variant_fit(canned, case) > _variant_fit(best[key], case):
            best[key] = canned
    ordered = sorted(best.values(), key=lambda c: (-c.usage_count, c.title))
    return {"mine": [c for c in ordered if c.owner_id], "bank": [c for c in ordered if not c.owner_id]}


@functools.cache
def _canned_usable_sql() -> str:
    # canned_picker's queryset: the bank's and the user's own replies for the case's network, channel and
    # language (a case of unknown language, '', is offered every language).
    return (f"SELECT {model_columns(CannedReply, 'c')} FROM {CannedReply._meta.db_table} c "
            "WHERE c.tenant_id = %(tenant)s AND (c.owner_id IS NULL OR c.owner_id = %(user)s) "
            "AND (c.platform = '' OR c.platform = %(platform)s) "
            "AND (c.channel_id IS NULL OR c.channel_id = %(channel)s) "
            "AND (%(language)s = '' OR c.language = '' OR c.language = %(language)s) ORDER BY c.id")


def _canned_usable_prepared(tenant: Tenant, case: Case, user: Any) -> list[CannedReply]:
    """canned_picker's candidates as one prepared statement: the picker is on the page of every case its agent
    answers, and its four-filter queryset cost more to build and compile than to run."""
    with connection.cursor() as cursor:
        cursor.execute(*prepared("inbox_canned_usable", _canned_usable_sql(), {
            "tenant": tenant.pk, "user": user.pk, "platform": case.channel.platform, "channel": case.channel_id,
            "language": case.language or ""}))
        return [model_from_row(CannedReply, values) for values in cursor.fetchall()]


def inbox_settings_of(tenant: Tenant) -> InboxSettings:
    """The tenant's settings, or unsaved defaults (empty contacts, no HUMAN_AGENT pages) before the first save."""
    return InboxSettings.objects.filter(tenant=tenant).first() or InboxSettings(tenant=tenant)


_VARIABLE = re.compile(r"\{\{\s*([a-z_]+\.[a-z_]+)\s*\}\}")

# What canned replies may use; shown to the people who write them.
CANNED_VARIABLES = ["customer.first_name", "customer.handle", "agent.first_name", "case.protocol", "tenant.name",
                    "tenant.email", "tenant.phone", "tenant.chat_url"]


def canned_render(canned: CannedReply, *, case: Case, agent: Any) -> str:
    """Fill `{{customer.first_name}}`, `{{agent.first_name}}`, `{{case.protocol}}`, `{{tenant.name}}` and the
    contact channels the tenant configured (`{{tenant.email}}`, `{{tenant.phone}}`, `{{tenant.chat_url}}`).
    Unknown variables, and contacts the tenant has not set, stay visible so the agent notices them before sending."""
    contacts = inbox_settings_of(case.tenant)
    values = {
        "customer.first_name": case.customer.first_name if case.customer else "",
        "customer.handle": f"@{case.customer.handle}" if case.customer and case.customer.handle else "",
        "agent.first_name": agent.first_name or agent.get_username(),
        "case.protocol": case.protocol,
        "tenant.name": case.tenant.name,
        "tenant.email": contacts.contact_email,
        "tenant.phone": contacts.contact_phone,
        "tenant.chat_url": contacts.chat_url,
    }
    # Variables other apps register (sla: {{case.promise}}); computed only when the body uses them.
    used = set(_VARIABLE.findall(canned.body))
    values.update({name: render(case) for name, render in registered_canned_variables().items() if name in used})
    return _VARIABLE.sub(lambda m: values.get(m.group(1)) or m.group(0), canned.body)


# ---------------------------------------------------------------- tags, notifications, media (#5)

def tags_of(tenant: Tenant, *, archived: bool | None = False) -> QuerySet[Tag]:
    """The tenant's tags by name; archived=None for all of them (the admin page)."""
    qs = Tag.objects.filter(tenant=tenant)
    if archived is not None:
        qs = qs.filter(archived=archived)
    return qs.order_by("name")


def notifications_unread_count(tenant: Tenant, user: Any) -> int:
    return Notification.objects.filter(tenant=tenant, recipient=user, read_at__isnull=True).count()


def notifications_for(tenant: Tenant, user: Any, *, limit: int = 50) -> list[Notification]:
    return list(Notification.objects.filter(tenant=tenant, recipient=user)
                .select_related("actor", "case").order_by("-created_at", "-pk")[:limit])


@dataclass(frozen=True)
class MediaRef:
    kind: str  # image | video
    url: str  # the original (opens in a new tab)
    preview_url: str  # what the thread shows; empty for a video without a poster


def mention_media(mention: Mention) -> list[MediaRef]:
    """Images and videos the connectors' parsers found (kept in the stored payload under `sac_media`)."""
    raw = mention.raw if isinstance(mention.raw, dict) else {}
    return media_refs(raw.get("sac_media"))


def media_refs(items: Any) -> list[MediaRef]:
    """A payload's `sac_media` list as MediaRefs. Only http(s) addresses: anything else (javascript:, data:) in
    a payload is dropped, never rendered."""
    found = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        url, preview = str(item.get("url") or ""), str(item.get("preview_url") or "")
        safe = [u if u.startswith(("https://", "http://")) else "" for u in (url, preview)]
        url, preview = safe[0] or safe[1], safe[1] or (safe[0] if item.get("type") == "image" else "")
        if url:
            found.append(MediaRef(kind="video" if item.get("type") == "video" else "image", url=url,
                                  preview_url=preview))
    return found


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
    return _with_builtin_categories(TriageCategory.objects.filter(tenant=tenant).values_list("name", flat=True))


def _with_builtin_categories(names: Iterable[str]) -> list[str]:
    """The built-in categories, then the tenant's own (by name) that are not one of them."""
    return list(CATEGORIES) + [c for c in names if c not in CATEGORIES]


def author_complaints_by_author(tenant: Tenant, author_ids: set[int], *, now: datetime | None = None) -> dict[int, int]:
    """Earlier complaints of each author in the last 7 days (one query for a triage batch), for the priority."""
    if not author_ids:
        return {}
    since = (now or timezone.now()) - timedelta(days=7)
    if connection.vendor == "postgresql":
        # Driven from each author's own mentions (their index), never from the tenant's week of triage rows,
        # which in a viral crisis is hundreds of thousands long and would be read for every ingest page. OFFSET 0
        # fences the per-author lookup so that statistics lagging behind a fast-growing table (autovacuum has
        # not analysed it yet) cannot turn the plan around: measured 4.8 s instead of 16 ms when they did.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT a.id, count(*) FROM unnest(%s::bigint[]) AS a(id) "
                "CROSS JOIN LATERAL (SELECT m.id, m.tenant_id FROM channels_ingest_mention m "
                "WHERE m.author_id = a.id OFFSET 0) m "
                "JOIN inbox_mentiontriage t ON t.mention_id = m.id "
                "WHERE m.tenant_id = %s AND t.created_at >= %s AND t.decision ->> 'category' = 'complaint' "
                "GROUP BY a.id",
                [sorted(author_ids), tenant.pk, since],
            )
            return dict(cursor.fetchall())
    return dict(
        MentionTriage.objects.filter(tenant=tenant, mention__author_id__in=author_ids, created_at__gte=since,
                                     decision__category="complaint")
        .values("mention__author_id").annotate(n=Count("pk")).values_list("mention__author_id", "n")
    )


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


def handoff_replies(tenant: Tenant, case_id: int) -> QuerySet[Reply]:
    """The private replies a case sent to a public post or comment (its handoffs), with what they answered."""
    return (Reply.objects.filter(tenant=tenant, case_id=case_id, visibility=Reply.Visibility.PRIVATE,
                                 state=Reply.State.SENT, in_reply_to__isnull=False)
            .exclude(in_reply_to__kind=Mention.Kind.DIRECT).select_related("in_reply_to", "case").order_by("pk"))


IGNORED_PAGE_SIZE = 50


@dataclass(frozen=True)
class IgnoredMention:
    """One row of the supervisors' "Ignored" page: a mention triage ignored, and why."""

    mention_id: int
    triage_id: int
    text: str
    author_handle: str | None
    channel_name: str
    platform: str
    posted_at: datetime
    category: str
    reasons: list[str]
    personal_data: list[str]
    spans: list[dict]


def access_ignored_mention(tenant: Tenant, mention_id: int) -> MentionTriage:
    """The triage row of one of the tenant's mentions; another tenant's id and an unknown one are the same 404."""
    try:
        return MentionTriage.objects.get(tenant=tenant, mention_id=mention_id)
    except MentionTriage.DoesNotExist:
        raise Http404("No such mention.") from None


def ignored_mentions(tenant: Tenant, *, before: int | None = None,
                     limit: int = IGNORED_PAGE_SIZE) -> list[IgnoredMention]:
    """The tenant's mentions triage ignored as noise and that are in no case, newest first, `limit` at a time
    (`before`: the last row's triage_id of the previous page). Read from the mentiontriage_ignored index."""
    qs = MentionTriage.objects.filter(tenant=tenant, ignored=True, case__isnull=True).order_by("-id")
    if before is not None:
        qs = qs.filter(id__lt=before)
    rows = qs.values_list("id", "mention_id", "mention__text", "mention__author__handle", "mention__channel__name",
                          "mention__channel__platform", "mention__posted_at", "decision")[:limit]
    return [IgnoredMention(mention_id=mention_id, triage_id=pk, text=text, author_handle=handle, channel_name=channel,
                           platform=platform, posted_at=posted_at, category=(decision or {}).get("category", ""),
                           reasons=list((decision or {}).get("reasons") or []),
                           personal_data=list((decision or {}).get("personal_data") or []),
                           spans=list((decision or {}).get("spans") or []))
            for pk, mention_id, text, handle, channel, platform, posted_at, decision in rows]


def ignored_cases(tenant: Tenant, *, limit: int = IGNORED_PAGE_SIZE) -> QuerySet[Case]:
    """Cases an agent set to `ignored`, newest first (the case_ignored index): recoverable to open."""
    return (Case.objects.filter(tenant=tenant, status=Case.Status.IGNORED).select_related("customer", "channel")
            .defer("channel__credentials").order_by("-id")[:limit])
