"""Exact first-response and resolution percentiles over any period, without sorting the period's cases.

Two tables, both kept inside the transactions that set `first_response_at` / `resolved_at` (sla.services calls
`durations_sync`), rebuilt and checked by `manage.py sla_rollups`:

- `SLADuration`: one row per case and measure, the duration in whole seconds (floored) and its bucket;
- `SLADurationBlock`: how many durations fall in each bucket, per aligned block of 2^grain UTC hours.

A period of whole UTC hours is the union of at most ~2 blocks per grain (`blocks_covering`). Summing those
blocks' buckets gives every count exactly (cases answered, within 60 / 120 minutes: bucket edges fall on those
values) and tells which bucket holds the rank a percentile needs; the values inside that one bucket are then read
from `SLADuration` (index on tenant, measure, bucket, started_at). The result is the same linear interpolation
between closest ranks as PostgreSQL's percentile_cont and numpy, over the same floored seconds as the raw path
(`selectors._figures_aggregates`), which a test checks against the raw cases.

PostgreSQL only (the SQLite demo reads the cases directly).
"""

import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection

from inbox.models import Case

from .models import Measure, SLACategoryBlock, SLADuration, SLADurationBlock

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
GRAINS = 15  # 2^14 hours = 682 days: longer than the longest period the dashboard accepts (400 days)
ALL_CHANNELS = 0

# Bucket edges: 5 minutes up to a day, hours up to 30 days, days after that. 60 and 120 minutes are edges, so
# "answered within 60 / 120 minutes" is a sum of whole buckets.
_DAY, _MONTH = 86_400, 30 * 86_400


