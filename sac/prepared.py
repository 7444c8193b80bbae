"""Named prepared statements for the hand-written statements that run on every request (the session's user and
their memberships), every poll and every claim.

PostgreSQL plans a statement each time it receives one, and Django sends parameters inlined (client-side
binding), so nothing is ever planned once. For the sidebar counts, the queue rows and claim-next, planning
cost more than running (EXPLAIN ANALYZE on the bench database: counts 1.2 ms to plan, 0.7 ms to run; rows 0.9
and 0.4; claim-next 1.4 and 0.5): inbox_case has many partial indexes, and the planner tries each of them
for each scan. Here each statement is PREPAREd once per database session and EXECUTEd after that.

A prepared statement lives as long as its connection (PREPARE is not undone by a rollback) and PostgreSQL
re-plans it by itself when a table it reads changes (a migration). The statements name their columns
(never `*`), so a column added by a migration cannot change their result type under a connection that
outlives the deploy. Needs a direct PostgreSQL connection or a pooler in session mode: a pooler in transaction
mode would hand the next EXECUTE to a session that never saw the PREPARE. Elsewhere (the SQLite demo) the
statement simply runs.
"""

import functools
import re
import weakref
from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import Field, Model

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
# The names each psycopg connection has prepared (the Django connection opens a new one after a reconnect).
_prepared: "weakref.WeakKeyDictionary[Any, set[str]]" = weakref.WeakKeyDictionary()


@functools.cache
def _positional(sql: str) -> tuple[str, tuple[str, ...]]:
    """`%(name)s` placeholders as PREPARE's `$1, $2, …`, and the names in that order."""
    names: list[str] = []

    def number(match: re.Match) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    return _PLACEHOLDER.sub(number, sql), tuple(names)


def prepared(name: str, sql: str, params: dict[str, Any]) -> tuple[str, list[Any]]:
    """The statement to send, and its parameters, for `sql` (with `%(name)s` placeholders): `EXECUTE name(…)`,
    after PREPAREing it on this connection the first time. `name` must stand for this one text of `sql`."""
    if connection.vendor != "postgresql":
        return sql, params  # type: ignore[return-value]
    text, names = _positional(sql)
    # The health check a cursor would run first (CONN_MAX_AGE with health checks): otherwise a request whose first
    # statement comes through here would look up, and send EXECUTE on, a connection the server already dropped.
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    done = _prepared.setdefault(connection.connection, set())
    if name not in done:
        with connection.cursor() as cursor:
            cursor.execute(f"PREPARE {name} AS {text}")
        done.add(name)
    return f"EXECUTE {name}({', '.join(['%s'] * len(names))})", [params[n] for n in names]


def prepared_batch(statements: Sequence[tuple[str, str, dict[str, Any]]]) -> list[list[tuple]]:
    """The rows of several statements (each as for `prepared`), in one round trip: a page that needs four small
    reads pays one network wait instead of four. PostgreSQL only (EXECUTEs joined by `;`, results read with
    nextset()); the caller keeps its ORM path for other databases."""
    texts: list[str] = []
    params: list[Any] = []
    for name, sql, values in statements:
        text, args = prepared(name, sql, values)
        texts.append(text)
        params += args
    with connection.cursor() as cursor:
        cursor.execute("; ".join(texts), params)
        results = [cursor.fetchall()]
        while cursor.nextset():
            results.append(cursor.fetchall())
    return results


def model_columns(model: type[Model], alias: str, fields: Sequence[str] | None = None) -> str:
    """`alias.column, …` for `fields` (attnames; default: all concrete fields) in the model's field order, the
    order model_from_row expects. Built from the model, so the text matches the code that reads the rows."""
    return ", ".join(f"{alias}.{connection.ops.quote_name(f.column)}" for f in _fields(model, fields))


def model_from_row(model: type[Model], values: Sequence[Any], fields: Sequence[str] | None = None) -> Model:
    """An instance from the columns model_columns selected, as the ORM builds one (fields not selected are
    deferred and load on access, like .only()); JSON columns decoded as the ORM decodes them."""
    chosen = _fields(model, fields)
    values = [f.from_db_value(v, f, connection) if hasattr(f, "from_db_value") else v
              for f, v in zip(chosen, values, strict=True)]
    return model.from_db(connection.alias, [f.attname for f in chosen], values)


def models_from_row(row: Sequence[Any], parts: Sequence[tuple[type[Model], Sequence[str] | None]]) -> list[Any]:
    """The instances of several models selected side by side in one row (each with model_columns, in `parts`'
    order, with the fields given there): None for a part whose id is NULL (a LEFT JOIN that found nothing)."""
    found: list[Any] = []
    start = 0
    for model, fields in parts:
        end = start + len(_fields(model, fields))
        values = row[start:end]
        found.append(model_from_row(model, values, fields) if values[0] is not None else None)
        start = end
    return found


@functools.cache
def _fields(model: type[Model], fields: Sequence[str] | None) -> tuple[Field, ...]:
    if fields is None:
        return tuple(model._meta.concrete_fields)
    wanted = set(fields)
    return tuple(f for f in model._meta.concrete_fields if f.attname in wanted)
