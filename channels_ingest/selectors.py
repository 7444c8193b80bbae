import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from sac.models import Tenant

from .models import ApiUsage, ChannelAccount, DeadLetter, Mention, MentionRevision, PollRun, WebhookDelivery


def channels_for(tenant: Tenant) -> QuerySet[ChannelAccount]:
    return ChannelAccount.objects.filter(tenant=tenant).order_by("name")


def mentions_for(tenant: Tenant) -> QuerySet[Mention]:
    return Mention.objects.filter(tenant=tenant).select_related("author", "channel")


def mentions_untriaged(tenant_id: int | None = None) -> QuerySet[Mention]:
    """For the triage sweep: across tenants when tenant_id is None (the sweep re-scopes per tenant)."""
    qs = Mention.objects.filter(triaged_at__isnull=True)
    return qs.filter(tenant_id=tenant_id) if tenant_id is not None else qs


@dataclass(frozen=True)
class CatchUp:
    """Bursts of comments polling has not finished reading (Facebook, Instagram): how many lists, and back to when."""

    lists: int
    since: datetime | None


def comment_catch_up(channel: ChannelAccount) -> CatchUp:
    """What the channel's cursor says is still to read of earlier bursts (facebook/comment_paging.py's gaps)."""
    from .facebook.comment_paging import gaps_load

    cursor = channel.cursor or {}
    gaps = [*gaps_load(cursor.get("comment_resume")).values(), *gaps_load(cursor.get("reply_resume")).values()]
    return CatchUp(lists=len(gaps), since=min((gap.mark for gap in gaps), default=None))


def webhook_backlog_tenants(*, older_than: timedelta = timedelta(seconds=30)) -> list[int]:
    """Tenants with a delivery waiting longer than a drain takes to come round: the broker lost its message.

    Across tenants on purpose (the beat's sweep), one probe of the tenant's partial index each, so a tenant with a
    flood of waiting deliveries does not hide another one's lost message."""
    waiting = WebhookDelivery.objects.filter(tenant_id=OuterRef("pk"), processed_at__isnull=True,
                                             received_at__lt=timezone.now() - older_than)
    return list(Tenant.objects.filter(Exists(waiting)).values_list("pk", flat=True))


def tenants_with_untriaged(*, received_before: datetime) -> list[int]:
    """The triage sweep's tenants: one probe of the `mention_untriaged` index each (across tenants on purpose),
    so one tenant's backlog of thousands does not hide another's few."""
    waiting = Mention.objects.filter(tenant_id=OuterRef("pk"), triaged_at__isnull=True,
                                     received_at__lt=received_before)
    return list(Tenant.objects.filter(Exists(waiting)).values_list("pk", flat=True))


def dead_letters_for(tenant: Tenant) -> QuerySet[DeadLetter]:
    return DeadLetter.objects.filter(tenant=tenant).order_by("-created_at")


def access_channel(tenant: Tenant, channel_id: int) -> ChannelAccount:
    """Another tenant's channel id is a 404, never a 403 that confirms it exists."""
    from django.shortcuts import get_object_or_404

    return get_object_or_404(ChannelAccount, tenant=tenant, pk=channel_id)


def poll_runs_for(tenant: Tenant, channel: ChannelAccount, limit: int = 50) -> list[PollRun]:
    return list(PollRun.objects.filter(tenant=tenant, channel=channel).order_by("-started_at")[:limit])


def open_dead_letters_for(tenant: Tenant, channel: ChannelAccount, limit: int = 50) -> list[DeadLetter]:
    return list(DeadLetter.objects.filter(tenant=tenant, channel=channel, resolved_at__isnull=True)
                .order_by("-created_at")[:limit])


# The health page counts a backlog up to this; past it, "10000+" says enough (and keeps the page fast in a flood).
BACKLOG_COUNT_CAP = 10_000


