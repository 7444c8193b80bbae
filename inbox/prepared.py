"""Named prepared statements for the inbox's hand-written statements that run on every poll and every claim.

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
from typing import Any

from django.db import connection

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
    connection.ensure_connection()
    done = _prepared.setdefault(connection.connection, set())
    if name not in done:
        with connection.cursor() as cursor:
            cursor.execute(f"PREPARE {name} AS {text}")
        done.add(name)
    return f"EXECUTE {name}({', '.join(['%s'] * len(names))})", [params[n] for n in names]
