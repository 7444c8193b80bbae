"""Bulk INSERT … ON CONFLICT … RETURNING for the hot paths (ingest, batch triage).

Django's bulk_create instantiates and prepares every field of every row and, on PostgreSQL, dumps each
column as an array literal for UNNEST in Python; at ingest rates that is most of the time spent. With the
client-side binding Django uses, a multi-row VALUES statement is no better: psycopg re-parses a statement
with thousands of placeholders on every call. So on PostgreSQL `rows_insert` COPYs the rows into a
session-local temporary table and moves them with one `WITH moved AS (DELETE … RETURNING) INSERT … SELECT …
ON CONFLICT … RETURNING` (measured 1.5–2.5 times as fast as VALUES for pages of 100 on this machine).
SQLite (the demo) gets the multi-row VALUES statement; both have ON CONFLICT and RETURNING.

Columns a row does not name get the model field's default (auto_now/auto_now_add: now), so a field added
later with a default does not break the hot path. Values must already be what the column holds: ids for
foreign keys (`<name>_id` keys), dicts/lists for JSON fields, aware datetimes.
"""

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

CHUNK_ROWS = 500


def _columns(model: type[models.Model]) -> dict[str, models.Field]:
    """attname → field for every concrete column except the auto primary key."""
    return {f.attname: f for f in model._meta.concrete_fields if not isinstance(f, models.AutoField)}


def _adapter(field: models.Field) -> Any:
    if isinstance(field, models.JSONField):
        return lambda v: None if v is None else json.dumps(v, ensure_ascii=False)
    if isinstance(field, models.DateTimeField) and connection.vendor != "postgresql":
        return connection.ops.adapt_datetimefield_value
    if isinstance(field, models.DateField) and not isinstance(field, models.DateTimeField) \
            and connection.vendor != "postgresql":
        return connection.ops.adapt_datefield_value
    return None


def _default(field: models.Field, now: Any) -> Any:
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return now
    if field.has_default():
        return field.get_default()
    if field.null:
        return None
    raise ValueError(f"{field.model.__name__}.{field.attname} has no default: give it in every row")


