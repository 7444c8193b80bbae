"""Every write of channels_ingest: storing mentions, dead letters, polling state."""

import dataclasses
import functools
import hmac
import json
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DataError, IntegrityError, connection, transaction
from django.db.models import Count, F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from sac.bulk import commit_without_waiting_for_disk, of_tenant_by_ids, rows_insert
from sac.models import Tenant
from sac.parsing import without_nul
from sac.queueing import drain_request, failed_held, failed_mark
from sac.services import audit_record

from .connectors import connector_for
from .errors import AuthError, MalformedPayload, PermanentError, QuotaExhausted, TransientError
from .models import (
    ApiUsage,
    ChannelAccount,
    DeadLetter,
    Mention,
    MentionRevision,
    Platform,
    PollRun,
    SentMessage,
    SocialProfile,
    WebhookDelivery,
)
from .signals import mentions_stored
from .types import BadItem, MentionItem, Page, ProfileItem

log = logging.getLogger(__name__)

MAX_PAGES_PER_POLL = 5
# Deliveries one webhook drain processes before it lets other tenants' work go first (sac/queueing.py).
WEBHOOK_DRAIN_SLICE = 20
POLL_LEASE = timedelta(minutes=2)


@dataclass(frozen=True)
class IngestResult:
    stored_ids: list[int]
    duplicates: int
    dead_lettered: int


def dead_letter_record(
    *, tenant: Tenant, channel: ChannelAccount | None, source: str, reason: str, payload: Any
) -> DeadLetter:
    text = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False, default=str)
    log.warning("dead letter tenant=%s channel=%s source=%s: %s", tenant.pk, channel and channel.pk, source, reason)
    return DeadLetter.objects.create(tenant=tenant, channel=channel, source=source, reason=reason, payload=text)


def _profiles_upsert(tenant: Tenant, profiles: list[ProfileItem]) -> dict[str, int]:
    """One upsert for the page's authors (latest handle, name and followers win); external id → profile id."""
    unique = {(p.platform, p.external_id): p for p in profiles}
    rows = [
        {"tenant_id": tenant.pk, "platform": p.platform, "external_id": p.external_id, "handle": p.handle[:120],
         "name": p.name[:200], "followers_count": _followers(p.followers_count), "verified": p.verified,
         "profile_url": p.profile_url[:200]}
        for p in unique.values()
    ]
    returned = rows_insert(SocialProfile, rows, conflict=["tenant_id", "platform", "external_id"],
                           update=["handle", "name", "followers_count", "verified", "profile_url", "updated_at"],
                           returning=["external_id", "id"])
    return dict(returned)


def _own_external_ids(tenant: Tenant, channel: ChannelAccount, external_ids: list[str]) -> set[str]:
    return set(SentMessage.objects.filter(tenant=tenant, channel=channel, external_id__in=external_ids)
               .values_list("external_id", flat=True))


def _changes_apply(tenant: Tenant, channel: ChannelAccount, changes: list[MentionItem], skip_pks: set[int]) -> int:
    """Edits and removals of mentions stored earlier: the text changes, the earlier text is kept as a revision.

    Deliveries come out of order: an edit older than the last one applied is ignored, a removal is final.
    """
    existing = {
        m.external_id: m
        for m in Mention.objects.select_for_update().filter(
            tenant=tenant, channel=channel, external_id__in=[c.external_id for c in changes]
        ).exclude(pk__in=skip_pks)
    }
    applied = 0
    for change in sorted(changes, key=lambda c: c.posted_at):
        mention = existing.get(change.external_id)
        if mention is None or mention.removed_at is not None:
            continue
        if change.action == "edit":
            if (mention.edited_at and change.posted_at <= mention.edited_at) or change.text == mention.text:
                continue
            MentionRevision.objects.create(tenant=tenant, mention=mention, text=mention.text, change="edit",
                                           changed_at=change.posted_at)
            mention.text, mention.edited_at = change.text, change.posted_at
            mention.save(update_fields=["text", "edited_at"])
        else:
            MentionRevision.objects.create(tenant=tenant, mention=mention, text=mention.text, change="remove",
                                           changed_at=change.posted_at)
            mention.removed_at = change.posted_at
            mention.save(update_fields=["removed_at"])
        applied += 1
    return applied


# What PostgreSQL cannot hold: NUL in text and jsonb, and lone UTF-16 surrogates (half of an emoji, left by an API
# that cut a post mid-character; json.loads accepts "\\ud83d" alone, UTF-8 cannot encode it).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# The same as json.dumps (ensure_ascii) writes them, a cheap test of a whole payload before walking it: NUL, a high
# surrogate not followed by a low one, a low one not preceded by a high one (a whole emoji is such a pair).
_UNSTORABLE_ESCAPED = re.compile(
    r"\\u0000|\\ud[89ab][0-9a-f]{2}(?!\\ud[c-f])|(?<!\\ud[89ab][0-9a-f]{2})\\ud[c-f][0-9a-f]{2}", re.IGNORECASE)
_FOLLOWERS_MAX = 2**31 - 1  # a PositiveIntegerField, on PostgreSQL and SQLite alike


def _unstorable_in_payload(dumped: str) -> bool:
    # Substring tests first (C speed): the regular expression runs only on payloads with an escaped NUL or
    # surrogate, most of them whole emoji (bench/ingest.py's payloads: 1.5 µs an item, against 7.8 for the
    # expression on every payload).
    return ("\\u0000" in dumped or "\\ud" in dumped or "\\uD" in dumped) and bool(_UNSTORABLE_ESCAPED.search(dumped))


def _followers(count: int) -> int:
    """No account has more followers than the column holds; a payload that says so is capped, not refused."""
    return min(max(0, count), _FOLLOWERS_MAX)


def _storable_text(text: str) -> str:
    return _SURROGATE.sub("\ufffd", without_nul(text)) if _UNSTORABLE.search(text) else text


def _storable(value: Any) -> Any:
    if isinstance(value, str):
        return _storable_text(value)
    if isinstance(value, dict):
        return {_storable(k): _storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_storable(v) for v in value]
    return value


def _storable_item(item: MentionItem) -> MentionItem:
    """The item with what PostgreSQL cannot hold taken out: NUL dropped, lone surrogates shown as U+FFFD, thread
    references longer than their columns left out (no network's ids are that long: they could never match)."""
    author = item.author
    if author is not None and (_UNSTORABLE.search(author.handle) or _UNSTORABLE.search(author.name)):
        author = dataclasses.replace(author, handle=_storable_text(author.handle), name=_storable_text(author.name))
    refs = {name: "" for name in ("conversation_id", "in_reply_to_external_id")
            if len(getattr(item, name)) > Mention._meta.get_field(name).max_length}
    if author is item.author and not refs and not _UNSTORABLE.search(item.text) \
            and not _unstorable_in_payload(json.dumps(item.raw)):
        return item
    return dataclasses.replace(item, text=_storable_text(item.text), raw=_storable(item.raw), author=author, **refs)


def _item_refusal(item: MentionItem) -> str | None:
    """Why an item cannot be stored at all (an id no network sends: it could neither be kept whole nor matched
    again when redelivered), or None."""
    longest = Mention._meta.get_field("external_id").max_length
    if not item.external_id:
        return "The item has no id."
    if len(item.external_id) > longest:
        return (f"The item's id has {len(item.external_id)} characters; the longest we store is {longest} "
                "(no network sends such ids).")
    longest = SocialProfile._meta.get_field("external_id").max_length
    if item.author is not None and len(item.author.external_id) > longest:
        return (f"The author id has {len(item.author.external_id)} characters; the longest we store is "
                f"{longest} (no network sends such ids).")
    return None


