"""The floor PostgreSQL and the machine set for claim-next, with no Python on the client side.

bench/inbox.py measures claim-next as the inbox runs it: 50 agents, each on its own connection, claiming back to
back through the Python service. This bench runs the very statement the service sends (built by
inbox.services.cases._claim_next_sql, prepared, as the service prepares it) from pgbench, a C client whose own
cost per call is a few microseconds, on the same database, with the same agents and the same number of claims.
What it prints is what claim-next cannot beat on this machine however little Python runs around it: if its p99
is over the target, the target is out of reach here whatever the service does.

It also checks, from the database, that no case went to two agents: every claim writes one `case.assigned` audit
row, so the claims made and the cases their agents hold must be equal. Claimed cases are given back at the end.

    .venv/bin/python bench/claim_floor.py [--agents 50] [--claims 1000]   (after bench/inbox.py seeded once)

The last line is one JSON object: {"agents", "claims", "p50_ms", "p99_ms", "claims_per_s", "double_claims"}.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.inbox import BASE_URL, DB_NAME, ensure_database, seed, setup_django  # noqa: E402
from bench.loopback import percentile  # noqa: E402


def claim_script(tenant_id: int, first_membership: int, cap: int) -> str:
    """The service's statement with pgbench variables for its parameters: client n is the n-th shift agent,
    whose membership and user ids are equal in the seeded database (checked by the caller)."""
    from inbox.services.cases import _claim_next_sql

    sql = _claim_next_sql(languages=False, platforms=False, cap=cap)
    for name, value in (("tenant", str(int(tenant_id))), ("user", ":agent"), ("membership", ":agent"),
                        ("object_type", "'inbox.case'"), ("now", "now()")):
        sql = sql.replace(f"%({name})s", value)
    assert "%(" not in sql, "a parameter of the claim statement has no pgbench value"
    # pgbench reads one statement per line: drop the SQL comments, then join the lines.
    sql = " ".join(line.split("--")[0] for line in sql.splitlines()).strip()
    return f"\\set agent {int(first_membership)} + :client_id\n{sql};\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--claims", type=int, default=1000)
    args = parser.parse_args()
    pgbench = shutil.which("pgbench") or next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"))), None)
    if pgbench is None:
        sys.exit("pgbench not found: it comes with PostgreSQL (Debian's postgresql package, which make test "
                 "installs when missing)")

    ensure_database()
    setup_django()
    info = seed(1_000_000)
    from inbox.models import Case
    from sac.models import AuditEvent, Membership, Role, Tenant
    from sac.services import membership_ensure

    tenant = Tenant.objects.get(pk=info[0]["tenant_id"])
    per_agent = max(1, args.claims // args.agents)
    # The same shift agents bench/inbox.py uses: no open case, the default cap's size.
    agents = sorted((membership_ensure(tenant=tenant, username=f"{tenant.slug}-shift{a}", role=Role.AGENT)
                     for a in range(args.agents)), key=lambda m: m.pk)
    ids = [(m.pk, m.user_id) for m in agents]
    assert all(pk == user_id == ids[0][0] + n for n, (pk, user_id) in enumerate(ids)), (
        "the shift agents' membership and user ids are not one run of equal numbers: pgbench cannot name them")
    users = [m.user_id for m in agents]
    caps = {m.pk: m.max_open_cases for m in agents}
    Case.objects.filter(tenant=tenant, assignee_id__in=users).update(assignee=None, status="new")
    # The first claim and the timed ones, no more (as bench/inbox.py sets it).
    Membership.objects.filter(tenant=tenant, pk__in=[m.pk for m in agents]).update(max_open_cases=per_agent + 1)
    audit_before = AuditEvent.objects.filter(tenant=tenant, verb="case.assigned", actor_id__in=users).count()

    parts = urlsplit(f"{BASE_URL}/{DB_NAME}")
    env = {**os.environ, "PGPASSWORD": parts.password or ""}
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp, "claim.sql")
        script.write_text(claim_script(tenant.pk, ids[0][0], per_agent + 1))
        run = subprocess.run(
            [pgbench, "-n", "-M", "prepared", "-f", str(script), "-c", str(args.agents), "-j", "2",
             "-t", str(per_agent + 1), "-l", "--log-prefix", str(Path(tmp, "log")),
             "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432), "-U", parts.username or "postgres",
             DB_NAME],
            env=env, capture_output=True, text=True, timeout=600)
        if run.returncode != 0:
            sys.exit(f"pgbench failed:\n{run.stdout}\n{run.stderr}")
        # Per-transaction log lines: client_id transaction_no latency_us script_no epoch_s epoch_us. Each
        # connection's first claim (number 1 in the log) is left out, as bench/inbox.py leaves it out: it pays for the
        # PREPARE and the new backend's first look at the tables, not for the claim.
        lines = [line.split() for log in Path(tmp).glob("log*") for line in log.read_text().splitlines()]
        timed = [f for f in lines if f[1] != "1"]
        latencies = sorted(int(f[2]) / 1000 for f in timed)
        first = sorted(int(f[2]) / 1000 for f in lines if f[1] == "1")
        ends = [int(f[4]) + int(f[5]) / 1e6 for f in timed]
        span = max(ends) - min(end - int(f[2]) / 1e6 for end, f in zip(ends, timed, strict=True))
    rate = len(latencies) / span
    claimed = Case.objects.filter(tenant=tenant, assignee_id__in=users).count()
    made = AuditEvent.objects.filter(tenant=tenant, verb="case.assigned", actor_id__in=users).count() - audit_before
    # Give the cases back (and the default cap) so bench/inbox.py finds the queue as it was.
    Case.objects.filter(tenant=tenant, assignee_id__in=users).update(assignee=None, status="new")
    for pk, cap in caps.items():
        Membership.objects.filter(tenant=tenant, pk=pk).update(max_open_cases=cap)
    assert made == len(latencies) + len(first), f"{len(latencies) + len(first) - made} claims took no case"
    print(f"pgbench: {args.agents} connections (one per agent), a first claim each (not in the figure: median "
          f"{percentile(first, .5):.1f} ms), then {per_agent} each, back to back, prepared; {os.cpu_count()} cores",
          file=sys.stderr)
    print(f"claim statement alone: p50 {percentile(latencies, .5):.1f} ms, p99 {percentile(latencies, .99):.1f} ms, "
          f"{rate:.0f} claims/s; {made} claims, {claimed} cases held", file=sys.stderr)
    print(json.dumps({"agents": args.agents, "claims": len(latencies), "p50_ms": round(percentile(latencies, .5), 1),
                      "p99_ms": round(percentile(latencies, .99), 1), "claims_per_s": round(rate),
                      "double_claims": made - claimed}))


if __name__ == "__main__":
    main()