def rows_insert(
    model: type[models.Model],
    rows: Sequence[dict[str, Any]],
    *,
    conflict: Iterable[str] = (),
    update: Iterable[str] = (),
    returning: Iterable[str] = ("id",),
) -> list[tuple]:
    """Insert `rows` (dicts keyed by attname) and return the `returning` columns of the rows written.

    conflict: the unique columns of the ON CONFLICT target (empty: no conflict clause).
    update: columns to overwrite from the new row on conflict (DO UPDATE); none means DO NOTHING, and then
    rows that already existed are not returned — which is how callers tell new rows from duplicates.
    """
    if not rows:
        return []
    fields = _columns(model)
    now = timezone.now()
    given = list(rows[0].keys())
    unknown = [name for name in given if name not in fields]
    if unknown:
        raise ValueError(f"{model.__name__} has no column(s) {unknown}")
    filler = {name: _default(field, now) for name, field in fields.items() if name not in given}
    names = given + list(filler)
    adapters = [_adapter(fields[name]) for name in names]
    table = connection.ops.quote_name(model._meta.db_table)
    q = connection.ops.quote_name
    column_sql = ", ".join(q(fields[n].column) for n in names)
    row_sql = "(" + ", ".join(["%s"] * len(names)) + ")"
    conflict = list(conflict)
    update = list(update)
    tail = ""
    if conflict:
        target = ", ".join(q(fields[n].column) for n in conflict)
        if update:
            sets = ", ".join(f"{q(fields[n].column)} = EXCLUDED.{q(fields[n].column)}" for n in update)
            tail = f" ON CONFLICT ({target}) DO UPDATE SET {sets}"
        else:
            tail = f" ON CONFLICT ({target}) DO NOTHING"
    returning = list(returning)
    if returning:
        tail += " RETURNING " + ", ".join(q(fields[n].column) if n in fields else q(n) for n in returning)
    constant = [filler[n] for n in names[len(given):]]

    def values(row: dict[str, Any]) -> list[Any]:
        return [v if a is None else a(v) for v, a in zip([row[n] for n in given] + constant, adapters, strict=True)]

    out: list[tuple] = []
    if connection.vendor == "postgresql":
        # Named after the column set, so a migration that adds a column gets a fresh table.
        digest = hashlib.sha1(column_sql.encode()).hexdigest()[:10]
        temp = q(f"_bulk_{model._meta.db_table}_{digest}"[:63])
        # Inside the caller's transaction when there is one (ON COMMIT DELETE ROWS needs a transaction
        # around COPY and INSERT); a savepoint otherwise costs two round trips for nothing.
        with transaction.atomic(savepoint=False), connection.cursor() as cursor:
            # IF NOT EXISTS every time: CREATE is transactional, so a table made in a transaction that rolled
            # back is gone, and remembering it would need an on-commit hook per call.
            cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {temp} ON COMMIT DELETE ROWS AS "
                           f"SELECT {column_sql} FROM {table} WITH NO DATA")
            with cursor.cursor.copy(f"COPY {temp} ({column_sql}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(values(row))
            cursor.execute(f"WITH moved AS (DELETE FROM {temp} RETURNING {column_sql}) "
                           f"INSERT INTO {table} ({column_sql}) SELECT {column_sql} FROM moved{tail}")
            if returning:
                out.extend(tuple(r) for r in cursor.fetchall())
        return out
    with connection.cursor() as cursor:
        for offset in range(0, len(rows), CHUNK_ROWS):
            chunk = rows[offset:offset + CHUNK_ROWS]
            params = [v for row in chunk for v in values(row)]
            cursor.execute(f"INSERT INTO {table} ({column_sql}) VALUES {', '.join([row_sql] * len(chunk))}{tail}",
                           params)
            if returning:
                out.extend(tuple(r) for r in cursor.fetchall())
    return out


def rows_update(model: type[models.Model], objs: Sequence[models.Model], fields: Sequence[str], *,
                tenant_id: int) -> int:
    """Write `fields` of many rows of one tenant in one `UPDATE … FROM unnest(…)`.

    Django's bulk_update builds a CASE WHEN expression per field and row, which costs more Python time than
    the whole statement costs the database. One array per column rather than a VALUES list: the statement's
    text is the same for every page, so psycopg's placeholder parsing is cached (it re-parses any statement
    over 4 KB on every call) and the server parses a handful of literals instead of one per row and column.
    SQLite (the demo) keeps bulk_update.
    """
    if not objs:
        return 0
    if connection.vendor != "postgresql":
        return model.objects.filter(tenant_id=tenant_id).bulk_update(objs, list(fields))
    meta = model._meta
    chosen = [meta.get_field(name) for name in fields]
    q = connection.ops.quote_name
    casts = [meta.pk.rel_db_type(connection), "bigint"] + [f.db_type(connection) for f in chosen]
    aliases = ["pk", "tenant"] + [f"v{i}" for i in range(len(chosen))]
    sets = ", ".join(f"{q(f.column)} = v.v{i}" for i, f in enumerate(chosen))
    columns: list[list[Any]] = [[obj.pk for obj in objs], [tenant_id] * len(objs)]
    for f in chosen:
        adapt, attname = _adapter(f), f.attname
        values = [getattr(obj, attname) for obj in objs]
        columns.append(values if adapt is None else [adapt(v) for v in values])
    table = q(meta.db_table)
    arrays = ", ".join(f"%s::{cast}[]" for cast in casts)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {sets} FROM unnest({arrays}) AS v({', '.join(aliases)}) "
            # The tenant travels with the rows rather than as a constant: with a constant, statistics that lag a
            # fast-growing table make the planner scan all the tenant's rows instead of 100 primary-key lookups.
            f"WHERE {table}.{q(meta.pk.column)} = v.pk AND {table}.{q('tenant_id')} = v.tenant",
            columns,
        )
        return cursor.rowcount


def commit_without_waiting_for_disk() -> None:
    """Let this transaction's COMMIT return before its WAL reaches the disk (PostgreSQL
    `synchronous_commit = off`, for this transaction only).

    Only for transactions that carry their own proof of being done — ingest's cursor and rows, triage's
    triaged_at marks — and whose inputs are still where they came from (the network's API, the stored mention,
    the raw webhook row, itself committed synchronously). If the server crashes in the next few hundred
    milliseconds the transaction is lost as a whole, and the next poll or the triage sweep does it again: nothing
    is lost and nothing is done twice. It saves a disk flush per page, which on this machine cost more than
    all the page's statements together. Never use it where a commit is promised to someone outside (an
    acknowledged webhook, a reply sent to a network).
    """
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def of_tenant_by_ids(queryset: models.QuerySet, tenant_id: int) -> models.QuerySet:
    """`queryset` limited to one tenant, for queries that select rows by their ids (or another indexed key).

    The tenant is compared as `tenant_id + 0`, which no index serves, so the planner takes the rows by the id
    index and checks the tenant on each. With a plain `tenant_id = %s`, statistics that lag a tenant's fast
    growth (a new brand in a viral crisis, before autovacuum analyses the table) make PostgreSQL estimate one
    row for the tenant and walk its whole history by the tenant index instead — measured on bench/ingest.py:
    per-page triage statements growing from 2 ms to 25 ms as the tenant reached 60,000 mentions.
    """
    return queryset.alias(_tenant_check=models.F("tenant_id") + 0).filter(_tenant_check=tenant_id)