def _refused_by_database(exc: BaseException) -> str:
    first_line = (str(exc).splitlines() or [""])[0][:200]
    return f"The database refused this item ({exc.__class__.__name__}: {first_line})."


def ingest_batch(*, channel: ChannelAccount, page: Page, run: PollRun, source: str = "poll") -> IngestResult:
    """Store one page: profiles upserted, mentions inserted once, cursor advanced, all in one transaction.

    Redelivered pages are harmless: the unique (tenant, channel, external_id) makes the
    INSERT … ON CONFLICT DO NOTHING skip what is already stored. Only rows inserted
    by this call carry this run's id, which is how we know what is new to announce.
    Edits and removals (webhooks) update what is stored; one that arrives before the item
    itself is stored as the item, so the late original is then a duplicate, never a second row.
    Our own posts coming back (the brand's author id, or an id a connector sent) are stored as
    outbound: what SAC sent is done with; what the brand wrote elsewhere (on the network's own app, another tool)
    is announced too, and the inbox files it in its case as our reply, never as a customer's mention.
    """
    tenant = channel.tenant
    now = timezone.now()
    # One item the database cannot hold would fail the whole page, and the same page would come back at every poll
    # (or its webhook delivery be queued again): what can be made storable is, what cannot goes to the dead letters.
    items_in, refused = [], list(page.bad_items)
    for item in page.items:
        why = _item_refusal(item)
        if why is None:
            items_in.append(_storable_item(item))
        else:
            refused.append(BadItem(reason=why, payload=_storable(item.raw)))
    page = dataclasses.replace(page, items=items_in, bad_items=refused)
    with transaction.atomic():
        commit_without_waiting_for_disk()  # the cursor moves with the rows: a lost commit is refetched
        # Serialises ingests of one channel so two batches cannot move its cursor backwards.
        # Only what ingest reads: the whole row would decrypt the channel's credentials on every page.
        locked = (ChannelAccount.objects.select_for_update().only("id", "tenant_id", "cursor", "external_account_id")
                  .get(tenant=tenant, pk=channel.pk))
        by_id: dict[str, MentionItem] = {}
        changes: list[MentionItem] = []
        for item in page.items:
            if item.action != "add":
                changes.append(item)
            if item.action != "add" and item.external_id in by_id:
                continue  # the add of this batch goes in first, the change applies to it below
            by_id[item.external_id] = item
        items = list(by_id.values())
        ours = _own_external_ids(tenant, locked, list(by_id)) if items else set()
        brand_id = locked.external_account_id

        def outbound(i: MentionItem) -> bool:
            return (i.direction == "out" or i.external_id in ours
                    or (i.author is not None and i.author.external_id == brand_id))

        def store(batch: list[MentionItem]) -> tuple[dict[str, int], list[tuple]]:
            profile_ids = _profiles_upsert(tenant, [i.author for i in batch if i.author is not None])
            return profile_ids, rows_insert(
                Mention,
                [
                    {"tenant_id": tenant.pk, "channel_id": locked.pk, "external_id": i.external_id, "kind": i.kind,
                     "text": i.text, "posted_at": i.posted_at, "raw": i.raw, "language": i.language[:8],
                     "conversation_id": i.conversation_id, "in_reply_to_external_id": i.in_reply_to_external_id,
                     "ingest_run_id": run.pk, "permalink": i.permalink[:500],
                     "direction": Mention.Direction.OUTBOUND if outbound(i) else Mention.Direction.INBOUND,
                     "removed_at": i.posted_at if i.action == "remove" else None,
                     "edited_at": i.posted_at if i.action == "edit" else None,
                     # Never triaged: what SAC itself sent coming back (its Reply is in the thread already), or a
                     # removal seen before the item itself. The brand's replies written elsewhere (its own author
                     # id) go to triage, which files them in their case as ours, never as a customer's.
                     "triaged_at": now if i.external_id in ours or i.action == "remove" else None,
                     "author_id": profile_ids.get(i.author.external_id) if i.author else None}
                    for i in batch
                ],
                conflict=["tenant_id", "channel_id", "external_id"],  # already stored: skipped, not returned
                returning=["id", "triaged_at", "external_id"],
            )

        refusals = (DataError, connection.Database.DataError, UnicodeError)
        try:
            with transaction.atomic():  # a savepoint: two round trips a page, so that a refusal can be survived
                profile_ids, inserted = store(items)
        except refusals:
            # A refusal the checks above did not foresee fails the page's statement as a whole: store the items one
            # by one, each in its own savepoint, and dead-letter those the database refuses.
            profile_ids, inserted, kept = {}, [], []
            for item in items:
                try:
                    with transaction.atomic():
                        item_profiles, item_rows = store([item])
                except refusals as exc:
                    page.bad_items.append(BadItem(reason=_refused_by_database(exc), payload=item.raw))
                    continue
                profile_ids.update(item_profiles)
                inserted.extend(item_rows)
                kept.append(item)
            refused_ids = {i.external_id for i in items} - {i.external_id for i in kept}
            items = kept
            changes = [c for c in changes if c.external_id not in refused_ids]
            page.items = [i for i in page.items if i.external_id not in refused_ids]
        stored_ids = [pk for pk, triaged, _ in inserted if triaged is None]
        writers = {profile_ids[i.author.external_id] for i in items
                   if i.kind == Mention.Kind.DIRECT and i.author and i.author.external_id in profile_ids
                   and not outbound(i)}
        if writers:  # someone who writes to the brand privately can be answered privately again
            SocialProfile.objects.filter(tenant=tenant, pk__in=writers, dms_closed_at__isnull=False).update(
                dms_closed_at=None)
        # A row just inserted from a change already holds that change; rows inserted from an add get it applied.
        inserted_now = {pk for pk, _, ext in inserted if by_id[ext].action != "add"}
        updated = _changes_apply(tenant, locked, changes, inserted_now) if changes else 0
        for bad in page.bad_items:
            dead_letter_record(tenant=tenant, channel=locked, source=source, reason=bad.reason, payload=bad.payload)
        fields = ["last_polled_at"]
        if page.cursor is not None:
            locked.cursor = page.cursor
            fields.append("cursor")
        locked.last_polled_at = timezone.now()
        locked.save(update_fields=fields)
        # Items already stored, or repeated within this batch (a post found by mentions and by search).
        duplicates = sum(1 for i in page.items if i.action == "add") - sum(
            1 for _, _, ext in inserted if by_id[ext].action == "add")
        counts = {"fetched": len(page.items) + len(page.bad_items), "stored": len(inserted),
                  "duplicates": max(0, duplicates), "updated": updated, "dead_lettered": len(page.bad_items)}
        PollRun.objects.filter(tenant=tenant, pk=run.pk).update(**{k: F(k) + v for k, v in counts.items()})
        for field, added in counts.items():  # a run has one writer at a time (its poll, or its webhook task)
            setattr(run, field, getattr(run, field) + added)
        if stored_ids:
            transaction.on_commit(
                lambda: mentions_stored.send(sender=None, tenant_id=tenant.pk, mention_ids=stored_ids)
            )
    channel.cursor = locked.cursor
    return IngestResult(stored_ids=stored_ids, duplicates=max(0, duplicates), dead_lettered=len(page.bad_items))


