"""Webhook acknowledgement time: how fast a signed Facebook delivery is verified, stored raw and answered.

Creates its own PostgreSQL database (dropped at the end) and, unless --redis-url is given, its own throwaway
redis-server on a free loopback port (no persistence, stopped at the end) as the broker. Serves the app with
gunicorn on 127.0.0.1 using the production settings (persistent connections, tasks published to the broker,
not run in the request), and sends M (default 2,000) signed `feed` webhook POSTs — each a distinct comment, in
the envelope of ../shared/fixtures/facebook/webhooks/feed_webhook_changes.json — from 8 concurrent keep-alive
clients. No Celery worker consumes meanwhile: the figure is the web path alone (verify, store, enqueue, 200).
Then checks that every body sent is stored byte for byte in WebhookDelivery.

The last line is one JSON object: {"requests", "ack_p50_ms", "ack_p95_ms", "ack_p99_ms", "stored"}.

    DATABASE_URL=postgres://sac:sac@127.0.0.1:5432/sac .venv/bin/python bench/webhook_ack.py [--m 2000]
        [--clients 8] [--workers 4] [--redis-url redis://127.0.0.1:6379/13]
"""

import argparse
import hashlib
import hmac
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.loopback import free_port, percentile, run_clients  # noqa: E402  (needs the path above)

PAGE_ID = "137542570280222"
APP_SECRET = "bench-app-secret"




def body_for(i: int) -> bytes:
    """A Page `feed` change (a customer's comment), as Meta sends it; each delivery a different comment."""
    value = {"from": {"id": str(2_000_000 + i % 500), "name": f"Cliente {i % 500}"},
             "post": {"status_type": "added_photos", "is_published": True, "updated_time": "2026-11-23T10:00:00+0000",
                      "permalink_url": f"https://www.facebook.com/{PAGE_ID}/posts/1353269864728879",
                      "promotion_status": "inactive", "id": f"{PAGE_ID}_1353269864728879"},
             "message": f"Minha internet caiu de novo, protocolo {i} 😤", "post_id": f"{PAGE_ID}_1353269864728879",
             "comment_id": f"1353269864728879_{1_400_000_000 + i}", "created_time": 1795428942 + i,
             "item": "comment", "parent_id": f"{PAGE_ID}_1353269864728879", "verb": "add"}
    envelope = {"object": "page", "entry": [{"id": PAGE_ID, "time": 1795428942 + i,
                                             "changes": [{"field": "feed", "value": value}]}]}
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()


def start_redis(workdir: str) -> tuple[subprocess.Popen, str]:
    if not shutil.which("redis-server"):
        sys.exit("redis-server is not installed: pass --redis-url redis://…/<a db of your own>")
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", workdir], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    sys.exit("redis-server did not start")


def send_all(port: int, path: str, bodies: list[bytes], clients: int) -> tuple[list[float], int]:
    """Each client takes every `clients`-th body on its own keep-alive connection. Returns latencies (ms), errors."""

    def requests_of(index: int):  # noqa: ANN202
        for body in bodies[index::clients]:
            signature = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
            yield "POST", path, body, {"Content-Type": "application/json", "X-Hub-Signature-256": signature}

    latencies, _rps, errors = run_clients(port, clients, requests_of)
    return latencies, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--m", type=int, default=2000, help="webhook POSTs to send")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--redis-url", default="", help="broker to use instead of a throwaway redis-server")
    args = parser.parse_args()

    import psycopg

    base_url = os.environ.get("DATABASE_URL", "postgres://sac:sac@127.0.0.1:5432/sac")
    db_name = f"sac_bench_webhook_{os.getpid()}"
    db_url = urlunsplit(urlsplit(base_url)._replace(path=f"/{db_name}"))
    admin = psycopg.connect(urlunsplit(urlsplit(base_url)._replace(path="/postgres")), autocommit=True)
    admin.execute(f'CREATE DATABASE "{db_name}"')
    workdir = tempfile.mkdtemp(prefix="sac-bench-webhook-")
    redis_proc, redis_url = (None, args.redis_url) if args.redis_url else start_redis(workdir)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "sac.settings.prod", "DATABASE_URL": db_url,
           "REDIS_URL": redis_url, "SECRET_KEY": "bench-only", "SAC_FIELD_ENCRYPTION_KEY": "bench-field-key",
           "PYTHONPATH": str(ROOT)}
    os.environ.update({k: env[k] for k in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "SECRET_KEY",
                                           "SAC_FIELD_ENCRYPTION_KEY")})
    server = None
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        from channels_ingest.models import Platform, WebhookDelivery
        from channels_ingest.services import channel_create
        from sac.services import tenant_create

        call_command("migrate", verbosity=0)
        tenant = tenant_create(slug="bench-webhooks", name="Bench Webhooks")
        channel = channel_create(tenant=tenant, platform=Platform.FACEBOOK, name="Bench page",
                                 external_account_id=PAGE_ID,
                                 credentials={"page_access_token": "t", "app_secret": APP_SECRET,
                                              "verify_token": "vt"})
        connection.close()

        port = free_port()
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "sac.wsgi:application", "-b", f"127.0.0.1:{port}",
             "-w", str(args.workers), "--log-level", "warning"], cwd=ROOT, env=env, start_new_session=True)
        path = f"/hooks/facebook/{channel.webhook_key}/"
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", path, headers={})  # a refused verification: the server is up
                conn.getresponse().read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    sys.exit("gunicorn did not start")
                time.sleep(0.2)
        # Warm every worker's database connection and imports, outside the measurement.
        send_all(port, path, [body_for(-1 - i) for i in range(args.workers * 4)], args.clients)

        bodies = [body_for(i) for i in range(args.m)]
        started = time.perf_counter()
        latencies, errors = send_all(port, path, bodies, args.clients)
        elapsed = time.perf_counter() - started

        sent = {hashlib.sha256(b).hexdigest() for b in bodies}
        stored_hashes = {hashlib.sha256(bytes(b)).hexdigest()
                         for b in WebhookDelivery.objects.filter(tenant=tenant, channel=channel)
                         .values_list("body", flat=True).iterator()}
        stored = len(sent & stored_hashes)
        connection.close()
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        if redis_proc is not None:
            redis_proc.kill()
            redis_proc.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)
        admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        admin.close()

    print(f"server: gunicorn, {args.workers} sync workers, production settings, broker {redis_url.split('@')[-1]}; "
          f"clients: {args.clients} keep-alive connections; {os.cpu_count()} cores", file=sys.stderr)
    print(f"{len(latencies)} signed POSTs in {elapsed:.1f} s ({len(latencies) / elapsed:.0f}/s), {errors} not 200; "
          f"ack p50 {percentile(latencies, .5):.1f} ms, p95 {percentile(latencies, .95):.1f} ms, "
          f"p99 {percentile(latencies, .99):.1f} ms, max {max(latencies):.1f} ms; "
          f"{stored} of {len(bodies)} bodies stored byte for byte", file=sys.stderr)
    print(json.dumps({"requests": len(latencies), "ack_p50_ms": round(percentile(latencies, .5), 1),
                      "ack_p95_ms": round(percentile(latencies, .95), 1),
                      "ack_p99_ms": round(percentile(latencies, .99), 1), "stored": stored}))


if __name__ == "__main__":
    main()
