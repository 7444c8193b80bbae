"""Test helpers that go through the real services (ingest → triage), never around them."""

import itertools
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from channels_ingest.models import ChannelAccount, Mention, PollRun
from channels_ingest.services import ingest_batch
from channels_ingest.simulator import SimulatorServer
from channels_ingest.types import MentionItem, Page, ProfileItem
from inbox.models import Case
from inbox.services import mentions_triage
from sac.models import Membership, Tenant

BRAND_ID = "1500000000000000001"
_ids = itertools.count(1_900_000_000_000_000_000)


@dataclass
class TenantKit:
    tenant: Tenant
    channel: ChannelAccount
    agent: Membership
    agent2: Membership
    supervisor: Membership
    admin: Membership
    simulator: SimulatorServer


def mention_item(text: str, *, author_id: str = "42", handle: str = "cliente", followers: int = 120,
                 external_id: str | None = None, posted_at: datetime | None = None) -> MentionItem:
    tweet_id = external_id or str(next(_ids))
    return MentionItem(
        external_id=tweet_id, kind="post", text=text, posted_at=posted_at or datetime.now(UTC),
        raw={"id": tweet_id, "text": text, "author_id": author_id},
        author=ProfileItem(platform="simulator", external_id=author_id, handle=handle, name=f"{handle.title()} Silva",
                           followers_count=followers),
    )


def ingest(channel: ChannelAccount, items: list[MentionItem], cursor: dict | None = None):
    run = PollRun.objects.create(tenant=channel.tenant, channel=channel)
    return ingest_batch(channel=channel, page=Page(items=items, cursor=cursor or {}), run=run)


def open_case(kit: TenantKit, text: str = "A internet caiu de novo, não funciona nada!", **kwargs) -> Case:
    """A case opened the way production opens one: stored, then triaged. The post also exists in the
    simulator, so replies to it are accepted there like X accepts replies to a real tweet."""
    tweet = kit.simulator.add_post(text)
    result = ingest(kit.channel, [mention_item(text, external_id=tweet["id"], **kwargs)])
    # In transaction=True tests the on-commit announcement has already triaged it; this call is then a no-op.
    # With a real worker (tests/test_celery_worker.py's fixture) the worker may hold the mention (SKIP LOCKED
    # passes it over here) and commit its case a moment later: wait for that, a few seconds at most.
    mentions_triage(tenant_id=kit.tenant.pk, mention_ids=result.stored_ids)
    deadline = time.monotonic() + 5
    while True:
        case = Case.objects.filter(tenant=kit.tenant, case_mentions__mention_id__in=result.stored_ids).first()
        untriaged = Mention.objects.filter(pk__in=result.stored_ids, triaged_at__isnull=True).exists()
        if case is not None or not untriaged or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert case is not None, f"triage ignored {text!r}"
    return case