def profile_dms_closed(*, tenant_id: int, profile_id: int, at: datetime) -> None:
    """The network refused a private message to this person: remember it, so the inbox offers a public
    invitation to write privately instead of a DM that would be refused again."""
    SocialProfile.objects.filter(tenant_id=tenant_id, pk=profile_id).update(dms_closed_at=at)


def _quota_state(refusal: str, at: datetime) -> dict[str, Any]:
    """The channel's columns for why the network refuses it for its app's allowance (errors.QuotaExhausted): since
    the first refusal of a run of them ("" : it no longer does)."""
    if not refusal:
        return {"quota_refusal": "", "quota_refused_since": None}
    return {"quota_refusal": refusal[:300], "quota_refused_since": Coalesce(F("quota_refused_since"), Value(at))}


def channel_quota_refused(*, tenant_id: int, channel_id: int, reason: str, at: datetime) -> None:
    """A send the network refused for its app's allowance: the channel says so at once, as a refused poll does (the
    next poll the network serves clears it)."""
    ChannelAccount.objects.filter(tenant_id=tenant_id, pk=channel_id).update(**_quota_state(reason, at))


def _lease_seconds() -> float:
    return getattr(settings, "SAC_POLL_LEASE_SECONDS", POLL_LEASE.total_seconds())


def _lease_take(channel: ChannelAccount, lease: str | None = None) -> bool:
    """A conditional update, so one channel is never polled by two workers at once.

    `lease`: the lease schedule_due_polls took when it queued this poll (its expiry, ISO 8601), which this poll
    takes over; a second delivery of the same task finds the lease renewed and stays out."""
    now = timezone.now()
    free = Q(poll_lease_until__isnull=True) | Q(poll_lease_until__lt=now)
    if lease:
        free |= Q(poll_lease_until=datetime.fromisoformat(lease))
    taken = ChannelAccount.objects.filter(free, tenant=channel.tenant, pk=channel.pk).update(
        poll_lease_until=now + timedelta(seconds=_lease_seconds()))
    return taken == 1


def _poll_finish(channel: ChannelAccount, run: PollRun, *, outcome: str, error: str = "",
                 next_poll_in: timedelta | None = None, status: str | None = None,
                 quota_refusal: str | None = None) -> None:
    """`quota_refusal`: why the network refused the poll for its app's allowance ("" : the poll read, so it no
    longer does; None: the poll says nothing of it)."""
    now = timezone.now()
    with transaction.atomic():
        PollRun.objects.filter(tenant=channel.tenant, pk=run.pk).update(outcome=outcome, error=error,
                                                                        finished_at=now)
        changes: dict[str, Any] = {"poll_lease_until": None}
        if next_poll_in is not None:
            changes["next_poll_at"] = now + next_poll_in
        if status is not None:
            changes["status"] = status
            changes["status_detail"] = error
        if quota_refusal is not None:
            changes.update(_quota_state(quota_refusal, now))
        ChannelAccount.objects.filter(tenant=channel.tenant, pk=channel.pk).update(**changes)
    run.refresh_from_db()


def channel_poll(*, tenant_id: int, channel_id: int, lease: str | None = None) -> PollRun | None:
    """Fetch what is new on one channel and store it. Network calls happen outside any transaction.
    `lease`: given by schedule_due_polls to the poll it queued (see _lease_take)."""
    channel = (
        ChannelAccount.objects.select_related("tenant")
        .filter(tenant_id=tenant_id, pk=channel_id, status=ChannelAccount.Status.ACTIVE)
        .first()
    )
    if channel is None or not _lease_take(channel, lease):
        return None
    reconciling = _webhooks_live(channel)
    run = PollRun.objects.create(tenant=channel.tenant, channel=channel,
                                 source="reconcile" if reconciling else "poll")
    _, paused_until = _budget_slowdown(channel)
    if paused_until is not None:
        # The month's X budget is spent (sends since the last poll count too): every call to X is billed, so none
        # is made until the admin raises the budget or the month turns.
        PollRun.objects.filter(tenant=channel.tenant, pk=run.pk).update(rate_note=_budget_paused_note(paused_until))
        _poll_finish(channel, run, outcome=PollRun.Outcome.OK, next_poll_in=paused_until - timezone.now())
        return run
    slow_down: int | None = None
    rate_budget = ""  # what the network last said is left of its rate budget: the run's record when nothing else is
    notes: list[str] = []  # what the pages had to leave out: the error column of a run that is otherwise OK
    refused = ""  # X refused part of the fetch for its app's allowance (the search, the DMs): see QuotaExhausted
    try:
        connector = connector_for(channel)
        for _ in range(MAX_PAGES_PER_POLL):
            page = connector.fetch_page()
            ingest_batch(channel=channel, page=page, run=run)
            slow_down = page.next_poll_in_seconds
            rate_budget = page.rate_budget or rate_budget
            notes += page.notes
            refused = page.quota_refusal or refused
            if not page.more or slow_down:
                break
    except MalformedPayload as exc:
        # Nothing of this page is usable; keep it whole and try again at the next poll.
        dead_letter_record(tenant=channel.tenant, channel=channel, source="poll", reason=exc.reason,
                           payload=exc.payload)
        PollRun.objects.filter(tenant=channel.tenant, pk=run.pk).update(dead_lettered=run.dead_lettered + 1)
        _poll_finish(channel, run, outcome=PollRun.Outcome.FAILED, error=exc.reason)
    except TransientError as exc:
        backoff = timedelta(seconds=exc.retry_after_seconds or _transient_backoff_seconds(channel, run))
        if exc.retry_after_seconds:
            # X's credits or usage cap spent (QuotaExhausted) is no rate limit: the channel's pages say which.
            PollRun.objects.filter(tenant=channel.tenant, pk=run.pk).update(
                rate_note=_quota_wait_note(exc.retry_after_seconds) if isinstance(exc, QuotaExhausted)
                else f"rate limited: next poll in {exc.retry_after_seconds} s")
        _poll_finish(channel, run, outcome=PollRun.Outcome.FAILED, error=str(exc), next_poll_in=backoff,
                     quota_refusal=str(exc) if isinstance(exc, QuotaExhausted) else None)
    except AuthError as exc:
        _poll_finish(channel, run, outcome=PollRun.Outcome.FAILED, error=str(exc),
                     status=ChannelAccount.Status.NEEDS_REAUTH)
    except PermanentError as exc:
        _poll_finish(channel, run, outcome=PollRun.Outcome.FAILED, error=str(exc),
                     status=ChannelAccount.Status.ERROR)
    except Exception as exc:
        # A bug or a database error: record it and free the channel for the next poll, then let it surface.
        _poll_finish(channel, run, outcome=PollRun.Outcome.FAILED, error=f"{exc.__class__.__name__}: {exc}")
        raise
    else:
        note = "\n".join(dict.fromkeys(notes))
        # The network served the poll: whatever it refused for its allowance is over, unless it refused a part.
        done = functools.partial(_poll_finish, channel, run, outcome=PollRun.Outcome.OK, error=note,
                                 quota_refusal=refused)
        budget_wait, paused_until = _budget_slowdown(channel)
        reconcile_wait = timedelta(seconds=max(settings.SAC_RECONCILE_INTERVAL_SECONDS,
                                               channel.poll_interval_seconds)) if reconciling else None
        if reconcile_wait and reconcile_wait >= max(budget_wait or timedelta(0), timedelta(seconds=slow_down or 0)):
            PollRun.objects.filter(tenant=channel.tenant, pk=run.pk).update(
                rate_note=f"webhooks live: next reconciliation poll in {int(reconcile_wait.total_seconds())} s")
            done(next_poll_in=reconcile_wait)
        elif budget_wait and (not slow_down or budget_wait.total_seconds() > slow_down):
            PollRun.objects.filter(tenant=channel.tenant, pk=run.pk).update(
                rate_note=_budget_paused_note(paused_until) if paused_until
                else f"X budget: next poll in {int(budget_wait.total_seconds())} s")
            done(next_poll_in=budget_wait)
        elif slow_down and slow_down > channel.poll_interval_seconds:
            PollRun.objects.filter(tenant=channel.tenant, pk=run.pk).update(
                rate_note=_quota_wait_note(slow_down) if refused else f"usage high: next poll in {slow_down} s")
            done(next_poll_in=timedelta(seconds=slow_down))
        else:
            if rate_budget:
                PollRun.objects.filter(tenant=channel.tenant, pk=run.pk).update(rate_note=rate_budget[:200])
            done()
    return run


