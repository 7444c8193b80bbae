"""Every write of channels_ingest: storing mentions, dead letters, polling state."""

import dataclasses
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from sac.bulk import commit_without_waiting_for_disk, of_tenant_by_ids, rows_insert
from sac.models import Tenant
from sac.parsing import without_nul
from sac.queueing import delay_or_leave_to_sweep
from sac.services import audit_record

from .connectors import connector_for
from .errors import AuthError, MalformedPayload, PermanentError, TransientError
from .models import (
    ApiUsage,
    ChannelAccount,
    DeadLetter,
    Mention,
    MentionRevision,
    PollRun,
    SentMessage,
    SocialProfile,
    WebhookDelivery,
)
from .signals import mentions_stored
from .types import MentionItem, Page, ProfileItem

log = logging.getLogger(__name__)

MAX_PAGES_PER_POLL = 5
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
         "name": p.name[:200], "followers_count": max(0, p.followers_count), "verified": p.verified,
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


def _strip_nul(value: Any) -> Any:
    if isinstance(value, str):
        return without_nul(value)
    if isinstance(value, dict):
        return {_strip_nul(k): _strip_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_nul(v) for v in value]
    return value


def _without_nul(item: MentionItem) -> MentionItem:
    if "\x00" not in item.text and "\\u0000" not in json.dumps(item.raw):
        return item
    return dataclasses.replace(item, text=without_nul(item.text), raw=_strip_nul(item.raw))


def ingest_batch(*, channel: ChannelAccount, page: Page, run: PollRun, source: str = "poll") -> IngestResult:
    """Store one page: profiles upserted, mentions inserted once, cursor advanced, all in one transaction.

    Redelivered pages are harmless: the unique (tenant, channel, external_id) makes the
    INSERT … ON CONFLICT DO NOTHING skip what is already stored. Only rows inserted
    by this call carry this run's id, which is how we know what is new to announce.
    Edits and removals (webhooks) update what is stored; one that arrives before the item
    itself is stored as the item, so the late original is then a duplicate, never a second row.
    Our own posts coming back (the brand's author id, or an id a connector sent) are stored as
    outbound and never announced as customer mentions.
    """
    tenant = channel.tenant
    now = timezone.now()
    # PostgreSQL text and jsonb cannot hold NUL: one such character would fail the whole page forever.
    page = dataclasses.replace(page, items=[_without_nul(i) for i in page.items])
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

        profile_ids = _profiles_upsert(tenant, [i.author for i in items if i.author is not None])
        inserted = rows_insert(
            Mention,
            [
                {"tenant_id": tenant.pk, "channel_id": locked.pk, "external_id": i.external_id, "kind": i.kind,
                 "text": i.text, "posted_at": i.posted_at, "raw": i.raw, "language": i.language[:8],
                 "conversation_id": i.conversation_id, "in_reply_to_external_id": i.in_reply_to_external_id,
                 "ingest_run_id": run.pk, "permalink": i.permalink[:500],
                 "direction": Mention.Direction.OUTBOUND if outbound(i) else Mention.Direction.INBOUND,
                 "removed_at": i.posted_at if i.action == "remove" else None,
                 "edited_at": i.posted_at if i.action == "edit" else None,
                 # Never triaged: ours, or a removal seen before the item itself.
                 "triaged_at": now if outbound(i) or i.action == "remove" else None,
                 "author_id": profile_ids.get(i.author.external_id) if i.author else None}
                for i in items
            ],
            conflict=["tenant_id", "channel_id", "external_id"],  # already stored: skipped, not returned
            returning=["id", "triaged_at", "external_id"],
        )
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


def _lease_take(channel: ChannelAccount) -> bool:
    """A conditional update, so one channel is never polled by two workers at once."""
    now = timezone.now()
    taken = ChannelAccount.objects.filter(
        Q(poll_lease_until__isnull=True) | Q(poll_lease_until__lt=now), tenant=channel.tenant, pk=channel.pk
    ).update(poll_lease_until=now + timedelta(seconds=getattr(settings, "SAC_POLL_LEASE_SECONDS",
                                                             POLL_LEASE.total_seconds())))
    return taken == 1


