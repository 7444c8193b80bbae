"""What one inbox request costs, without the noise of 16 clients on a shared machine: the statements and the
CPU time of this process (Django's own work, not PostgreSQL's) for the unread-count poll (the smallest tenant
page), the queue page, its polled rows, the case page as a colleague sees it, its polled thread, and claim-next,
in-process (Django's test client) on the database bench/inbox.py seeded. CPU is the minimum and the median of
7 batches of 30 requests: process time, which other jobs on the machine disturb far less than wall-clock
latencies.

    .venv/bin/python bench/inbox_pages.py      (after bench/inbox.py has seeded its database once)

Claimed cases are given back at the end, as bench/inbox.py does.
"""

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BASE_URL = os.environ.get("SAC_BENCH_PG", "postgres://sac:sac@127.0.0.1:5432")
DB_NAME = os.environ.get("SAC_BENCH_INBOX_DB", "sac_bench_inbox")


def main() -> None:
    os.environ["DATABASE_URL"] = f"{BASE_URL}/{DB_NAME}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.inbox_settings"  # persistent connections, as production
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    from inbox.models import Case
    from inbox.services import case_claim_next
    from sac.models import Membership, Tenant

    def statements(fn) -> int:
        seen = []

        def record(execute, sql, params, many, context):  # noqa: ANN001, ANN202
            seen.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(record):
            fn()
        return len(seen)

    def measure(label: str, fn, n: int = 30, batches: int = 7) -> None:  # noqa: ANN001
        fn()  # warm: templates, prepared statements
        count = statements(fn)
        per_batch = []
        for _ in range(batches):
            started = time.process_time()
            for _ in range(n):
                fn()
            per_batch.append(1000 * (time.process_time() - started) / n)
        per_batch.sort()
        print(f"{label:36s} {count:3d} statements, CPU min {per_batch[0]:6.2f} ms, "
              f"median {per_batch[len(per_batch) // 2]:6.2f} ms", flush=True)

    tenant = Tenant.objects.get(slug="bench0")
    agent = Membership.objects.filter(tenant=tenant).select_related("user", "tenant").order_by("pk")[3]
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(agent.user)
    others = list(Case.objects.filter(tenant=tenant).exclude(assignee_id=agent.user_id).order_by("pk")
                  .values_list("pk", flat=True)[1000:1040])
    turn = iter(range(10**9))
    measure("minimal view (/healthz)", lambda: client.get("/healthz"))
    # The smallest tenant page: what every signed-in request pays (session, user, memberships) plus one count.
    measure("unread count (polled every 10 s)", lambda: client.get("/t/bench0/notifications/bell/"))
    for view in ("mine", "unassigned", "all"):
        measure(f"queue page, {view}", lambda view=view: client.get(f"/t/bench0/?view={view}"))
    measure("queue rows (polled every 4 s), all", lambda: client.get("/t/bench0/queue/rows/?view=all"))
    measure("case page, a colleague's view", lambda: client.get(f"/t/bench0/cases/{others[next(turn) % 40]}/"))
    measure("case thread (polled every 3 s)",
            lambda: client.get(f"/t/bench0/cases/{others[next(turn) % 40]}/thread/"))

    claimer_tenant = Tenant.objects.get(slug="bench1")
    claimers = list(Membership.objects.filter(tenant=claimer_tenant).select_related("user").order_by("pk")[:5])
    for m in claimers:
        m.max_open_cases = 10**6
    claimed: list[int] = []

    def claim() -> None:
        case = case_claim_next(tenant=claimer_tenant, membership=claimers[len(claimed) % len(claimers)])
        claimed.append(case.pk)

    try:
        measure("claim-next (the service)", claim, n=20, batches=5)
    finally:
        Case.objects.filter(tenant=claimer_tenant, pk__in=claimed).update(assignee=None, status="new")


if __name__ == "__main__":
    main()