def _quota_wait_note(seconds: int) -> str:
    return f"X quota spent: next try in {seconds} s"


MAX_TRANSIENT_BACKOFF = timedelta(minutes=30)


def _transient_backoff_seconds(channel: ChannelAccount, run: PollRun) -> int:
    """The wait after a timeout or a server error: the channel's interval, doubled for each failed poll just
    before this one (up to MAX_TRANSIENT_BACKOFF), so a network that is down is not hammered every minute while
    one that hiccupped once is polled again at the usual pace. Read from the channel's last poll runs (their
    (tenant, channel, -started_at) index)."""
    earlier = (PollRun.objects.filter(tenant_id=channel.tenant_id, channel=channel, source__in=("poll", "reconcile"))
               .exclude(pk=run.pk).order_by("-started_at").values_list("outcome", flat=True)[:6])
    failed_in_a_row = 0
    for outcome in earlier:
        if outcome != PollRun.Outcome.FAILED:
            break
        failed_in_a_row += 1
    return int(min(channel.poll_interval_seconds * 2**failed_in_a_row, MAX_TRANSIENT_BACKOFF.total_seconds()))


def _webhooks_live(channel: ChannelAccount) -> bool:
    """Webhooks delivered to this channel lately: polling only reconciles what they missed, at a slower pace.

    Webhooks get lost (Meta and X both drop deliveries during incidents and retry only for a while), so a
    channel with webhooks is never left unpolled; it is polled every SAC_RECONCILE_INTERVAL_SECONDS instead of
    every poll_interval_seconds. Read from the webhook batches' poll runs, whose (tenant, channel, -started_at)
    index answers it from the window alone; a channel whose webhooks went quiet is polled at full speed again.
    """
    since = timezone.now() - timedelta(seconds=settings.SAC_WEBHOOK_ACTIVE_SECONDS)
    return PollRun.objects.filter(tenant_id=channel.tenant_id, channel=channel, started_at__gte=since,
                                  source="webhook").exists()


MAX_CONCURRENT_POLLS_PER_TENANT = 4


def schedule_due_polls(*, limit: int = 500, per_tenant: int | None = None) -> list[tuple[int, int, str]]:
    """Claim the channels whose poll is due and push their next_poll_at forward.

    SKIP LOCKED lets several beat-triggered runs (or a slow one overlapping the next)
    share the work without waiting on each other or claiming the same channel.
    Fairness: a tenant gets at most `per_tenant` polls in flight at once, queued or running: each claimed
    channel is leased here, and its poll takes the lease over (a poll that never starts frees it when the lease
    expires). Its other due channels stay due and go first next round, so one tenant's hundred channels in a
    viral crisis never fill the workers while another tenant's one channel waits. A channel whose poll is still
    under way is not claimed again.
    Returns (tenant_id, channel_id, lease) for the caller to enqueue after commit.
    """
    cap = per_tenant or getattr(settings, "SAC_MAX_CONCURRENT_POLLS_PER_TENANT", MAX_CONCURRENT_POLLS_PER_TENANT)
    now = timezone.now()
    with transaction.atomic():
        due = list(
            ChannelAccount.objects.select_for_update(skip_locked=True)
            .filter(Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now), status=ChannelAccount.Status.ACTIVE)
            .filter(Q(poll_lease_until__isnull=True) | Q(poll_lease_until__lt=now))
            .order_by("next_poll_at")
            .values_list("pk", "tenant_id", "poll_interval_seconds")[: limit * 4]
        )
        in_flight: dict[int, int] = dict(
            ChannelAccount.objects.filter(poll_lease_until__gt=now, tenant_id__in={t for _, t, _ in due})
            .values("tenant_id").annotate(n=Count("pk")).values_list("tenant_id", "n")
        )
        claimed: list[tuple[int, int, str]] = []
        lease_until = now + timedelta(seconds=_lease_seconds())
        for pk, tenant_id, interval in due:
            if len(claimed) >= limit or in_flight.get(tenant_id, 0) >= cap:
                continue
            in_flight[tenant_id] = in_flight.get(tenant_id, 0) + 1
            ChannelAccount.objects.filter(tenant_id=tenant_id, pk=pk).update(
                next_poll_at=now + timedelta(seconds=interval), poll_lease_until=lease_until
            )
            claimed.append((tenant_id, pk, lease_until.isoformat()))
    return claimed


def mentions_mark_triaged(*, tenant: Tenant, mention_ids: list[int]) -> int:
    """Called by the inbox inside its triage transaction."""
    # COALESCE rather than `WHERE triaged_at IS NULL`: that predicate matches the partial index of untriaged
    # mentions, which lagging statistics then prefer to the hundred primary-key lookups.
    return of_tenant_by_ids(Mention.objects, tenant.pk).filter(pk__in=mention_ids).update(
        triaged_at=Coalesce(F("triaged_at"), Value(timezone.now()))
    )


@transaction.atomic
def channel_create(*, tenant: Tenant, platform: str, name: str, external_account_id: str, handle: str = "",
                   api_base_url: str = "", credentials: dict[str, str] | None = None,
                   poll_interval_seconds: int = 60, actor: Any = None, search_terms: str = "") -> ChannelAccount:
    channel = ChannelAccount.objects.create(
        tenant=tenant, platform=platform, name=name, external_account_id=external_account_id, handle=handle,
        api_base_url=api_base_url, credentials=credentials or {}, poll_interval_seconds=poll_interval_seconds,
        next_poll_at=timezone.now(), webhook_key=secrets.token_urlsafe(32), search_terms=search_terms,
    )
    audit_record(tenant=tenant, actor=actor, verb="channel.created", obj=channel, data={"platform": platform})
    return channel


class SearchTermsError(ValueError):
    """Search terms X would refuse; the message says why, in the reader's language."""