def bucket_of(seconds: int) -> int:
    """Monotonic: a larger duration never lands in a smaller bucket. Bucket b ≤ 12 ⇔ seconds ≤ 3600."""
    if seconds <= _DAY:
        return -(-seconds // 300)
    if seconds <= _MONTH:
        return 288 + -(-(seconds - _DAY) // 3600)
    return 288 + 696 + -(-(seconds - _MONTH) // _DAY)


WITHIN_60_MAX_BUCKET = bucket_of(3600)
WITHIN_120_MAX_BUCKET = bucket_of(7200)


def whole_seconds(delta: timedelta) -> int:
    """Floor of the duration in seconds, exactly (timedelta keeps days, seconds, microseconds ≥ 0)."""
    return delta.days * 86_400 + delta.seconds


def _hour_index(at: datetime) -> int:
    return whole_seconds(at - EPOCH) // 3600


def _hour_at(index: int) -> datetime:
    return EPOCH + timedelta(hours=index)


def blocks_of(at: datetime) -> list[tuple[int, datetime]]:
    """(grain, block start) of every block that contains the instant."""
    h = _hour_index(at)
    return [(g, _hour_at(h - h % (1 << g))) for g in range(GRAINS)]


def blocks_covering(since: datetime, until: datetime) -> list[tuple[int, datetime]] | None:
    """Disjoint blocks whose union is exactly [since, until); None when either end is not a whole UTC hour."""
    for edge in (since, until):
        if edge.astimezone(UTC).replace(minute=0, second=0, microsecond=0) != edge:
            return None
    a, b = _hour_index(since), _hour_index(until)
    out = []
    while a < b:
        g = 0
        while g + 1 < GRAINS and a % (1 << (g + 1)) == 0 and a + (1 << (g + 1)) <= b:
            g += 1
        out.append((g, _hour_at(a)))
        a += 1 << g
    return out


# ---------------------------------------------------------------- writes (inside the caller's transaction)

def _blocks_add(tenant_id: int, measure: int, started_at: datetime, channel_id: int, bucket: int, delta: int) -> None:
    rows = [(tenant_id, measure, g, start, ch, bucket, delta)
            for g, start in blocks_of(started_at) for ch in (channel_id, ALL_CHANNELS)]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO sla_sladurationblock (tenant_id, measure, grain, start, channel_id_copy, bucket, n) VALUES "
            + ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(rows))
            + " ON CONFLICT (tenant_id, measure, grain, start, channel_id_copy, bucket) DO UPDATE SET "
            "n = sla_sladurationblock.n + EXCLUDED.n",
            [v for row in rows for v in row],
        )


def _resolved_add(tenant_id: int, resolved_at: datetime, channel_id: int, delta: int) -> None:
    """The case counted in (or out of) its resolution hour's rollup, which the surveys panel's deflection reads
    instead of every case resolved in the period."""
    hour = resolved_at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    with connection.cursor() as cursor:
        if delta < 0:  # the row exists (the case was counted in it), and a negative INSERT breaks the column's check
            cursor.execute("UPDATE sla_slarolluphour SET resolved = resolved + %s "
                           "WHERE tenant_id = %s AND hour = %s AND channel_id_copy = %s",
                           [delta, tenant_id, hour, channel_id])
            return
        cursor.execute(
            "INSERT INTO sla_slarolluphour (tenant_id, hour, channel_id_copy, inbound, met, missed, resolved) "
            "VALUES (%s, %s, %s, 0, 0, 0, %s) "
            "ON CONFLICT (tenant_id, hour, channel_id_copy) DO UPDATE SET "
            "resolved = sla_slarolluphour.resolved + EXCLUDED.resolved",
            [tenant_id, hour, channel_id, delta],
        )


def durations_sync(*, tenant_id: int, case_id: int) -> None:
    """Make the case's stored durations equal its columns now (add, change or drop — a reopened case loses its
    resolution time until it is resolved again). Reads the row itself, so a stale case object cannot mislead it;
    idempotent, so every service that may have moved a column just calls it."""
    if connection.vendor != "postgresql":
        return
    row = (Case.objects.filter(tenant_id=tenant_id, pk=case_id)
           .values("first_message_at", "first_response_at", "resolved_at", "channel_id").first())
    if row is None:
        return
    want: dict[int, datetime] = {}
    for measure, end in ((Measure.FIRST_RESPONSE, row["first_response_at"]), (Measure.RESOLUTION, row["resolved_at"])):
        if end is not None:
            want[int(measure)] = end
    have = {d.measure: d for d in SLADuration.objects.filter(tenant_id=tenant_id, case_id=case_id)}
    for measure in set(want) | set(have):
        old, end = have.get(measure), want.get(measure)
        if old is not None and end is not None and old.ended_at == end \
                and old.started_at == row["first_message_at"] and old.channel_id_copy == row["channel_id"]:
            continue
        if old is not None:
            _blocks_add(tenant_id, measure, old.started_at, old.channel_id_copy, old.bucket, -1)
            if measure == Measure.RESOLUTION:
                _resolved_add(tenant_id, old.ended_at, old.channel_id_copy, -1)
            SLADuration.objects.filter(tenant_id=tenant_id, pk=old.pk).delete()
        if end is not None:
            seconds = whole_seconds(end - row["first_message_at"])
            bucket = bucket_of(seconds)
            SLADuration.objects.create(tenant_id=tenant_id, case_id=case_id, measure=measure,
                                       started_at=row["first_message_at"], ended_at=end,
                                       channel_id_copy=row["channel_id"], seconds=seconds, bucket=bucket)
            _blocks_add(tenant_id, measure, row["first_message_at"], row["channel_id"], bucket, 1)
            if measure == Measure.RESOLUTION:
                _resolved_add(tenant_id, end, row["channel_id"], 1)


_FLOOR_SECONDS = "floor(extract(epoch from ({end} - c.first_message_at)))::int"


def _bucket_sql(seconds: str) -> str:
    """bucket_of in SQL (numeric division, so the ceiling is exact for either sign)."""
    return (f"CASE WHEN {seconds} <= {_DAY} THEN ceil({seconds}::numeric / 300)::int "
            f"WHEN {seconds} <= {_MONTH} THEN 288 + ceil(({seconds} - {_DAY})::numeric / 3600)::int "
            f"ELSE 984 + ceil(({seconds} - {_MONTH})::numeric / {_DAY})::int END")


# Blocks are built bottom-up: grain 0 (one hour) from the durations, each coarser grain from the one below, so a
# rebuild or a check reads every duration once, not once per grain.
_HOUR_INDEX = "floor(extract(epoch from {col} - %s::timestamptz) / 3600)::bigint"

# (measure, grain, start, channel, bucket, n); parameters: EPOCH, EPOCH, tenant id.
_GRAIN0_FROM_DURATIONS = (
    "SELECT d.measure, 0 AS grain, %s::timestamptz + make_interval(hours => h.h::int) AS start, ch.ch, d.bucket, "
    "  count(*) AS n FROM sla_sladuration d "
    f"CROSS JOIN LATERAL (SELECT {_HOUR_INDEX.format(col='d.started_at')} AS h) h "
    "CROSS JOIN LATERAL (VALUES (d.channel_id_copy), (0::bigint)) AS ch(ch) "
    "WHERE d.tenant_id = %s GROUP BY 1, 2, 3, 4, 5"
)
# The same from the stored blocks of grain - 1; parameters: grain, EPOCH, grain, EPOCH, tenant id, grain - 1.
_GRAIN_FROM_BELOW = (
    "SELECT b.measure, %s AS grain, "
    "  %s::timestamptz + make_interval(hours => (h.h - h.h %% (1 << %s))::int) AS start, "
    "  b.channel_id_copy AS ch, b.bucket, sum(b.n) AS n FROM sla_sladurationblock b "
    f"CROSS JOIN LATERAL (SELECT {_HOUR_INDEX.format(col='b.start')} AS h) h "
    "WHERE b.tenant_id = %s AND b.grain = %s AND b.n <> 0 GROUP BY 1, 2, 3, 4, 5"
)
_INSERT_BLOCKS = "INSERT INTO sla_sladurationblock (tenant_id, measure, grain, start, channel_id_copy, bucket, n) "


def durations_rebuild(*, tenant_id: int) -> int:
    """Recompute both tables from the cases (inside the caller's transaction). Returns the durations stored."""
    SLADurationBlock.objects.filter(tenant_id=tenant_id).delete()
    SLADuration.objects.filter(tenant_id=tenant_id).delete()
    with connection.cursor() as cursor:
        for measure, end in ((Measure.FIRST_RESPONSE, "first_response_at"), (Measure.RESOLUTION, "resolved_at")):
            seconds = _FLOOR_SECONDS.format(end=f"c.{end}")
            cursor.execute(
                "INSERT INTO sla_sladuration (tenant_id, case_id, measure, started_at, ended_at, channel_id_copy, "
                "seconds, bucket) "
                f"SELECT c.tenant_id, c.id, %s, c.first_message_at, c.{end}, c.channel_id, s.v, {_bucket_sql('s.v')} "
                f"FROM inbox_case c CROSS JOIN LATERAL (SELECT {seconds} AS v) s "
                f"WHERE c.tenant_id = %s AND c.{end} IS NOT NULL",
                [int(measure), tenant_id],
            )
        cursor.execute(f"{_INSERT_BLOCKS} SELECT %s, * FROM ({_GRAIN0_FROM_DURATIONS}) w",
                       [tenant_id, EPOCH, EPOCH, tenant_id])
        for g in range(1, GRAINS):
            cursor.execute(f"{_INSERT_BLOCKS} SELECT %s, * FROM ({_GRAIN_FROM_BELOW}) w",
                           [tenant_id, g, EPOCH, g, EPOCH, tenant_id, g - 1])
        cursor.execute("SELECT count(*) FROM sla_sladuration WHERE tenant_id = %s", [tenant_id])
        return cursor.fetchone()[0]


def _blocks_diff(cursor: Any, want_sql: str, params: list[Any], tenant_id: int, grain: int) -> list[str]:
    cursor.execute(
        f"WITH want AS ({want_sql}), "
        "have AS (SELECT measure, grain, start, channel_id_copy AS ch, bucket, n FROM sla_sladurationblock "
        "  WHERE tenant_id = %s AND grain = %s AND n <> 0) "
        "SELECT coalesce(w.measure, h.measure), coalesce(w.start, h.start), coalesce(w.ch, h.ch), "
        "  coalesce(w.bucket, h.bucket), coalesce(w.n, 0), coalesce(h.n, 0) "
        "FROM want w FULL JOIN have h USING (measure, grain, start, ch, bucket) "
        "WHERE coalesce(w.n, 0) <> coalesce(h.n, 0) LIMIT 20",
        [*params, tenant_id, grain],
    )
    return [f"{Measure(measure).label.lower()} block {grain}@{start.isoformat()} channel {ch} bucket {bucket}: "
            f"{'durations' if grain == 0 else 'finer blocks'} {want} != block {have}"
            for measure, start, ch, bucket, want, have in cursor.fetchall()]


def durations_check(*, tenant_id: int) -> list[str]:
    """Where the stored durations or their block counts differ from the cases; empty when equal. Grain 0 is
    compared with the durations and each coarser grain with the one below it, which together prove every block."""
    diffs: list[str] = []
    with connection.cursor() as cursor:
        for measure, end in ((Measure.FIRST_RESPONSE, "first_response_at"), (Measure.RESOLUTION, "resolved_at")):
            seconds = _FLOOR_SECONDS.format(end=f"c.{end}")
            cursor.execute(
                f"SELECT coalesce(c.id, d.case_id), {seconds}, d.seconds FROM "
                f"(SELECT * FROM inbox_case WHERE tenant_id = %s AND {end} IS NOT NULL) c FULL JOIN "
                "(SELECT * FROM sla_sladuration WHERE tenant_id = %s AND measure = %s) d ON d.case_id = c.id "
                f"WHERE c.id IS NULL OR d.id IS NULL OR d.seconds <> {seconds} OR d.ended_at <> c.{end} "
                "OR d.started_at <> c.first_message_at OR d.channel_id_copy <> c.channel_id "
                f"OR d.bucket <> {_bucket_sql('d.seconds')} LIMIT 20",
                [tenant_id, tenant_id, int(measure)],
            )
            for case_id, raw, stored in cursor.fetchall():
                diffs.append(f"case {case_id} {Measure(measure).label.lower()}: raw {raw} s != stored {stored} s")
        diffs += _blocks_diff(cursor, _GRAIN0_FROM_DURATIONS, [EPOCH, EPOCH, tenant_id], tenant_id, 0)
        for g in range(1, GRAINS):
            diffs += _blocks_diff(cursor, _GRAIN_FROM_BELOW, [g, EPOCH, g, EPOCH, tenant_id, g - 1], tenant_id, g)
    return diffs


# ---------------------------------------------------------------- reads

def _bucket_counts(tenant_id: int, measure: int, blocks: list[tuple[int, datetime]], channel_id: int) -> list[
        tuple[int, int]]:
    if not blocks:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT b.bucket, sum(b.n) FROM sla_sladurationblock b "
            "JOIN unnest(%s::smallint[], %s::timestamptz[]) AS k(grain, start) "
            "  ON b.grain = k.grain AND b.start = k.start "
            "WHERE b.tenant_id = %s AND b.measure = %s AND b.channel_id_copy = %s "
            "GROUP BY b.bucket HAVING sum(b.n) <> 0 ORDER BY b.bucket",
            [[g for g, _ in blocks], [s for _, s in blocks], tenant_id, measure, channel_id],
        )
        return [(bucket, int(n)) for bucket, n in cursor.fetchall()]


