"""Every write of channels_ingest: storing mentions, dead letters, polling state."""

import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from sac.models import Tenant
from sac.services import audit_record

from .connectors import connector_for
from .errors import AuthError, MalformedPayload, PermanentError, TransientError
from .models import ChannelAccount, DeadLetter, Mention, PollRun, SocialProfile
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
    unique = {p.external_id: p for p in profiles}
    if not unique:
        return {}
    SocialProfile.objects.bulk_create(
        [
            SocialProfile(tenant=tenant, platform=p.platform, external_id=p.external_id, handle=p.handle,
                          name=p.name, followers_count=p.followers_count, verified=p.verified,
                          profile_url=p.profile_url)
            for p in unique.values()
        ],
        update_conflicts=True,
        unique_fields=["tenant", "platform", "external_id"],
        update_fields=["handle", "name", "followers_count", "verified", "profile_url", "updated_at"],
    )
    platform = next(iter(unique.values())).platform
    return dict(
        SocialProfile.objects.filter(tenant=tenant, platform=platform, external_id__in=unique).values_list(
            "external_id", "pk"
        )
    )


def ingest_batch(*, channel: ChannelAccount, page: Page, run: PollRun, source: str = "poll") -> IngestResult:
    """Store one page: profiles upserted, mentions inserted once, cursor advanced, all in one transaction.

    Redelivered pages are harmless: the unique (tenant, channel, external_id) makes the
    INSERT … ON CONFLICT DO NOTHING skip what is already stored. Only rows inserted
    by this call carry this run's id, which is how we know what is new to announce.
    """
    tenant = channel.tenant
    with transaction.atomic():
        # Serialises ingests of one channel so two batches cannot move its cursor backwards.
        locked = ChannelAccount.objects.select_for_update().get(tenant=tenant, pk=channel.pk)
        items: list[MentionItem] = list({item.external_id: item for item in page.items}.values())
        profile_ids = _profiles_upsert(tenant, [i.author for i in items if i.author is not None])
        Mention.objects.bulk_create(
            [
                Mention(tenant=tenant, channel=locked, external_id=i.external_id, kind=i.kind, text=i.text,
                        posted_at=i.posted_at, raw=i.raw, language=i.language, conversation_id=i.conversation_id,
                        in_reply_to_external_id=i.in_reply_to_external_id, ingest_run=run,
                        author_id=profile_ids.get(i.author.external_id) if i.author else None)
                for i in items
            ],
            ignore_conflicts=True,
        )
        stored_ids = list(
            Mention.objects.filter(tenant=tenant, channel=locked, ingest_run=run,
                                   external_id__in=[i.external_id for i in items]).values_list("pk", flat=True)
        )
        for bad in page.bad_items:
            dead_letter_record(tenant=tenant, channel=locked, source=source, reason=bad.reason, payload=bad.payload)
        locked.cursor = page.cursor
        locked.last_polled_at = timezone.now()
        locked.save(update_fields=["cursor", "last_polled_at"])
        PollRun.objects.filter(tenant=tenant, pk=run.pk).update(
            fetched=run.fetched + len(page.items) + len(page.bad_items),
            stored=run.stored + len(stored_ids),
            dead_lettered=run.dead_lettered + len(page.bad_items),
        )
        run.refresh_from_db()
        if stored_ids:
            transaction.on_commit(
                lambda: mentions_stored.send(sender=None, tenant_id=tenant.pk, mention_ids=stored_ids)
            )
    channel.cursor = locked.cursor
    return IngestResult(stored_ids=stored_ids, duplicates=len(items) - len(stored_ids),
                        dead_lettered=len(page.bad_items))


def _lease_take(channel: ChannelAccount) -> bool:
    """A conditional update, so one channel is never polled by two workers at once."""
    now = timezone.now()
    taken = ChannelAccount.objects.filter(
        Q(poll_lease_until__isnull=True) | Q(poll_lease_until__lt=now), tenant=channel.tenant, pk=channel.pk
    ).update(poll_lease_until=now + POLL_LEASE)
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
    run = PollRun.objects.create(tenant=channel.tenant, channel=channel)
    try:
        connector = connector_for(channel)
        for _ in range(MAX_PAGES_PER_POLL):
            page = connector.fetch_page()
            ingest_batch(channel=channel, page=page, run=run)
            if not page.more:
                break
    except MalformedPayload as exc:
        # Nothing of this page is usable; keep it whole and try again at the next poll.
        dead_letter_record(tenant=channel.tenant, channel=channel, source="poll", reason=exc.reason,
                           payload=exc.payload)
        PollRun.objects.filter(tenant=channel.tenant, pk=run.pk).update(dead_lettered=run.dead_lettered + 1)
        _poll_finish(channel, run, outcome=PollRun.Outcome.FAILED, error=exc.reason)
    except TransientError as exc:
        backoff = timedelta(seconds=exc.retry_after_seconds or channel.poll_interval_seconds)
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
        _poll_finish(channel, run, outcome=PollRun.Outcome.OK)
    return run


def schedule_due_polls(*, limit: int = 500) -> list[tuple[int, int]]:
    """Claim the channels whose poll is due and push their next_poll_at forward.

    SKIP LOCKED lets several beat-triggered runs (or a slow one overlapping the next)
    share the work without waiting on each other or claiming the same channel.
    Returns (tenant_id, channel_id) pairs for the caller to enqueue after commit.
    """
    now = timezone.now()
    with transaction.atomic():
        due = list(
            ChannelAccount.objects.select_for_update(skip_locked=True)
            .filter(Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now), status=ChannelAccount.Status.ACTIVE)
            .order_by("next_poll_at")
            .values_list("pk", "tenant_id", "poll_interval_seconds")[:limit]
        )
        for pk, tenant_id, interval in due:
            ChannelAccount.objects.filter(tenant_id=tenant_id, pk=pk).update(
                next_poll_at=now + timedelta(seconds=interval)
            )
    return [(tenant_id, pk) for pk, tenant_id, _ in due]


def mentions_mark_triaged(*, tenant: Tenant, mention_ids: list[int]) -> int:
    """Called by the inbox inside its triage transaction."""
    return Mention.objects.filter(tenant=tenant, pk__in=mention_ids, triaged_at__isnull=True).update(
        triaged_at=timezone.now()
    )


@transaction.atomic
def channel_create(*, tenant: Tenant, platform: str, name: str, external_account_id: str, handle: str = "",
                   api_base_url: str = "", credentials: dict[str, str] | None = None,
                   poll_interval_seconds: int = 60) -> ChannelAccount:
    channel = ChannelAccount.objects.create(
        tenant=tenant, platform=platform, name=name, external_account_id=external_account_id, handle=handle,
        api_base_url=api_base_url, credentials=credentials or {}, poll_interval_seconds=poll_interval_seconds,
        next_poll_at=timezone.now(),
    )
    audit_record(tenant=tenant, actor=None, verb="channel.created", obj=channel, data={"platform": platform})
    return channel