def _poll_finish(channel: ChannelAccount, run: PollRun, *, outcome: str, error: str = "",
                 next_poll_in: timedelta | None = None, status: str | None = None) -> None:
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
        ChannelAccount.objects.filter(tenant=channel.tenant, pk=channel.pk).update(**changes)
    run.refresh_from_db()


def channel_poll(*, tenant_id: int, channel_id: int) -> PollRun | None:
    """Fetch what is new on one channel and store it. Network calls happen outside any transaction."""
    channel = (
        ChannelAccount.objects.select_related("tenant")
        .filter(tenant_id=tenant_id, pk=channel_id, status=ChannelAccount.Status.ACTIVE)
        .first()
    )
    if channel is None or not _lease_take(channel):
        return None
    reconciling = _webhooks_live(channel)
    run = PollRun.objects.create(tenant=channel.tenant, channel=channel,
                                 source="reconcile" if reconciling else "poll")
    slow_down: int | None = None
    try:
        connector = connector_for(channel)
        for _ in range(MAX_PAGES_PER_POLL):
            page = connector.fetch_page()
            ingest_batch(channel=channel, page=page, run=run)
            slow_down = page.next_poll_in_seconds
            if not page.more or slow_down:
                break
    except MalformedPayload as exc:
        # Nothing of this page is usable; keep it whole and try again at the next poll.
        dead_letter_record(tenant=channel.tenant, channel=channel, source="poll", reason=exc.reason,
                           payload=exc.payload)
        PollRun.objects.filter(tenant=channel.tenant, pk=run.pk).update(dead_lettered=run.dead_lettered + 1)
        _poll_finish(channel, run, outcome=PollRun.Outcome.FAILED, error=exc.reason)
    except TransientError as exc:
        backoff = timedelta(seconds=exc.retry_after_seconds or channel.poll_interval_seconds)
        if exc.retry_after_seconds:
            PollRun.objects.filter(tenant=channel.tenant, pk=run.pk).update(
                rate_note=f"rate limited: next poll in {exc.retry_after_seconds} s")
        _poll_finish(channel, run, outcome=PollRun.Outcome.FAILED, error=str(exc), next_poll_in=backoff)
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
        budget_wait = _budget_slowdown(channel)
        reconcile_wait = timedelta(seconds=max(settings.SAC_RECONCILE_INTERVAL_SECONDS,
                                               channel.poll_interval_seconds)) if reconciling else None
        if reconcile_wait and reconcile_wait >= max(budget_wait or timedelta(0), timedelta(seconds=slow_down or 0)):
            PollRun.objects.filter(tenant=channel.tenant, pk=run.pk).update(
                rate_note=f"webhooks live: next reconciliation poll in {int(reconcile_wait.total_seconds())} s")
            _poll_finish(channel, run, outcome=PollRun.Outcome.OK, next_poll_in=reconcile_wait)
        elif budget_wait and (not slow_down or budget_wait.total_seconds() > slow_down):
            PollRun.objects.filter(tenant=channel.tenant, pk=run.pk).update(
                rate_note=f"X budget: next poll in {int(budget_wait.total_seconds())} s")
            _poll_finish(channel, run, outcome=PollRun.Outcome.OK, next_poll_in=budget_wait)
        elif slow_down and slow_down > channel.poll_interval_seconds:
            PollRun.objects.filter(tenant=channel.tenant, pk=run.pk).update(
                rate_note=f"usage high: next poll in {slow_down} s")
            _poll_finish(channel, run, outcome=PollRun.Outcome.OK, next_poll_in=timedelta(seconds=slow_down))
        else:
            _poll_finish(channel, run, outcome=PollRun.Outcome.OK)
    return run


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


