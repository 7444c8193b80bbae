"""Inbox speed at scale: queue and case pages under concurrent load, and claim-next under contention.

Seeds (once, then reuses) its own PostgreSQL database `sac_bench_inbox` with --cases cases
(default 1,000,000) across 10 tenants, each case with its customer's mention. Then:

- serves the app with gunicorn on 127.0.0.1 and sends --clients concurrent keep-alive clients
  (default 16) at the queue page and the case page of random agents and cases, and in the
  same run at a minimal view (/healthz) for the server's baseline requests/s;
- runs claim-next with --agents agents (default 50), each on its own database connection,
  until --claims cases are claimed, checking no case was handed out twice.

The last line is one JSON object: {"cases", "queue_p95_ms", "case_p95_ms", "queue_rps", "minimal_rps",
"rps_ratio", "claim_p99_ms", "double_claims"}.

    .venv/bin/python bench/inbox.py [--cases 1000000] [--clients 16] [--requests 800] [--workers 4] [--conn-max-age 60]
                                    [--claim-agents-in processes|threads]
"""

import argparse
import http.client
import json
import os
import queue
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.loopback import free_port, percentile, run_clients  # noqa: E402  (needs the path above)

BASE_URL = os.environ.get("SAC_BENCH_PG", "postgres://sac:sac@127.0.0.1:5432")
# Another name (SAC_BENCH_INBOX_DB) for a copy: `CREATE DATABASE copy TEMPLATE sac_bench_inbox` seeds nothing.
DB_NAME = os.environ.get("SAC_BENCH_INBOX_DB", "sac_bench_inbox")
TENANTS = 10
AGENTS_PER_TENANT = 50




def ensure_database() -> None:
    import psycopg

    with psycopg.connect(f"{BASE_URL}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone():
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def setup_django() -> None:
    os.environ["DATABASE_URL"] = f"{BASE_URL}/{DB_NAME}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "sac.settings.test"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _fill_defaults(model: type, given: dict[str, object]) -> tuple[list[str], list[str], list[object]]:
    """Column list and SQL expressions for INSERT … SELECT, with Python-side defaults for the
    NOT NULL columns the caller did not give (so new columns other apps add do not break the seed)."""
    from django.db import connection

    columns, exprs, params = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(field.column)
        if field.column in given:
            value = given[field.column]
            expr, expr_params = value if isinstance(value, tuple) else (value, [])
            exprs.append(expr)
            params.extend(expr_params)
        elif field.null:
            exprs.append("NULL")
        else:
            exprs.append("%s")
            params.append(field.get_db_prep_save(field.get_default(), connection))
    return columns, exprs, params


def _insert_select(model: type, given: dict[str, object], from_sql: str, from_params: list[object]) -> None:
    """`given` maps a column to an SQL expression, or to (expression, params) when it has placeholders."""
    from django.db import connection

    columns, exprs, params = _fill_defaults(model, given)
    sql = f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) SELECT {', '.join(exprs)} {from_sql}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params + from_params)


