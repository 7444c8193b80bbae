"""Polls queued by the scheduler count against their tenant's share, and a network that keeps failing is polled
less and less often."""

from datetime import timedelta

import pytest
from django.utils import timezone

from channels_ingest.errors import TransientError
from channels_ingest.models import ChannelAccount, PollRun
from channels_ingest.services import MAX_TRANSIENT_BACKOFF, channel_create, channel_poll, schedule_due_polls

pytestmark = pytest.mark.django_db


def _many_channels(kit, n: int) -> None:
    for i in range(n):
        channel_create(tenant=kit.tenant, platform="simulator", name=f"extra{i}", external_account_id=f"88{i}")


def test_polls_queued_but_not_started_count_against_the_tenants_share(kit_a, kit_b):
    _many_channels(kit_a, 8)
    first = schedule_due_polls(per_tenant=3)
    assert sum(1 for t, _, _ in first if t == kit_a.tenant.pk) == 3
    # No worker has started any of them yet, and the beat comes round again with all of A's other channels due:
    # A gets nothing more (before, every beat handed A another three), B's channel is served when due.
    ChannelAccount.objects.filter(pk=kit_b.channel.pk).update(next_poll_at=timezone.now(), poll_lease_until=None)
    second = schedule_due_polls(per_tenant=3)
    assert [(t, c) for t, c, _ in second] == [(kit_b.tenant.pk, kit_b.channel.pk)]


def test_a_queued_poll_takes_over_its_lease_and_a_second_delivery_of_it_stays_out(kit_a):
    ((tenant_id, channel_id, lease),) = [c for c in schedule_due_polls() if c[0] == kit_a.tenant.pk]
    kit_a.simulator.add_post("@acmetelecom sem sinal no bairro todo")
    run = channel_poll(tenant_id=tenant_id, channel_id=channel_id, lease=lease)
    assert run is not None and run.outcome == PollRun.Outcome.OK and run.stored >= 1
    # The same task delivered again (acks_late after a worker restart) while a poll holds the channel: refused.
    ChannelAccount.objects.filter(pk=channel_id).update(poll_lease_until=timezone.now() + timedelta(minutes=1))
    assert channel_poll(tenant_id=tenant_id, channel_id=channel_id, lease=lease) is None


def test_a_channel_whose_poll_is_under_way_is_not_queued_again(kit_a):
    ChannelAccount.objects.filter(pk=kit_a.channel.pk).update(
        next_poll_at=timezone.now() - timedelta(seconds=5), poll_lease_until=timezone.now() + timedelta(minutes=1))
    assert all(c != kit_a.channel.pk for _, c, _ in schedule_due_polls())


def test_a_lease_token_does_not_open_another_tenants_channel(kit_a, kit_b):
    ((_, channel_id, lease),) = [c for c in schedule_due_polls() if c[0] == kit_a.tenant.pk]
    assert channel_poll(tenant_id=kit_b.tenant.pk, channel_id=channel_id, lease=lease) is None
    assert not PollRun.objects.filter(channel_id=channel_id).exists()


def test_a_network_that_keeps_failing_is_polled_less_and_less_often(kit_a, monkeypatch):
    from channels_ingest import services

    class Down:
        def fetch_page(self):
            raise TransientError("X server error 503")

    monkeypatch.setattr(services, "connector_for", lambda channel: Down())
    interval = kit_a.channel.poll_interval_seconds
    waits = []
    for _ in range(7):
        before = timezone.now()
        run = channel_poll(tenant_id=kit_a.tenant.pk, channel_id=kit_a.channel.pk)
        assert run.outcome == PollRun.Outcome.FAILED and "503" in run.error
        kit_a.channel.refresh_from_db()
        waits.append(round((kit_a.channel.next_poll_at - before).total_seconds() / interval))
    cap = MAX_TRANSIENT_BACKOFF.total_seconds() / interval
    assert waits == [min(2**n, cap) for n in range(7)]

    # Back up: one good poll, and the next failure waits the usual interval again.
    monkeypatch.undo()
    assert channel_poll(tenant_id=kit_a.tenant.pk, channel_id=kit_a.channel.pk).outcome == PollRun.Outcome.OK
    monkeypatch.setattr(services, "connector_for", lambda channel: Down())
    before = timezone.now()
    channel_poll(tenant_id=kit_a.tenant.pk, channel_id=kit_a.channel.pk)
    kit_a.channel.refresh_from_db()
    assert round((kit_a.channel.next_poll_at - before).total_seconds() / interval) == 1