def schedule_due_polls(*, limit: int = 500, per_tenant: int | None = None) -> list[tuple[int, int]]:
    """Claim the channels whose poll is due and push their next_poll_at forward.

    SKIP LOCKED lets several beat-triggered runs (or a slow one overlapping the next)
    share the work without waiting on each other or claiming the same channel.
    Fairness: a tenant gets at most `per_tenant` polls in flight (leased) at once; its other due
    channels stay due and go first next round, so one tenant's hundred channels in a viral crisis
    never fill the workers while another tenant's one channel waits.
    Returns (tenant_id, channel_id) pairs for the caller to enqueue after commit.
    """
    cap = per_tenant or getattr(settings, "SAC_MAX_CONCURRENT_POLLS_PER_TENANT", MAX_CONCURRENT_POLLS_PER_TENANT)
    now = timezone.now()
    with transaction.atomic():
        due = list(
            ChannelAccount.objects.select_for_update(skip_locked=True)
            .filter(Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now), status=ChannelAccount.Status.ACTIVE)
            .order_by("next_poll_at")
            .values_list("pk", "tenant_id", "poll_interval_seconds")[: limit * 4]
        )
        in_flight: dict[int, int] = dict(
            ChannelAccount.objects.filter(poll_lease_until__gt=now, tenant_id__in={t for _, t, _ in due})
            .values("tenant_id").annotate(n=Count("pk")).values_list("tenant_id", "n")
        )
        claimed: list[tuple[int, int]] = []
        for pk, tenant_id, interval in due:
            if len(claimed) >= limit or in_flight.get(tenant_id, 0) >= cap:
                continue
            in_flight[tenant_id] = in_flight.get(tenant_id, 0) + 1
            ChannelAccount.objects.filter(tenant_id=tenant_id, pk=pk).update(
                next_poll_at=now + timedelta(seconds=interval)
            )
            claimed.append((tenant_id, pk))
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
        # The delivery is stored, so the network still gets its 200 (a 500 would only make it retry);
        # schedule_due_polls re-enqueues it from the database once the broker is back.
        delay_or_leave_to_sweep(tasks.process_webhook_delivery, channel.tenant_id, delivery.pk,
                                what=f"webhook delivery {delivery.pk} stored")

    # One INSERT in autocommit: committed (synchronously: the 200 promises the network we have it) in a single
    # round trip, not BEGIN, INSERT, COMMIT. Inside a caller's transaction it joins it, and so does on_commit.
    delivery = WebhookDelivery.objects.create(tenant_id=channel.tenant_id, channel=channel, body=body)
    transaction.on_commit(enqueue)
    return delivery


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
        body = bytes(delivery.body)
        try:
            page = _parse_delivery(channel, body)
        except Exception as exc:
            # A parser bug on an odd payload must not retry the same delivery forever: keep it, move on.
            reason = exc.reason if isinstance(exc, MalformedPayload) else f"{exc.__class__.__name__}: {exc}"
            payload = exc.payload if isinstance(exc, MalformedPayload) else body.decode("utf-8", "replace")
            dead_letter_record(tenant=channel.tenant, channel=channel, source="webhook-body", reason=reason,
                               payload=without_nul(payload))
            PollRun.objects.filter(tenant_id=tenant_id, pk=run.pk).update(
                outcome=PollRun.Outcome.FAILED, error=reason, dead_lettered=1, finished_at=timezone.now())
            WebhookDelivery.objects.filter(tenant_id=tenant_id, pk=delivery.pk).update(
                processed_at=timezone.now(), error=reason)
            return run
        ingest_batch(channel=channel, page=page, run=run, source="webhook")
        PollRun.objects.filter(tenant_id=tenant_id, pk=run.pk).update(outcome=PollRun.Outcome.OK,
                                                                     finished_at=timezone.now())
        WebhookDelivery.objects.filter(tenant_id=tenant_id, pk=delivery.pk).update(processed_at=timezone.now())
    run.refresh_from_db()
    return run


def webhook_deliveries_stale(*, older_than: timedelta = timedelta(seconds=30)) -> list[tuple[int, int]]:
    """Deliveries whose task the broker lost: (tenant_id, delivery_id) to enqueue again."""
    cutoff = timezone.now() - older_than
    return list(WebhookDelivery.objects.filter(processed_at__isnull=True, received_at__lt=cutoff)
                .values_list("tenant_id", "pk")[:500])