def seed(total_cases: int) -> list[dict]:
    """Returns, per tenant: slug, agent user ids and a sample of case ids."""
    from django.db import transaction

    from channels_ingest.models import ChannelAccount, Mention, SocialProfile
    from channels_ingest.services import channel_create
    from inbox.models import Case, CaseMention
    from sac.models import Membership, Role, Tenant
    from sac.services import membership_ensure, tenant_create

    per_tenant = total_cases // TENANTS
    info = []
    for t in range(TENANTS):
        slug = f"bench{t}"
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            tenant = tenant_create(slug=slug, name=f"Bench {t}")
            channel_create(tenant=tenant, platform="x", name=f"@bench{t}", external_account_id=str(9000 + t))
            for a in range(AGENTS_PER_TENANT):
                membership_ensure(tenant=tenant, username=f"{slug}-agent{a}", role=Role.AGENT, password="bench")
        channel = ChannelAccount.objects.get(tenant=tenant)
        existing = Case.objects.filter(tenant=tenant).count()
        if existing < per_tenant:
            missing = per_tenant - existing
            started = time.perf_counter()
            agents = list(Membership.objects.filter(tenant=tenant).values_list("user_id", flat=True))
            with transaction.atomic():
                _insert_select(SocialProfile, {
                    "tenant_id": ("%s", [tenant.pk]), "platform": "'x'", "external_id": "'p' || g",
                    "handle": "'cliente' || g",
                    "name": "'Cliente ' || g", "updated_at": "now()",
                }, "FROM generate_series(%s, %s) g ON CONFLICT DO NOTHING", [1, 20_000])
                texts = ["Minha internet não funciona desde ontem, absurdo", "Fui cobrado duas vezes na fatura",
                         "Quando volta o sinal no centro?", "My internet keeps dropping, please help"]
                _insert_select(Mention, {
                    "tenant_id": ("%s", [tenant.pk]), "channel_id": ("%s", [channel.pk]), "external_id": "'m' || g",
                    "author_id": (f"(SELECT id FROM {SocialProfile._meta.db_table} WHERE tenant_id = %s "
                                  "AND platform = 'x' AND external_id = 'p' || (g %% 20000 + 1))", [tenant.pk]),
                    "text": "(ARRAY[" + ", ".join(f"'{t}'" for t in texts) + "])[g %% 4 + 1] || ' #' || g",
                    "posted_at": "now() - (g || ' seconds')::interval", "received_at": "now()",
                    "triaged_at": "now()", "language": "'pt'",
                }, "FROM generate_series(%s, %s) g", [existing + 1, per_tenant])
                # A third of the cases are open (new/open/pending), the rest resolved; half the open ones assigned.
                _insert_select(Case, {
                    "tenant_id": ("%s", [tenant.pk]), "protocol": "'B-' || lpad(g::text, 8, '0')",
                    "status": "(ARRAY['new','open','pending_customer','resolved','resolved','resolved'])[g %% 6 + 1]",
                    "priority": "(g * 37) %% 101", "channel_id": ("%s", [channel.pk]),
                    "customer_id": (f"(SELECT id FROM {SocialProfile._meta.db_table} WHERE tenant_id = %s "
                                    "AND platform = 'x' AND external_id = 'p' || (g %% 20000 + 1))", [tenant.pk]),
                    "assignee_id": ("CASE WHEN g %% 6 IN (1, 2) THEN (%s::int[])[g %% %s + 1] END",
                                    [agents, len(agents)]),
                    "subject": "'Caso ' || g", "language": "'pt'", "category": "'complaint'",
                    "first_message_at": "now() - (g || ' seconds')::interval",
                    "last_customer_message_at": "now() - (g || ' seconds')::interval",
                    "first_response_due": "now() + ((g %% 120) || ' minutes')::interval",
                    "resolution_due": "now() + interval '1 day'",
                    "resolved_at": "CASE WHEN g %% 6 >= 3 THEN now() END",
                    "created_at": "now()", "updated_at": "now()",
                }, "FROM generate_series(%s, %s) g", [existing + 1, per_tenant])
                _insert_select(CaseMention, {
                    "tenant_id": "c.tenant_id",
                    "case_id": "c.id", "mention_id": "m.id",
                }, f"FROM {Case._meta.db_table} c JOIN {Mention._meta.db_table} m "
                   "ON m.tenant_id = c.tenant_id AND m.external_id = 'm' || substr(c.protocol, 3)::int "
                   "WHERE c.tenant_id = %s AND substr(c.protocol, 3)::int > %s", [tenant.pk, existing])
            print(f"seeded {slug}: {missing} cases in {time.perf_counter() - started:.1f} s", flush=True)
        sample = list(Case.objects.filter(tenant=tenant).order_by("?").values_list("pk", flat=True)[:500])
        agents = list(Membership.objects.filter(tenant=tenant, user__username__contains="-agent")
                      .order_by("pk").values_list("user_id", flat=True))  # not bench_claims' shift agents
        info.append({"slug": slug, "tenant_id": tenant.pk, "agents": agents, "cases": sample})
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        # As autovacuum leaves a live table: without the visibility map, every index-only scan (the sidebar
        # counts, the agent's load in claim-next) visits the heap for each row after a fresh seed.
        cursor.execute(f"VACUUM {Case._meta.db_table}")
    return info


def session_cookies(info: list[dict]) -> dict[int, str]:
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model

    # Stored as a login stores them (settings.SESSION_ENGINE: the cache, with the database behind it).
    SessionStore = import_module(settings.SESSION_ENGINE).SessionStore  # noqa: N806
    cookies = {}
    users = get_user_model().objects.in_bulk([uid for t in info for uid in t["agents"][:20]])
    for uid, user in users.items():
        store = SessionStore()
        store[SESSION_KEY] = str(uid)
        store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        cookies[uid] = store.session_key
    return cookies