def search_terms_clean(text: str, *, handle: str) -> str:
    """The terms as stored (see channels_ingest.x.query); SearchTermsError when their query is longer than X takes."""
    from django.utils.translation import gettext as _

    from .x.query import QUERY_MAX_CHARS, search_query, search_terms_parse, search_terms_text

    cleaned = search_terms_text(search_terms_parse(text))
    stored_max = ChannelAccount._meta.get_field("search_terms").max_length
    if len(cleaned) > stored_max:
        raise SearchTermsError(_("Search terms are at most %(max)s characters.") % {"max": stored_max})
    length = len(search_query(cleaned, handle))
    if length > QUERY_MAX_CHARS:
        raise SearchTermsError(_("These terms make an X search of %(length)s characters; X takes at most %(max)s. "
                                 "Use fewer or shorter terms.") % {"length": length, "max": QUERY_MAX_CHARS})
    return cleaned


@transaction.atomic
def channel_search_terms_set(*, tenant: Tenant, channel: ChannelAccount, search_terms: str, actor: Any = None) -> str:
    """Change what the channel searches on X besides its @mentions. The search starts afresh from the newest posts
    (its sub-cursor is dropped: the old query's since_id would skip the new terms' posts of the last minutes, and
    there is no reading back through a week of history either). Returns the terms as stored."""
    locked = (ChannelAccount.objects.select_for_update().only("id", "tenant_id", "cursor", "handle", "search_terms")
              .get(tenant=tenant, pk=channel.pk))
    cleaned = search_terms_clean(search_terms, handle=locked.handle)
    if cleaned == locked.search_terms:
        return cleaned
    cursor = {key: value for key, value in (locked.cursor or {}).items() if key != "search"}
    ChannelAccount.objects.filter(tenant=tenant, pk=channel.pk).update(search_terms=cleaned, cursor=cursor)
    channel.search_terms, channel.cursor = cleaned, cursor
    audit_record(tenant=tenant, actor=actor, verb="channel.search_terms_set", obj=channel,
                 data={"before": locked.search_terms, "after": cleaned})
    return cleaned


# ---------------------------------------------------------------- outbound bookkeeping (called by connectors)

def private_reply_reserve(*, channel: ChannelAccount, comment_id: str, permalink: str) -> int | None:
    """Claim the one private reply a comment allows, before the network call. None when it is already taken."""
    try:
        with transaction.atomic():
            row = SentMessage.objects.create(tenant_id=channel.tenant_id, channel=channel, kind="private_reply",
                                             in_reply_to_external_id=comment_id, private_reply_to_comment=comment_id,
                                             comment_permalink=permalink[:500])
    except IntegrityError:
        return None
    return row.pk


def private_reply_release(*, channel: ChannelAccount, reservation_id: int) -> None:
    """The network refused the private reply (nothing was sent): the comment may be answered privately again."""
    SentMessage.objects.filter(tenant_id=channel.tenant_id, channel=channel, pk=reservation_id,
                               external_id="").delete()


def sent_message_record(*, channel: ChannelAccount, external_id: str, kind: str, in_reply_to: str = "",
                        reservation_id: int | None = None) -> SentMessage:
    """Remember what we sent, so the same post coming back from a poll or webhook is known as ours."""
    with transaction.atomic():
        if reservation_id is not None:
            SentMessage.objects.filter(tenant_id=channel.tenant_id, channel=channel, pk=reservation_id).update(
                external_id=external_id)
            sent = SentMessage.objects.get(tenant_id=channel.tenant_id, pk=reservation_id)
        else:
            sent = SentMessage.objects.create(tenant_id=channel.tenant_id, channel=channel, external_id=external_id,
                                              kind=kind, in_reply_to_external_id=in_reply_to)
        # Already stored (the webhook beat the API's answer): it is ours, not a customer's.
        Mention.objects.filter(tenant_id=channel.tenant_id, channel=channel, external_id=external_id).update(
            direction=Mention.Direction.OUTBOUND)
    return sent


# ---------------------------------------------------------------- webhooks

def webhook_delivery_store(*, channel: ChannelAccount, body: bytes) -> WebhookDelivery:
    """Keep the verified body as received; processing happens in a task so the network gets its 200 fast."""
    from . import tasks

    def enqueue() -> None:
        # Not a message per delivery: the tenant's drain (one waiting at most) takes its backlog oldest first.
        # The delivery is stored, so with the broker down the network still gets its 200 (a 500 would only make
        # it retry); schedule_due_polls asks for the drain from the database once the broker is back.
        drain_request(tasks.webhook_deliveries_drain, channel.tenant_id, kind="webhooks")

    # One INSERT in autocommit: committed (synchronously: the 200 promises the network we have it) in a single
    # round trip, not BEGIN, INSERT, COMMIT. Inside a caller's transaction it joins it, and so does on_commit.
    delivery = WebhookDelivery.objects.create(tenant_id=channel.tenant_id, channel=channel, body=body)
    transaction.on_commit(enqueue)
    return delivery


def _webhook_secret(channel: ChannelAccount) -> str:
    """The secret the channel's own endpoint verifies deliveries with (webhooks.py asks this too)."""
    from .facebook import webhook as meta_webhook
    from .x import webhook as x_webhook

    module = meta_webhook if channel.platform in meta_webhook.OBJECTS else x_webhook
    return module.verifying_secret(channel.credentials or {})


def channels_verified_by(platforms: tuple[str, ...], account_ids: list[str],
                         secret: str) -> dict[str, list[ChannelAccount]]:
    """For each account id, the channels (of any tenant, oldest first) of that account on one of `platforms` whose
    own webhook endpoint verifies deliveries with `secret`: the channels a delivery signed with it may be handed to.

    Meta and X send every event of an app to the one callback URL the app has, so a delivery signed with the
    installation's shared secret can carry another tenant's page or user. This is the one lookup across tenants on
    purpose (like the webhook key lookup): the delivery names the account, and the secret proves the sender could
    have written to that channel's own URL.
    """
    ids = list(dict.fromkeys(a for a in account_ids if a))
    found: dict[str, list[ChannelAccount]] = {}
    if not secret or not ids:
        return found
    for channel in (ChannelAccount.objects.select_related("tenant")
                    .filter(platform__in=platforms, external_account_id__in=ids).order_by("pk")):
        if hmac.compare_digest(_webhook_secret(channel).encode(), secret.encode()):
            found.setdefault(channel.external_account_id, []).append(channel)
    return found


def _webhook_route_targets(channel: ChannelAccount, account_id: str) -> list[ChannelAccount]:
    """The other channels a delivery to `channel` may hand `account_id`'s events to (channels_verified_by): same
    platform, that account, the secret `channel`'s own endpoint verified the delivery with."""
    targets = channels_verified_by((channel.platform,), [account_id], _webhook_secret(channel))
    return [c for c in targets.get(account_id, []) if c.pk != channel.pk]


def _unrouted(channel: ChannelAccount, account_id: str, summary: dict[str, Any]) -> BadItem:
    log.warning("webhook delivery to tenant=%s channel=%s carries %s events for account %r, which no %s channel "
                "verified by the same secret has; only its metadata is kept", channel.tenant_id, channel.pk,
                summary.get("events"), account_id, channel.platform)
    return BadItem(reason=f"webhook entry for account {account_id!r} arrived that no channel on this installation "
                          f"(with this app) has; only its metadata was kept", payload=summary)


