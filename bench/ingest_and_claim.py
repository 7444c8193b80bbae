"""Ingest throughput and claim latency on the configured database (PostgreSQL under `make bench`).

Stores BENCH_PAGES pages of 100 mentions through ingest_batch (the path polling and
webhooks share), re-ingests them to time the duplicate path, triages them, then has
one agent claim cases one by one. Works in a throw-away tenant that it deletes.

    make bench            # or: DJANGO_SETTINGS_MODULE=sac.settings.test .venv/bin/python bench/ingest_and_claim.py
"""

import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sac.settings.test")
# Its own database, so rows other runs left behind (written under another key, say) never get in the way.
_PG = os.environ.get("SAC_BENCH_PG", "postgres://sac:sac@127.0.0.1:5432")
os.environ["DATABASE_URL"] = f"{_PG}/sac_bench_ingest_claim"


def _ensure_database() -> None:
    import psycopg

    with psycopg.connect(f"{_PG}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'sac_bench_ingest_claim'").fetchone():
            conn.execute('CREATE DATABASE "sac_bench_ingest_claim"')


_ensure_database()

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from channels_ingest.models import PollRun  # noqa: E402
from channels_ingest.services import channel_create, ingest_batch  # noqa: E402
from channels_ingest.signals import mentions_stored  # noqa: E402
from channels_ingest.types import MentionItem, Page, ProfileItem  # noqa: E402
from inbox.services import case_claim_next, mentions_triage  # noqa: E402
from sac.models import Role, Tenant  # noqa: E402
from sac.services import membership_ensure, tenant_create  # noqa: E402

PAGES = int(os.environ.get("BENCH_PAGES", "20"))
CLAIMS = int(os.environ.get("BENCH_CLAIMS", "200"))
TEXTS = ["@acme sem internet desde ontem, não funciona!", "@acme how do I change my plan?",
         "@acme cobrança indevida na fatura, quero estorno", "@acme meu número é (11) 98765-4321"]


def page(n: int, offset: int) -> Page:
    items = [
        MentionItem(external_id=str(offset + i), kind="post", text=TEXTS[i % 4], posted_at=datetime.now(UTC),
                    raw={"id": str(offset + i)},
                    author=ProfileItem(platform="x", external_id=str(5000 + (offset + i) % 3000), handle=f"u{i}"))
        for i in range(n)
    ]
    return Page(items=items, cursor={"since_id": str(offset + n)})


def main() -> None:
    call_command("migrate", verbosity=0)
    # Time storing and triage apart: without this, eager Celery would triage inside each ingest.
    mentions_stored.disconnect(dispatch_uid="inbox.triage_on_mentions_stored")
    slug = f"bench-{uuid.uuid4().hex[:8]}"
    tenant = tenant_create(slug=slug, name="Bench")
    try:
        channel = channel_create(tenant=tenant, platform="x", name="bench", external_account_id="1")
        agent = membership_ensure(tenant=tenant, username=f"{slug}-agent", role=Role.AGENT)
        agent.max_open_cases = 10**6
        pages = [page(100, 10_000_000 + p * 100) for p in range(PAGES)]

        def run_all() -> tuple[float, list[int]]:
            ids: list[int] = []
            start = time.perf_counter()
            for pg in pages:
                run = PollRun.objects.create(tenant=tenant, channel=channel)
                ids += ingest_batch(channel=channel, page=pg, run=run).stored_ids
            return time.perf_counter() - start, ids

        fresh_s, ids = run_all()
        dup_s, dup_ids = run_all()
        start = time.perf_counter()
        cases = mentions_triage(tenant_id=tenant.pk, mention_ids=ids)
        triage_s = time.perf_counter() - start
        open_cases = len({c.pk for c in cases})
        latencies = []
        for _ in range(min(CLAIMS, open_cases)):
            t0 = time.perf_counter()
            case_claim_next(tenant=tenant, membership=agent)
            latencies.append((time.perf_counter() - t0) * 1000)
        total = PAGES * 100
        print(f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}")
        print(f"ingest new:        {total} mentions in {fresh_s:.2f} s = {total / fresh_s:,.0f} mentions/s")
        print(f"ingest duplicates: {total} mentions in {dup_s:.2f} s = {total / dup_s:,.0f} mentions/s "
              f"(stored again: {len(dup_ids)})")
        print(f"triage:            {total} mentions in {triage_s:.2f} s = {total / triage_s:,.0f} mentions/s "
              f"({open_cases} cases opened)")
        if latencies:
            print(f"claim_next:        {len(latencies)} claims, median {statistics.median(latencies):.1f} ms, "
                  f"p90 {statistics.quantiles(latencies, n=10)[-1]:.1f} ms")
    finally:
        Tenant.objects.filter(pk=tenant.pk).delete()


if __name__ == "__main__":
    main()