@dataclass(frozen=True)
class Backlog:
    """What of the channel's ingest work is waiting: webhook deliveries not processed, mentions not triaged."""

    deliveries: int
    untriaged: int
    oldest: datetime | None
    cap: int = BACKLOG_COUNT_CAP


def ingest_backlog(tenant: Tenant, channel: ChannelAccount) -> Backlog:
    deliveries = WebhookDelivery.objects.filter(tenant=tenant, channel=channel, processed_at__isnull=True)
    untriaged = Mention.objects.filter(tenant=tenant, channel=channel, triaged_at__isnull=True)
    oldest = [first for qs in (deliveries, untriaged)
              if (first := qs.order_by("received_at").values_list("received_at", flat=True).first()) is not None]
    return Backlog(deliveries=deliveries.values("pk")[:BACKLOG_COUNT_CAP].count(),
                   untriaged=untriaged.values("pk")[:BACKLOG_COUNT_CAP].count(), oldest=min(oldest, default=None))


def mention_revisions(tenant: Tenant, mention_ids: list[int]) -> dict[int, list[MentionRevision]]:
    """Earlier texts of edited or removed mentions, for the thread."""
    found: dict[int, list[MentionRevision]] = {}
    for revision in MentionRevision.objects.filter(tenant=tenant, mention_id__in=mention_ids):
        found.setdefault(revision.mention_id, []).append(revision)
    return found


def access_dead_letter(tenant: Tenant, channel: ChannelAccount, dead_letter_id: int) -> DeadLetter:
    from django.shortcuts import get_object_or_404

    return get_object_or_404(DeadLetter, tenant=tenant, channel=channel, pk=dead_letter_id,
                             resolved_at__isnull=True)


@dataclass(frozen=True)
class UsageSummary:
    posts_read: int
    dm_events_read: int
    created: int
    spend_usd: Decimal
    forecast_usd: Decimal  # this month's spend at the pace so far
    budget_usd: Decimal | None = None  # the channel's monthly X budget; None: no ceiling
    # The budget is spent: polling is paused until this instant (the month's turn, UTC) or a higher budget.
    paused_until: datetime | None = None
    # Below the budget but on pace to pass it: how many times the usual interval polls are spaced.
    budget_pace: float | None = None


def usage_summary(tenant: Tenant, channel: ChannelAccount, now: datetime | None = None) -> UsageSummary:
    from .services import X_PRICES_USD

    now = now or timezone.now()
    month = now.date().replace(day=1)
    row = ApiUsage.objects.filter(tenant=tenant, channel=channel, month=month).first()
    counts = {k: getattr(row, k, 0) if row else 0 for k in X_PRICES_USD}
    spend = sum((X_PRICES_USD[k] * counts[k] for k in X_PRICES_USD), Decimal("0"))
    days = calendar.monthrange(now.year, now.month)[1]
    elapsed = (now - now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)).total_seconds()
    # Early in the month a few minutes of use would extrapolate wildly: count at least one day.
    fraction = max(elapsed, 86_400) / (days * 86_400)
    forecast = (spend / Decimal(str(min(fraction, 1.0)))).quantize(Decimal("0.01"))
    budget = Decimal(channel.monthly_budget_usd) if channel.monthly_budget_usd is not None else None
    paused_until, pace = None, None
    if budget is not None and spend >= budget:
        # ApiUsage months are UTC months (timezone.now().date()), so the pause ends at the UTC month's turn.
        paused_until = datetime.combine((month + timedelta(days=32)).replace(day=1), time.min, tzinfo=UTC)
    elif budget is not None and forecast - spend > budget - spend:
        # What the rest of the month would cost at this month's pace, against what is left of the budget.
        pace = float((forecast - spend) / (budget - spend))
    return UsageSummary(spend_usd=spend.quantize(Decimal("0.001")), forecast_usd=forecast, budget_usd=budget,
                        paused_until=paused_until, budget_pace=pace, **counts)