# ---------------------------------------------------------------- dead letters

class ReplayError(Exception):
    """A dead letter that cannot be replayed (the payload still does not parse, or it is not replayable)."""


def _replay_page(channel: ChannelAccount, letter: DeadLetter) -> Page:
    if letter.source == "webhook-body":
        return _parse_delivery(channel, letter.payload.encode())
    try:
        payload = json.loads(letter.payload)
    except ValueError as exc:
        raise ReplayError("The stored payload is not JSON; the next poll fetches that page again.") from exc
    if channel.platform in ("x", "simulator"):
        from .x.parse import parse_mentions_page

        page = parse_mentions_page(channel.platform, {"data": [payload], "meta": {}}, cursor={}, follow_pages=False)
    elif channel.platform == "facebook":
        from .facebook import parse as fb

        page = Page(items=[], cursor=None)
        try:
            if "comment_id" in payload or "item" in payload:
                item = fb.feed_change_item(payload, page_id=channel.external_account_id)
            elif "message" in payload and isinstance(payload.get("message"), dict):
                item = fb.messaging_item(payload, page_id=channel.external_account_id)
            else:
                item = fb.comment_item(payload, page_id=channel.external_account_id, post_id="")
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ReplayError(f"Still unreadable: {exc}") from exc
        page.items = [item] if item else []
    else:
        from .instagram import parse as ig

        try:
            page = Page(items=[ig.comment_item(payload, account_id=channel.external_account_id, media_id="")],
                        cursor=None)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ReplayError(f"Still unreadable: {exc}") from exc
    if page.bad_items:
        raise ReplayError(f"Still unreadable: {page.bad_items[0].reason}")
    page.cursor = None
    return page


def dead_letter_replay(*, tenant: Tenant, dead_letter_id: int, actor: Any = None) -> IngestResult:
    """Re-process one dead letter after a fix; stored once however often it is replayed."""
    letter = DeadLetter.objects.select_related("channel").get(tenant=tenant, pk=dead_letter_id,
                                                               resolved_at__isnull=True)
    if letter.channel is None:
        raise ReplayError("The channel of this dead letter was removed.")
    channel = ChannelAccount.objects.select_related("tenant").get(tenant=tenant, pk=letter.channel_id)
    try:
        page = _replay_page(channel, letter)
    except MalformedPayload as exc:
        raise ReplayError(f"Still unreadable: {exc.reason}") from exc
    with transaction.atomic():
        run = PollRun.objects.create(tenant=tenant, channel=channel, source="replay")
        result = ingest_batch(channel=channel, page=page, run=run, source="replay")
        PollRun.objects.filter(tenant=tenant, pk=run.pk).update(outcome=PollRun.Outcome.OK,
                                                                finished_at=timezone.now())
        DeadLetter.objects.filter(tenant=tenant, pk=letter.pk).update(resolved_at=timezone.now())
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


def _budget_slowdown(channel: ChannelAccount) -> timedelta | None:
    """Stretch the poll interval by how far the month's forecast overshoots the budget (webhooks keep running)."""
    from .selectors import usage_summary

    if channel.monthly_budget_usd is None:
        return None
    summary = usage_summary(channel.tenant, channel)
    budget = Decimal(channel.monthly_budget_usd)
    if budget <= 0 or summary.forecast_usd <= budget:
        return None
    factor = float(summary.forecast_usd / budget)
    return min(timedelta(seconds=channel.poll_interval_seconds * factor), MAX_BUDGET_SLOWDOWN)


@transaction.atomic
def channel_budget_set(*, tenant: Tenant, channel: ChannelAccount, monthly_budget_usd: Decimal | None,
                       actor: Any = None) -> None:
    ChannelAccount.objects.filter(tenant=tenant, pk=channel.pk).update(monthly_budget_usd=monthly_budget_usd)
    audit_record(tenant=tenant, actor=actor, verb="channel.budget_set", obj=channel,
                 data={"monthly_budget_usd": str(monthly_budget_usd) if monthly_budget_usd is not None else None})