def _values_in_bucket(tenant_id: int, measure: int, bucket: int, since: datetime, until: datetime,
                      channel_id: int, offset: int, limit: int) -> list[int]:
    qs = SLADuration.objects.filter(tenant_id=tenant_id, measure=measure, bucket=bucket, started_at__gte=since,
                                    started_at__lt=until)
    if channel_id != ALL_CHANNELS:
        qs = qs.filter(channel_id_copy=channel_id)
    return list(qs.order_by("seconds").values_list("seconds", flat=True)[offset:offset + limit])


def _values_at_ranks(tenant_id: int, measure: int, counts: list[tuple[int, int]], ranks: set[int], since: datetime,
                     until: datetime, channel_id: int) -> dict[int, int]:
    """The durations at the given ranks (0-based, ascending) of the period. Ranks next to each other in one bucket
    (a percentile's two closest ranks) are read together: one sort of that bucket's values instead of two."""
    by_bucket: dict[int, tuple[int, list[int]]] = {}
    before = 0
    for bucket, n in counts:
        inside = sorted(r for r in ranks if before <= r < before + n)
        if inside:
            by_bucket[bucket] = (before, inside)
        before += n
    out: dict[int, int] = {}
    for bucket, (before, inside) in by_bucket.items():
        runs: list[list[int]] = []
        for rank in inside:
            if runs and rank - runs[-1][-1] == 1:
                runs[-1].append(rank)
            else:
                runs.append([rank])
        for run in runs:
            values = _values_in_bucket(tenant_id, measure, bucket, since, until, channel_id, run[0] - before, len(run))
            out.update(zip(run, values, strict=True))
    missing = ranks - set(out)
    if missing:
        raise IndexError(min(missing))
    return out