def _webhook_route(channel: ChannelAccount, body: bytes) -> tuple[bytes | None, list[BadItem]]:
    """Hand other accounts' events to their own channels; (what is left for `channel`, metadata dead letters).

    Each routed part becomes a WebhookDelivery of its channel (its tenant, the same envelope shape) that its own
    task processes like any delivery. Nothing of an account no channel has is kept but its metadata: the
    receiving tenant must never hold another's customers.
    """
    from .facebook import webhook as meta_webhook
    from .x import webhook as x_webhook

    bad: list[BadItem] = []
    if channel.platform in meta_webhook.OBJECTS:
        obj = meta_webhook.OBJECTS[channel.platform]
        own, foreign = meta_webhook.entries_split(body, expected_object=obj, account_id=channel.external_account_id)
        for account_id, entries in foreign.items():
            targets = _webhook_route_targets(channel, account_id)
            for target in targets:
                webhook_delivery_store(channel=target, body=meta_webhook.envelope_body(obj, entries))
            if not targets:
                bad += [_unrouted(channel, account_id, meta_webhook.entry_summary(e)) for e in entries]
        return own, bad
    account_id = x_webhook.for_user(body)
    if account_id is None or account_id == channel.external_account_id:
        return body, bad
    targets = _webhook_route_targets(channel, account_id)
    for target in targets:
        webhook_delivery_store(channel=target, body=body)  # one delivery is for one user: it goes whole
    if not targets:
        bad.append(_unrouted(channel, account_id, x_webhook.delivery_summary(body)))
    return None, bad


def _webhook_secret_shared(channel: ChannelAccount) -> bool:
    """Whether a channel of another tenant verifies its deliveries with the same secret as `channel`."""
    secret = _webhook_secret(channel)
    # Across tenants on purpose: only the secrets are compared, nothing of those channels is read out.
    others = (ChannelAccount.objects.filter(platform=channel.platform).exclude(tenant_id=channel.tenant_id)
              .only("id", "platform", "credentials"))
    return any(hmac.compare_digest(_webhook_secret(c).encode(), secret.encode()) for c in others.iterator())


WEBHOOK_PREFIX_KEPT = 100_000  # bytes, as load_envelope keeps of a body that does not parse


def webhook_oversize_record(*, channel: ChannelAccount, size: int, limit: int, prefix: bytes) -> DeadLetter:
    """A correctly signed body too big to process: a dead letter with the reason, never dropped.

    The prefix is kept (bounded) unless the secret that verified it is one other tenants' channels share (the
    installation's app): then the body may be any of their pages' events and cannot be split unread, so only
    its size is kept, never a stranger's customers in this tenant's dead letters.
    """
    reason = f"signed webhook body of {size} bytes is larger than the {limit} bytes we process"
    if _webhook_secret_shared(channel):
        reason += "; the app secret is shared with other tenants' channels, so its content was not kept"
        payload = json.dumps({"bytes": size})
    else:
        payload = without_nul(prefix[:WEBHOOK_PREFIX_KEPT].decode("utf-8", "replace"))
    return dead_letter_record(tenant=channel.tenant, channel=channel, source="webhook-body", reason=reason,
                              payload=payload)


def _parse_delivery(channel: ChannelAccount, body: bytes) -> Page:
    if channel.platform == "facebook":
        from .facebook.webhook import parse_delivery

        return parse_delivery(body, page_id=channel.external_account_id)
    if channel.platform == "instagram":
        from .instagram.webhook import parse_delivery as parse_ig

        return parse_ig(body, account_id=channel.external_account_id)
    from .x.webhook import parse_delivery as parse_x

    return parse_x(channel.platform, body, brand_id=channel.external_account_id)


def webhook_delivery_process(*, tenant_id: int, delivery_id: int) -> PollRun | None:
    """Parse a stored delivery and ingest it through ingest_batch (cursor untouched). Runs once per delivery."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .select_related("channel__tenant")
            .filter(tenant_id=tenant_id, pk=delivery_id, processed_at__isnull=True)
            .first()
        )
        if delivery is None:
            return None
        channel = delivery.channel
        run = PollRun.objects.create(tenant_id=tenant_id, channel=channel, source="webhook")
        # Routed before parsing, so another account's events are never parsed, stored or dead-lettered here.
        raw = bytes(delivery.body)
        body, unrouted = _webhook_route(channel, raw)
        if body != raw:
            # Their part now lives with their channel (or nowhere): this tenant's row keeps only its own.
            WebhookDelivery.objects.filter(tenant_id=tenant_id, pk=delivery.pk).update(body=body or b"")
        try:
            page = _parse_delivery(channel, body) if body is not None else Page(items=[], cursor=None)
        except SoftTimeLimitExceeded:
            raise  # out of time, not a parser bug: the delivery stays unprocessed for the next drain
        except Exception as exc:
            # A parser bug on an odd payload must not retry the same delivery forever: keep it, move on.
            reason = exc.reason if isinstance(exc, MalformedPayload) else f"{exc.__class__.__name__}: {exc}"
            payload = exc.payload if isinstance(exc, MalformedPayload) else (body or b"").decode("utf-8", "replace")
            dead_letter_record(tenant=channel.tenant, channel=channel, source="webhook-body", reason=reason,
                               payload=without_nul(payload))
            for bad in unrouted:
                dead_letter_record(tenant=channel.tenant, channel=channel, source="webhook", reason=bad.reason,
                                   payload=bad.payload)
            PollRun.objects.filter(tenant_id=tenant_id, pk=run.pk).update(
                outcome=PollRun.Outcome.FAILED, error=reason, dead_lettered=1 + len(unrouted),
                finished_at=timezone.now())
            WebhookDelivery.objects.filter(tenant_id=tenant_id, pk=delivery.pk).update(
                processed_at=timezone.now(), error=reason)
            return run
        page.bad_items += unrouted
        if body is not None and channel.platform in (Platform.X, Platform.SIMULATOR):
            _x_webhook_usage_add(channel, body)
        ingest_batch(channel=channel, page=page, run=run, source="webhook")
        PollRun.objects.filter(tenant_id=tenant_id, pk=run.pk).update(outcome=PollRun.Outcome.OK,
                                                                     finished_at=timezone.now())
        WebhookDelivery.objects.filter(tenant_id=tenant_id, pk=delivery.pk).update(processed_at=timezone.now())
    run.refresh_from_db()
    return run


def webhook_deliveries_drain(*, tenant_id: int, limit: int = WEBHOOK_DRAIN_SLICE) -> bool:
    """Process the tenant's oldest unprocessed deliveries, up to `limit`; whether its drain should run again.

    A delivery that fails (its database statement, not its content: a parser error is a dead letter already)
    is logged, held out of the next slices for a while (sac.queueing.failed_mark) and left for the sweep, and the
    rest go on, so deliveries that keep failing never hold back the tenant's newer ones. The drain asks to run
    again only after a full slice that got somewhere, never in a loop over deliveries that keep failing.
    """
    held = failed_held("webhooks", tenant_id)
    pending = list(WebhookDelivery.objects.filter(tenant_id=tenant_id, processed_at__isnull=True)
                   .exclude(pk__in=held).order_by("received_at", "pk").values_list("pk", flat=True)[:limit])
    done = 0
    for delivery_id in pending:
        try:
            webhook_delivery_process(tenant_id=tenant_id, delivery_id=delivery_id)
        except SoftTimeLimitExceeded:
            raise  # the task's time is up: stop here, the rest waits for the next drain
        except Exception:
            log.exception("webhook delivery %s of tenant %s failed; left for the sweep", delivery_id, tenant_id)
            failed_mark("webhooks", tenant_id, [delivery_id])
        else:
            done += 1
    return len(pending) == limit and done > 0


# ---------------------------------------------------------------- dead letters

class ReplayError(Exception):
    """A dead letter that cannot be replayed (the payload still does not parse, or it is not replayable)."""


class StillUnreadable(ReplayError):
    """The parser that dead-lettered the payload still refuses it; `reason` is what it says now."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"Still unreadable: {reason}")
        self.reason = reason


