"""sla.histograms.categories_add: the server spreads each (hour, channel, category) count over its blocks; the
blocks must be exactly those of blocks_of, for the channel and for all channels."""

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from sla.histograms import ALL_CHANNELS, blocks_of, categories_add
from sla.models import SLACategoryBlock

pytestmark = pytest.mark.django_db


def _expected(rows, delta=1):
    want = Counter()
    for at, channel_id, category in rows:
        if category:
            for g, start in blocks_of(at):
                want[(g, start, channel_id, category)] += delta
                want[(g, start, ALL_CHANNELS, category)] += delta
    return want


def _stored(tenant):
    return Counter({(b.grain, b.start, b.channel_id_copy, b.category): b.n
                    for b in SLACategoryBlock.objects.filter(tenant=tenant) if b.n})


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the histograms are PostgreSQL only")
def test_it_counts_each_case_in_every_block_of_its_hour_and_corrections_move_it(kit_a, kit_b):
    base = datetime(2026, 3, 7, 22, 59, 59, tzinfo=UTC)  # hours across midnight and a day-aligned block edge
    rows = [(base + timedelta(minutes=37 * i), kit_a.channel.pk if i % 3 else kit_a.channel.pk + 1000,
             ("billing", "outage", "")[i % 3]) for i in range(40)]
    categories_add(tenant_id=kit_a.tenant.pk, rows=rows)
    categories_add(tenant_id=kit_a.tenant.pk, rows=rows[:5])  # a later page adds to the same blocks
    assert _stored(kit_a.tenant) == _expected(rows) + _expected(rows[:5])

    moved = [rows[1]]  # an agent corrects its category ("outage") to "noise"
    categories_add(tenant_id=kit_a.tenant.pk, rows=moved, delta=-1)
    categories_add(tenant_id=kit_a.tenant.pk, rows=[(rows[1][0], rows[1][1], "noise")])
    want = _expected(rows) + _expected(rows[:5])
    want.subtract(_expected(moved))
    want.update(_expected([(rows[1][0], rows[1][1], "noise")]))
    assert _stored(kit_a.tenant) == +want
    assert not SLACategoryBlock.objects.filter(tenant=kit_b.tenant).exists()
    categories_add(tenant_id=kit_a.tenant.pk, rows=[(base, kit_a.channel.pk, "")])  # nothing to count
    assert _stored(kit_a.tenant) == +want