def period_durations(*, tenant_id: int, measure: int, since: datetime, until: datetime, channel_id: int | None,
                     qs: tuple[float, ...] = (0.5, 0.9)) -> dict[str, Any] | None:
    """answered, the percentiles (minutes) and the counts within 60 / 120 minutes of the cases first written in
    [since, until); None when the period is not made of whole UTC hours (the caller reads the cases)."""
    blocks = blocks_covering(since, until)
    if blocks is None:
        return None
    channel = channel_id or ALL_CHANNELS
    counts = _bucket_counts(tenant_id, measure, blocks, channel)
    n = sum(c for _, c in counts)
    percentiles: list[float | None] = []
    positions = [q * (n - 1) for q in qs]
    ranks = {r for pos in positions for r in (math.floor(pos), min(math.floor(pos) + 1, n - 1))} if n else set()
    values = _values_at_ranks(tenant_id, measure, counts, ranks, since, until, channel)
    for pos in positions:
        if n == 0:
            percentiles.append(None)
            continue
        lo = math.floor(pos)
        hi = min(lo + 1, n - 1)
        a, b = values[lo] / 60.0, values[hi] / 60.0  # minutes first, as the raw path interpolates minutes
        percentiles.append(a + (b - a) * (pos - lo))
    return {
        "answered": n, "percentiles": percentiles,
        "within_60": sum(c for b, c in counts if b <= WITHIN_60_MAX_BUCKET),
        "within_120": sum(c for b, c in counts if b <= WITHIN_120_MAX_BUCKET),
    }