# What webhook routing keeps of another account's entry or delivery (facebook.webhook.entry_summary,
# x.webhook.delivery_summary): who and when, never the text, so there is nothing to replay.
_SUMMARY_KEYS = frozenset({"account_id", "time", "events", "fields"})


def _one_item_page(items: list[MentionItem], bad: list[BadItem]) -> Page:
    return Page(items=items, bad_items=bad, cursor=None)


def _meta_webhook_body(channel: ChannelAccount, payload: Any) -> bytes:
    """A Meta webhook item dead letter put back in a one-entry delivery, for the webhook parser that refused it.

    facebook.webhook.collect dead-letters the change wrapper ({field, value}), the messaging event, or the whole
    entry. An Instagram change value still carries its entry's time as `_entry_time` (set before collect runs).
    """
    account = channel.external_account_id
    if isinstance(payload, dict) and "field" in payload:
        entry: Any = {"id": account, "changes": [payload]}
    elif not isinstance(payload, dict) or "changes" in payload or "messaging" in payload:
        entry = payload  # a whole entry (or one that was not even an object): the parser says again what it is
    # A change's value alone is what ingest_batch keeps of an item the database refused (the item's raw).
    elif channel.platform == "instagram":
        entry = {"id": account, "changes": [{"field": "comments", "value": payload}]}
    elif "item" in payload and "verb" in payload:
        entry = {"id": account, "changes": [{"field": "feed", "value": payload}]}
    else:
        entry = {"id": account, "messaging": [payload]}
    obj = "page" if channel.platform == "facebook" else "instagram"
    return json.dumps({"object": obj, "entry": [entry]}, ensure_ascii=False).encode()


def _x_webhook_body(channel: ChannelAccount, payload: Any) -> bytes:
    """An Account Activity event dead letter put back in its list of a one-event delivery (x.webhook)."""
    if isinstance(payload, dict) and ("message_create" in payload or payload.get("type") == "message_create"):
        key = "direct_message_events"  # the delivery's `users` map was not kept: the author is known by id only
    elif isinstance(payload, dict) and "status" in payload and "timestamp_ms" in payload:
        key = "tweet_delete_events"
    else:
        key = "tweet_create_events"  # a v1.1 status
    return json.dumps({"for_user_id": channel.external_account_id, key: [payload]}, ensure_ascii=False).encode()


def _x_known_authors(channel: ChannelAccount, tweet: Any) -> list[dict[str, Any]]:
    """A polled tweet's author came in the page's includes.users, which the dead letter does not hold: the profile
    stored for that id (from an earlier poll) stands in, so the replayed mention still shows who wrote it."""
    author_id = str(tweet.get("author_id") or "") if isinstance(tweet, dict) else ""
    if not author_id:
        return []
    known = SocialProfile.objects.filter(tenant_id=channel.tenant_id, platform=channel.platform,
                                         external_id=author_id).first()
    if known is None:
        return [{"id": author_id}]
    return [{"id": author_id, "username": known.handle, "name": known.name, "verified": known.verified,
             "public_metrics": {"followers_count": known.followers_count}}]


def _poll_item_page(channel: ChannelAccount, payload: Any) -> Page:
    """A polled item dead letter through the polling parser that refused it, as a one-item list of its API."""
    platform, account = channel.platform, channel.external_account_id
    fields = payload if isinstance(payload, dict) else {}
    if platform in ("x", "simulator"):
        from .x import parse as x

        if "event_type" in fields or "dm_conversation_id" in fields:  # GET /2/dm_events
            items, bad, _ = x.parse_dm_page(platform, {"data": [payload]}, brand_id=account)
            return _one_item_page(items, bad)
        body = {"data": [payload], "meta": {}, "includes": {"users": _x_known_authors(channel, payload)}}
        return x.parse_mentions_page(platform, body, cursor={}, follow_pages=False)
    if platform == "facebook":
        from .facebook import parse as fb

        item_id = str(fields.get("id") or "")
        if "messages" in fields:  # a conversation (the only thing dead-lettered whole is one without an id)
            return _one_item_page(*fb.parse_conversations({"data": [payload]}, page_id=account))
        if item_id.startswith(f"{account}_"):  # a post: "{page-id}_{post-id}"; its comments come with it
            items, bad, _ = fb.parse_feed({"data": [payload]}, page_id=account)
            return _one_item_page(items, bad)
        if "to" in fields:  # a Messenger message (MESSAGE_FIELDS asks for `to`; comments have none)
            # Its conversation's id was on the page around it, not in the message: the thread is the sender's.
            sender = str((fields.get("from") or {}).get("id") or "") if isinstance(fields.get("from"), dict) else ""
            wrapper = {"id": f"psid:{sender}", "messages": {"data": [payload]}}
            return _one_item_page(*fb.parse_conversations({"data": [wrapper]}, page_id=account))
        # A comment id is "{post-id}_{comment-id}" and its post's "{page-id}_{post-id}" (the recorded feed
        # change in ../shared/fixtures/facebook/webhooks/feed_webhook_changes.json shows both).
        post_id = f"{account}_{item_id.split('_')[0]}" if "_" in item_id else ""
        return _one_item_page(*fb.parse_comments({"data": [payload]}, page_id=account, post_id=post_id))
    from .instagram import parse as ig

    if "text" not in fields and ({"comments", "caption", "permalink"} & fields.keys()):  # a media
        return _one_item_page(*ig.parse_media_page({"data": [payload]}, account_id=account,
                                                   brand_username=channel.handle))
    # The comment's media id was on the page around it; a reply still names its parent.
    return _one_item_page(*ig.parse_comments({"data": [payload]}, account_id=account, media_id="",
                                             brand_username=channel.handle))


def _replay_page(channel: ChannelAccount, letter: DeadLetter) -> Page:
    """The letter re-parsed by the parser that dead-lettered it: `source` says whether a poll or a webhook
    refused it (webhook-body: the whole delivery), the payload's shape which item of that API it is."""
    if letter.source == "webhook-body":
        page = _parse_delivery(channel, letter.payload.encode())
        if page.bad_items and not page.items:
            raise StillUnreadable(page.bad_items[0].reason)
        # Events of the body that still do not parse become letters of their own (ingest_batch, source
        # "webhook", replayable one by one), so one bad event no longer holds back the rest of the delivery.
        return page
    try:
        payload = json.loads(letter.payload)
    except ValueError as exc:
        raise ReplayError("The stored payload is not JSON; the next poll fetches that page again.") from exc
    if isinstance(payload, dict) and payload.keys() == _SUMMARY_KEYS:
        raise ReplayError("Another account's event: only who and when were kept, there is nothing to replay.")
    if letter.source == "webhook":
        if channel.platform in ("facebook", "instagram"):
            body = _meta_webhook_body(channel, payload)
        else:
            body = _x_webhook_body(channel, payload)
        page = _parse_delivery(channel, body)
    elif letter.source == "poll":
        page = _poll_item_page(channel, payload)
    else:
        raise ReplayError(f"Dead letters from {letter.source!r} cannot be replayed.")
    if page.bad_items:
        raise StillUnreadable(page.bad_items[0].reason)
    page.cursor = None  # a replay never moves the channel's cursor
    return page