def load(port: int, paths: list[tuple[str, str]], clients: int, total: int) -> tuple[list[float], float, int]:
    """`total` requests spread over `clients` keep-alive connections. Returns latencies (ms), rps, errors."""

    def requests_of(index: int):  # noqa: ANN202
        rng = random.Random(index)
        for _ in range(total // clients):
            path, cookie = rng.choice(paths)
            yield "GET", path, None, {"Cookie": f"sessionid={cookie}"} if cookie else {}

    return run_clients(port, clients, requests_of)


def bench_claims(info: list[dict], agents: int, claims: int, mode: str, who: str = "shift") -> tuple[list[float], int]:
    """Each agent on its own connection, opened and warmed before the clock starts: every agent makes one
    claim first, as a worker's persistent connection has made earlier ones (the figure is the claim, not a
    PostgreSQL login, the backend's first look at inbox_case and its indexes, or the PREPARE: measured, those
    50 cold first claims were the slowest 5 % of the calls, median 283 ms against 64 ms for the rest, so they
    alone made the p99). Their times are printed apart. Then all start together and claim back to back.

    `who`: "shift" (the default) are 50 agents starting a shift with no open case and a cap that fits the
    claims they make (the model's default cap is 20); "seeded" are the seed's agents, each already holding
    ~670 open cases, with the cap lifted (10**6) so they can claim at all: every claim then counts their open
    cases against the cap (claim-next's `load`), ~1 ms of PostgreSQL time a claim on its own.

    In threads of this process (the default), where the GIL queues the agents' Python behind each other, or in
    50 processes, which on 2 cores queue for the CPU instead (measured slower on the 2-core machine)."""
    import multiprocessing

    from django.db import connection, connections

    from inbox.models import Case
    from inbox.services import CaseActionError, case_claim_next
    from sac.models import Membership, Role, Tenant
    from sac.services import membership_ensure

    tenant = Tenant.objects.get(pk=info[0]["tenant_id"])
    per_agent = max(1, claims // agents)
    if who == "shift":
        memberships = [membership_ensure(tenant=tenant, username=f"{tenant.slug}-shift{a}", role=Role.AGENT)
                       for a in range(agents)]
        memberships = list(Membership.objects.filter(pk__in=[m.pk for m in memberships]).select_related("user"))
        Case.objects.filter(tenant=tenant, assignee__in=[m.user for m in memberships]).update(
            assignee=None, status="new")  # an earlier run's claims, if it was cut short
        cap = per_agent + 1  # the warm-up claim and the timed ones, no more
    else:
        memberships = list(Membership.objects.filter(tenant=tenant, user__username__contains="-agent")
                           .select_related("user")[:agents])
        cap = 10**6
    for m in memberships:
        m.max_open_cases = cap
    ctx = multiprocessing.get_context("fork")
    start = ctx.Barrier(len(memberships)) if mode == "processes" else threading.Barrier(len(memberships))
    results = ctx.Queue() if mode == "processes" else queue.SimpleQueue()

    def agent(m) -> None:
        mine_ids, mine_lat, first_lat = [], [], []
        try:
            started = time.perf_counter()
            warm = case_claim_next(tenant=tenant, membership=m)  # not in the figure: see the docstring
            first_lat.append((time.perf_counter() - started) * 1000)
            if warm is not None:
                mine_ids.append(warm.pk)
            start.wait(timeout=300)
            for _ in range(per_agent):
                started = time.perf_counter()
                try:
                    case = case_claim_next(tenant=tenant, membership=m)
                except CaseActionError:
                    case = None
                mine_lat.append((time.perf_counter() - started) * 1000)
                if case is not None:
                    mine_ids.append(case.pk)
        finally:
            connection.close()
            results.put((mine_ids, mine_lat, first_lat))

    connections.close_all()  # a forked agent must not inherit this process's connection
    if mode == "processes":
        workers = [ctx.Process(target=agent, args=(m,)) for m in memberships]
    else:
        workers = [threading.Thread(target=agent, args=(m,)) for m in memberships]
    for w in workers:
        w.start()
    claimed: list[int] = []
    latencies: list[float] = []
    cold: list[float] = []
    for _ in workers:
        ids, lat, first = results.get(timeout=900)
        claimed.extend(ids)
        latencies.extend(lat)
        cold.extend(first)
    for w in workers:
        w.join()
    double = len(claimed) - len(set(claimed))
    refused = len(latencies) + len(workers) - len(claimed)
    assert refused == 0, f"{refused} claims found nothing or hit the cap: the timed calls must all claim a case"
    # Give the claimed cases back so the next run finds the same queue.
    Case.objects.filter(tenant=tenant, pk__in=claimed).update(assignee=None, status="new")
    print(f"claim-next, each agent's first claim on its new connection (not in the figure, made before the others "
          f"start): median {statistics.median(cold):.1f} ms, max {max(cold):.1f} ms", flush=True)
    return latencies, double


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=800, help="per page kind")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--claims", type=int, default=1000)
    parser.add_argument("--claim-agents", choices=["shift", "seeded"], default="shift",
                        help="shift: agents with no open case and a cap that fits their claims; seeded: the seed's "
                             "agents, ~670 open cases each, cap lifted (see bench_claims)")
    parser.add_argument("--claim-agents-in", choices=["threads", "processes"], default="threads",
                        help="run the claiming agents as threads of this process (as before) or as processes")
    parser.add_argument("--conn-max-age", type=int, default=60,
                        help="the server's CONN_MAX_AGE: 60 as in production; 0 opens a connection per request")
    args = parser.parse_args()

    ensure_database()
    setup_django()
    info = seed(args.cases)
    cookies = session_cookies(info)
    from inbox.models import Case

    total_cases = Case.objects.count()

    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"{BASE_URL}/{DB_NAME}", "DJANGO_SETTINGS_MODULE": "bench.inbox_settings",
           "SAC_BENCH_CONN_MAX_AGE": str(args.conn_max_age), "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "sac.wsgi:application", "-b", f"127.0.0.1:{port}",
         "-w", str(args.workers), "--log-level", "warning"], cwd=ROOT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/healthz")
                break
            except OSError:
                time.sleep(0.2)
        queue_paths, case_paths = [], []
        for t in info:
            for uid in t["agents"][:20]:
                for view in ("mine", "unassigned", "all"):
                    queue_paths.append((f"/t/{t['slug']}/?view={view}", cookies[uid]))
                for case_id in t["cases"][:25]:
                    case_paths.append((f"/t/{t['slug']}/cases/{case_id}/", cookies[uid]))
        load(port, queue_paths[:50] + case_paths[:50], args.clients, 200)  # warm up every worker
        queue_lat, queue_rps, queue_err = load(port, queue_paths, args.clients, args.requests)
        case_lat, case_rps, case_err = load(port, case_paths, args.clients, args.requests)
        minimal_lat, minimal_rps, minimal_err = load(port, [("/healthz", "")], args.clients, args.requests)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    claim_lat, double = bench_claims(info, args.agents, args.claims, args.claim_agents_in,
                                      args.claim_agents)
    print(f"server: gunicorn, {args.workers} sync workers, CONN_MAX_AGE {args.conn_max_age}; "
          f"clients: {args.clients} keep-alive connections; {os.cpu_count()} cores", flush=True)
    print(f"queue page: {len(queue_lat)} requests, p50 {percentile(queue_lat, .5):.1f} ms, "
          f"p95 {percentile(queue_lat, .95):.1f} ms, {queue_rps:.0f} req/s, {queue_err} errors")
    print(f"case page:  {len(case_lat)} requests, p50 {percentile(case_lat, .5):.1f} ms, "
          f"p95 {percentile(case_lat, .95):.1f} ms, {case_rps:.0f} req/s, {case_err} errors")
    print(f"minimal view (/healthz): p95 {percentile(minimal_lat, .95):.1f} ms, {minimal_rps:.0f} req/s, "
          f"{minimal_err} errors")
    print(f"claim-next: {len(claim_lat)} calls by {args.agents} {args.claim_agents} agents "
          f"({args.claim_agents_in}) on their own warm connections, "
          f"median {statistics.median(claim_lat):.1f} ms, p99 {percentile(claim_lat, .99):.1f} ms, "
          f"double claims {double}")
    print(json.dumps({
        "cases": total_cases, "queue_p95_ms": round(percentile(queue_lat, .95), 1),
        "case_p95_ms": round(percentile(case_lat, .95), 1), "queue_rps": round(queue_rps),
        "minimal_rps": round(minimal_rps), "rps_ratio": round(queue_rps / minimal_rps, 3),
        "claim_p99_ms": round(percentile(claim_lat, .99), 1), "double_claims": double,
    }))


if __name__ == "__main__":
    main()
