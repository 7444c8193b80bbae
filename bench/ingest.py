"""Ingest throughput on PostgreSQL: the whole path against a raw multi-row INSERT baseline, in one run.

Creates its own database (dropped at the end), migrates it, and feeds N mentions (default 100,000; 10 % of
them duplicates, redelivered in later pages) as X API v2 `GET /2/users/:id/mentions` pages of 100 — the shape
of ../shared/fixtures/x/v2_get_users_mentions.json with `includes.users`, texts from the simulator's corpus —
through parse → profile upsert → dedup insert (ingest_batch) → triage → case creation, on one process.
Then the baseline: the same rows with `INSERT … ON CONFLICT DO NOTHING`, 1,000 rows a statement, into a
table with the same unique index. The last line printed is one JSON object.

    DATABASE_URL=postgres://sac:sac@127.0.0.1:5432/sac .venv/bin/python bench/ingest.py [--n 100000]
"""

import argparse
import json
import logging
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def admin_connect(url: str):
    import psycopg

    parts = urlsplit(url)
    return psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True)


def build_pages(n: int, brand_id: str, seed: int = 7) -> list[dict]:
    """N tweets in pages of 100, newest first like X; every tenth tweet is a redelivery of an earlier one."""
    from channels_ingest.simulator.corpus import PostFactory

    rng = random.Random(seed)
    factory = PostFactory(seed=seed)
    authors = [{"id": str(10_000_000 + i), "username": f"cliente{i}", "name": f"Cliente {i}",
                "public_metrics": {"followers_count": rng.randint(0, 50_000), "following_count": 10,
                                   "tweet_count": 100, "listed_count": 0}, "verified": rng.random() < 0.01}
               for i in range(max(1, n // 5))]
    start = datetime(2026, 11, 1, tzinfo=UTC)
    unique = n - n // 10
    tweets = []
    for i in range(unique):
        post = factory.next_post()
        author = authors[rng.randrange(len(authors))]
        tweet_id = str(1_850_000_000_000_000_000 + i)
        tweets.append({"id": tweet_id, "text": post.text, "author_id": author["id"], "conversation_id": tweet_id,
                       "created_at": (start + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                       "lang": post.lang, "edit_history_tweet_ids": [tweet_id],
                       "entities": {"mentions": [{"start": 0, "end": 12, "username": "acmetelecom",
                                                  "id": brand_id}]}})
    stream = list(tweets)
    for _ in range(n - unique):
        stream.insert(rng.randrange(len(tweets) // 2, len(stream) + 1), tweets[rng.randrange(len(tweets))])
    by_id = {a["id"]: a for a in authors}
    pages = []
    for offset in range(0, len(stream), 100):
        chunk = stream[offset:offset + 100]
        users = list({t["author_id"]: by_id[t["author_id"]] for t in chunk}.values())
        pages.append({"data": chunk, "includes": {"users": users},
                      "meta": {"result_count": len(chunk), "newest_id": chunk[0]["id"],
                               "oldest_id": chunk[-1]["id"]}})
    return pages


def run_pipeline(pages: list[dict], *, slug: str = "bench", triage: bool = True) -> tuple[float, int]:
    from channels_ingest.models import Mention, PollRun
    from channels_ingest.services import channel_create, ingest_batch
    from channels_ingest.signals import mentions_stored
    from channels_ingest.x.parse import parse_mentions_page
    from inbox.models import Case
    from sac.services import tenant_create

    tenant = tenant_create(slug=slug, name="Bench Telecom")
    receivers = list(mentions_stored.receivers)
    if not triage:
        mentions_stored.receivers = []
    channel = channel_create(tenant=tenant, platform="x", name="@bench", external_account_id="1500000000000000001")
    run = PollRun.objects.create(tenant=tenant, channel=channel)
    started = time.perf_counter()
    for body in pages:
        # json round trip: what the client hands the parser after reading the response
        page = parse_mentions_page("x", json.loads(json.dumps(body)), cursor=dict(channel.cursor or {}),
                                   follow_pages=False)
        ingest_batch(channel=channel, page=page, run=run)  # on commit: mentions_stored → triage (eager)
    elapsed = time.perf_counter() - started
    mentions_stored.receivers = receivers
    stored = Mention.objects.filter(tenant=tenant).count()
    cases = Case.objects.filter(tenant=tenant).count()
    untriaged = Mention.objects.filter(tenant=tenant, triaged_at__isnull=True).count()
    fed = sum(len(p["data"]) for p in pages)
    print(f"pipeline{'' if triage else ' without triage'}: {fed} fed, {stored} stored, {cases} cases, "
          f"{untriaged} untriaged, {elapsed:.1f} s", file=sys.stderr)
    return elapsed, stored


def run_raw(pages: list[dict]) -> tuple[float, int]:
    from django.db import connection

    rows = [(1, 1, t["id"], t["text"], t["created_at"], json.dumps(t)) for p in pages for t in p["data"]]
    with connection.cursor() as cur:
        cur.execute("CREATE TABLE bench_raw (id bigserial PRIMARY KEY, tenant_id bigint NOT NULL, "
                    "channel_id bigint NOT NULL, external_id varchar(200) NOT NULL, text text NOT NULL, "
                    "posted_at timestamptz NOT NULL, raw jsonb NOT NULL, "
                    "CONSTRAINT bench_raw_unique UNIQUE (tenant_id, channel_id, external_id))")
        started = time.perf_counter()
        for offset in range(0, len(rows), 1000):
            chunk = rows[offset:offset + 1000]
            values = ",".join(["(%s,%s,%s,%s,%s,%s)"] * len(chunk))
            cur.execute("INSERT INTO bench_raw (tenant_id, channel_id, external_id, text, posted_at, raw) "
                        f"VALUES {values} ON CONFLICT DO NOTHING", [v for row in chunk for v in row])
        elapsed = time.perf_counter() - started
        cur.execute("SELECT count(*) FROM bench_raw")
        stored = cur.fetchone()[0]
    print(f"raw: {len(rows)} fed, {stored} stored, {elapsed:.1f} s", file=sys.stderr)
    return elapsed, stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    args = parser.parse_args()
    base_url = os.environ.get("DATABASE_URL", "postgres://sac:sac@127.0.0.1:5432/sac")
    db_name = f"sac_bench_ingest_{os.getpid()}"
    admin = admin_connect(base_url)
    admin.execute(f'CREATE DATABASE "{db_name}"')
    os.environ["DATABASE_URL"] = urlunsplit(urlsplit(base_url)._replace(path=f"/{db_name}"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "sac.settings.test"  # PostgreSQL, Celery eager: triage in-process
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        logging.getLogger("celery").setLevel(logging.WARNING)
        pages = build_pages(args.n, "1500000000000000001")
        rss_start = rss_mb()
        # Ingest alone first (parse, profiles, dedup insert, cursor), in its own tenant: where the time goes.
        ingest_s, _ = run_pipeline(pages, slug="bench-ingest-only", triage=False)
        pipeline_s, stored = run_pipeline(pages)
        raw_s, raw_stored = run_raw(pages)
        rss_end = rss_mb()
        assert stored == raw_stored, f"pipeline stored {stored}, raw stored {raw_stored}"
        connection.close()
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        admin.close()
    pipeline_per_s, raw_per_s = args.n / pipeline_s, args.n / raw_s
    print(f"ingest without triage: {round(args.n / ingest_s)} per s", file=sys.stderr)
    print(json.dumps({"n": args.n, "pipeline_per_s": round(pipeline_per_s), "raw_per_s": round(raw_per_s),
                      "ratio": round(pipeline_per_s / raw_per_s, 3), "rss_start_mb": rss_start,
                      "rss_end_mb": rss_end}))


if __name__ == "__main__":
    main()