def _replay_load(tenant: Tenant, dead_letter_id: int) -> tuple[DeadLetter, ChannelAccount, Page]:
    letter = DeadLetter.objects.select_related("channel").get(tenant=tenant, pk=dead_letter_id,
                                                               resolved_at__isnull=True)
    if letter.channel is None:
        raise ReplayError("The channel of this dead letter was removed.")
    channel = ChannelAccount.objects.select_related("tenant").get(tenant=tenant, pk=letter.channel_id)
    try:
        return letter, channel, _replay_page(channel, letter)
    except MalformedPayload as exc:
        raise StillUnreadable(exc.reason) from exc


def dead_letter_replay_preview(*, tenant: Tenant, dead_letter_id: int) -> int:
    """How many items a replay would hand to ingest now, storing nothing (replay_dead_letters --dry-run).
    Raises as dead_letter_replay does."""
    return len(_replay_load(tenant, dead_letter_id)[2].items)


def dead_letter_replay(*, tenant: Tenant, dead_letter_id: int, actor: Any = None) -> IngestResult:
    """Re-process one dead letter after a fix; stored once however often it is replayed.

    DeadLetter.DoesNotExist: not this tenant's, or replayed already. StillUnreadable: the parser still refuses it
    (the message says why now); the letter stays open as it was, its first reason kept (an oversize body's
    "too big" says more than the "not JSON" its kept prefix gives on a second look).
    """
    letter, channel, page = _replay_load(tenant, dead_letter_id)
    with transaction.atomic():
        # Claimed first: a second replay of the same letter (a double click, two commands at once) waits on this
        # row, then finds it replayed and stores nothing.
        claimed = DeadLetter.objects.filter(tenant=tenant, pk=letter.pk, resolved_at__isnull=True).update(
            resolved_at=timezone.now())
        if not claimed:
            raise DeadLetter.DoesNotExist(f"Dead letter {letter.pk} was replayed meanwhile.")
        run = PollRun.objects.create(tenant=tenant, channel=channel, source="replay")
        result = ingest_batch(channel=channel, page=page, run=run,
                              source="webhook" if letter.source == "webhook-body" else "replay")
        if result.dead_lettered and letter.source != "webhook-body":
            # The database refused the item again (ingest_batch dead-lettered it anew): rolled back, so this letter
            # stays open as it was instead of being closed in favour of a copy of itself.
            again = (DeadLetter.objects.filter(tenant=tenant, channel=channel, source="replay")
                     .order_by("-pk").values_list("reason", flat=True).first())
            raise StillUnreadable(again or "the database refused the item")
        PollRun.objects.filter(tenant=tenant, pk=run.pk).update(outcome=PollRun.Outcome.OK,
                                                                finished_at=timezone.now())
        audit_record(tenant=tenant, actor=actor, verb="dead_letter.replayed", obj=channel,
                     data={"dead_letter": letter.pk, "stored": len(result.stored_ids)})
    return result


# ---------------------------------------------------------------- X pay-per-use

X_PRICES_USD = {"posts_read": Decimal("0.005"), "dm_events_read": Decimal("0.010"), "created": Decimal("0.015")}
MAX_BUDGET_SLOWDOWN = timedelta(hours=1)


def api_usage_add(*, channel: ChannelAccount, posts_read: int = 0, dm_events_read: int = 0, created: int = 0) -> None:
    """Count billable X calls as they happen (billed by X whether or not we store the result)."""
    if not (posts_read or dm_events_read or created):
        return
    month = timezone.now().date().replace(day=1)
    with transaction.atomic():
        ApiUsage.objects.get_or_create(tenant_id=channel.tenant_id, channel=channel, month=month)
        ApiUsage.objects.filter(tenant_id=channel.tenant_id, channel=channel, month=month).update(
            posts_read=F("posts_read") + posts_read, dm_events_read=F("dm_events_read") + dm_events_read,
            created=F("created") + created)


def _x_webhook_usage_add(channel: ChannelAccount, body: bytes) -> None:
    """Posts and DM events X pushed to us: its Account Activity reference says the posts it delivers count
    towards the app's Post reads, so they are billed like polled ones (a DM event like a polled DM event, the
    cautious reading). Counted per event delivered, readable or not, from the delivery itself; a removal notice
    (`tweet_delete_events`) is not a post read."""
    from .x.webhook import event_counts

    counts = event_counts(body)
    api_usage_add(channel=channel, posts_read=counts.get("tweet_create_events", 0),
                  dm_events_read=counts.get("direct_message_events", 0))


def _budget_slowdown(channel: ChannelAccount) -> tuple[timedelta | None, datetime | None]:
    """(how much later to poll, the instant polling resumes if the month's budget is spent), from the X budget.

    Spent: no poll until the month turns (or the admin raises the budget, see channel_budget_set): every call
    to X is billed, so slowing down alone would keep spending past the ceiling. Below it: the interval is
    stretched by how far this month's pace overshoots what is left of the budget, at most MAX_BUDGET_SLOWDOWN so
    the channel is still read hourly until the budget runs out. Webhooks are not polls and keep delivering.
    """
    from .selectors import usage_summary

    if channel.monthly_budget_usd is None:
        return None, None
    now = timezone.now()
    summary = usage_summary(channel.tenant, channel, now)
    if summary.paused_until is not None:
        return summary.paused_until - now, summary.paused_until
    if summary.budget_pace is None:
        return None, None
    return min(timedelta(seconds=channel.poll_interval_seconds * summary.budget_pace), MAX_BUDGET_SLOWDOWN), None


def _budget_paused_note(until: datetime) -> str:
    # Stored in English, shown translated by channels_ingest.texts.
    return f"X budget spent: polling paused until {until:%Y-%m-%d %H:%M} UTC"  # usage_summary gives UTC


@transaction.atomic
def channel_budget_set(*, tenant: Tenant, channel: ChannelAccount, monthly_budget_usd: Decimal | None,
                       actor: Any = None) -> None:
    """Set (or clear, None) the channel's monthly X budget. Raising it above the month's spend, or clearing it,
    ends a pause at once: the next poll is due now instead of when the month turns."""
    from .selectors import usage_summary

    locked = (ChannelAccount.objects.select_for_update().only("id", "tenant_id", "monthly_budget_usd")
              .get(tenant=tenant, pk=channel.pk))
    spend = usage_summary(tenant, locked).spend_usd
    was_spent = locked.monthly_budget_usd is not None and spend >= locked.monthly_budget_usd
    spent_now = monthly_budget_usd is not None and spend >= monthly_budget_usd
    changes: dict[str, Any] = {"monthly_budget_usd": monthly_budget_usd}
    if was_spent and not spent_now:
        changes["next_poll_at"] = timezone.now()
    ChannelAccount.objects.filter(tenant=tenant, pk=channel.pk).update(**changes)
    channel.monthly_budget_usd = monthly_budget_usd
    audit_record(tenant=tenant, actor=actor, verb="channel.budget_set", obj=channel,
                 data={"monthly_budget_usd": str(monthly_budget_usd) if monthly_budget_usd is not None else None,
                       "spend_usd": str(spend), "resumed": was_spent and not spent_now})