# ---------------------------------------------------------------- cases per category (top categories)

# Every block of each (hour, channel, category) count, for the channel and for all channels, summed per block (a
# page's hours share their coarser blocks) and sorted, so that two transactions upserting overlapping blocks lock
# them in the same order. The same block arithmetic as blocks_of and _CATEGORY_GRAIN_FROM_BELOW (categories_check
# compares them). Parameters: tenant id, EPOCH, then the arrays of hour index, channel, category and count.
_CATEGORIES_ADD = (
    "INSERT INTO sla_slacategoryblock (tenant_id, grain, start, channel_id_copy, category, n) "
    "SELECT %s, g.g, %s::timestamptz + make_interval(hours => (r.h - r.h %% (1::bigint << g.g))::int), ch.ch, "
    "  r.category, sum(r.n) "
    "FROM unnest(%s::bigint[], %s::bigint[], %s::varchar[], %s::int[]) AS r(h, channel, category, n) "
    f"CROSS JOIN generate_series(0, {GRAINS - 1}) AS g(g) "
    "CROSS JOIN LATERAL (VALUES (r.channel), (0::bigint)) AS ch(ch) "
    "GROUP BY 2, 3, 4, 5 ORDER BY 2, 3, 4, 5 "
    "ON CONFLICT (tenant_id, grain, start, channel_id_copy, category) DO UPDATE SET "
    "n = sla_slacategoryblock.n + EXCLUDED.n"
)


def categories_add(*, tenant_id: int, rows: Iterable[tuple[datetime, int, str]], delta: int = 1) -> None:
    """Count (first message, channel, category) of cases in or out of their blocks, inside the caller's
    transaction. Cases without a category are not counted (the dashboard lists categories only)."""
    if connection.vendor != "postgresql":
        return
    counts: dict[tuple[int, int, str], int] = defaultdict(int)
    for at, channel_id, category in rows:
        if category:
            counts[(_hour_index(at), channel_id, category)] += delta
    if not counts:
        return
    # The server spreads each hour's count over its 15 blocks: sent as a few arrays of one row per hour, channel
    # and category, instead of 30 rows per case as a VALUES list, whose placeholders psycopg re-parsed on every
    # call (it caches no statement over 4 KB) and whose hundreds of literals the server parsed again.
    keys = list(counts)
    with connection.cursor() as cursor:
        cursor.execute(_CATEGORIES_ADD, [tenant_id, EPOCH, [k[0] for k in keys], [k[1] for k in keys],
                                         [k[2] for k in keys], [counts[k] for k in keys]])


# (grain, start, channel, category, n); parameters: EPOCH, EPOCH, tenant id.
_CATEGORY_GRAIN0_FROM_CASES = (
    "SELECT 0 AS grain, %s::timestamptz + make_interval(hours => h.h::int) AS start, ch.ch, c.category, "
    "  count(*) AS n FROM inbox_case c "
    f"CROSS JOIN LATERAL (SELECT {_HOUR_INDEX.format(col='c.first_message_at')} AS h) h "
    "CROSS JOIN LATERAL (VALUES (c.channel_id), (0::bigint)) AS ch(ch) "
    "WHERE c.tenant_id = %s AND c.category <> '' GROUP BY 1, 2, 3, 4"
)
# parameters: grain, EPOCH, grain, EPOCH, tenant id, grain - 1.
_CATEGORY_GRAIN_FROM_BELOW = (
    "SELECT %s AS grain, %s::timestamptz + make_interval(hours => (h.h - h.h %% (1 << %s))::int) AS start, "
    "  b.channel_id_copy AS ch, b.category, sum(b.n) AS n FROM sla_slacategoryblock b "
    f"CROSS JOIN LATERAL (SELECT {_HOUR_INDEX.format(col='b.start')} AS h) h "
    "WHERE b.tenant_id = %s AND b.grain = %s AND b.n <> 0 GROUP BY 1, 2, 3, 4"
)


def categories_rebuild(*, tenant_id: int) -> None:
    SLACategoryBlock.objects.filter(tenant_id=tenant_id).delete()
    insert = "INSERT INTO sla_slacategoryblock (tenant_id, grain, start, channel_id_copy, category, n) "
    with connection.cursor() as cursor:
        cursor.execute(f"{insert} SELECT %s, * FROM ({_CATEGORY_GRAIN0_FROM_CASES}) w",
                       [tenant_id, EPOCH, EPOCH, tenant_id])
        for g in range(1, GRAINS):
            cursor.execute(f"{insert} SELECT %s, * FROM ({_CATEGORY_GRAIN_FROM_BELOW}) w",
                           [tenant_id, g, EPOCH, g, EPOCH, tenant_id, g - 1])


def categories_check(*, tenant_id: int) -> list[str]:
    diffs = []
    with connection.cursor() as cursor:
        for g in range(GRAINS):
            want, params = ((_CATEGORY_GRAIN0_FROM_CASES, [EPOCH, EPOCH, tenant_id]) if g == 0 else
                            (_CATEGORY_GRAIN_FROM_BELOW, [g, EPOCH, g, EPOCH, tenant_id, g - 1]))
            cursor.execute(
                f"WITH want AS ({want}), "
                "have AS (SELECT grain, start, channel_id_copy AS ch, category, n FROM sla_slacategoryblock "
                "  WHERE tenant_id = %s AND grain = %s AND n <> 0) "
                "SELECT coalesce(w.start, h.start), coalesce(w.ch, h.ch), coalesce(w.category, h.category), "
                "  coalesce(w.n, 0), coalesce(h.n, 0) "
                "FROM want w FULL JOIN have h USING (grain, start, ch, category) "
                "WHERE coalesce(w.n, 0) <> coalesce(h.n, 0) LIMIT 20",
                [*params, tenant_id, g],
            )
            diffs += [f"category {category!r} block {g}@{start.isoformat()} channel {ch}: "
                      f"{'cases' if g == 0 else 'finer blocks'} {want_n} != block {have_n}"
                      for start, ch, category, want_n, have_n in cursor.fetchall()]
    return diffs


def top_categories(*, tenant_id: int, since: datetime, until: datetime, channel_id: int | None,
                   limit: int = 8) -> list[dict[str, Any]] | None:
    """[{"category", "n"}] most cases first, then by name; None when the period is not made of whole UTC hours."""
    blocks = blocks_covering(since, until)
    if blocks is None:
        return None
    if not blocks:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT b.category, sum(b.n) AS n FROM sla_slacategoryblock b "
            "JOIN unnest(%s::smallint[], %s::timestamptz[]) AS k(grain, start) "
            "  ON b.grain = k.grain AND b.start = k.start "
            "WHERE b.tenant_id = %s AND b.channel_id_copy = %s "
            "GROUP BY b.category HAVING sum(b.n) > 0 ORDER BY n DESC, b.category LIMIT %s",
            [[g for g, _ in blocks], [s for _, s in blocks], tenant_id, channel_id or ALL_CHANNELS, limit],
        )
        return [{"category": category, "n": int(n)} for category, n in cursor.fetchall()]
