"""Throwaway infrastructure for the restart tests: a PostgreSQL cluster and a Redis server the test starts,
restarts and kills itself, and a real Celery worker (with its beat) pointed at them.

Nothing here touches the shared PostgreSQL server or Redis the rest of the suite uses. Every process is
started by us, in its own session, and stopped by its own id (or its postmaster.pid) on the way out.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
PG_BINS = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))


def require_throwaway_tools(*, redis: bool = False) -> None:
    """Skip (with the reason) where this machine cannot host a throwaway cluster: CI here runs as root."""
    if os.geteuid() != 0:
        pytest.skip("the restart tests run initdb/pg_ctl as the postgres user via runuser, which needs root")
    if not shutil.which("runuser"):
        pytest.skip("runuser is not installed (needed to run initdb/pg_ctl as the postgres user)")
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("there is no postgres system user to own a throwaway cluster")
    if not PG_BINS or not os.path.exists(f"{PG_BINS[-1]}/initdb"):
        pytest.skip("no initdb/pg_ctl under /usr/lib/postgresql/*/bin")
    if redis and not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], Any], *, timeout: float, what: str, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


class ThrowawayPostgres:
    """initdb + pg_ctl as the postgres user, on a free port, in a temp dir that is removed on stop()."""

    def __init__(self) -> None:
        self.bin = PG_BINS[-1]
        self.dir = Path(tempfile.mkdtemp(prefix="sac-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        shutil.chown(self.dir, user="postgres")

    def _pg(self, *args: str, timeout: float = 60) -> None:
        result = subprocess.run(["runuser", "-u", "postgres", "--", *args], capture_output=True, text=True,
                                timeout=timeout, cwd=self.dir)
        if result.returncode != 0:
            log = (self.dir / "log").read_text() if (self.dir / "log").exists() else ""
            raise RuntimeError(f"{args[0]} failed: {result.stdout}{result.stderr}\n{log[-2000:]}")

    def _ctl(self, action: str, *extra: str) -> None:
        self._pg(f"{self.bin}/pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"), "-w", "-t", "30",
                 "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off", action, *extra)

    def start(self) -> ThrowawayPostgres:
        if not self.data.exists():
            self._pg(f"{self.bin}/initdb", "-D", str(self.data), "-U", "sac", "--auth=trust", "-E", "UTF8",
                     "--no-sync")
        self._ctl("start")
        return self

    def restart(self, mode: str = "fast") -> None:
        """`immediate` is a crash as far as clients are concerned: connections cut, open transactions lost."""
        self._ctl("restart", "-m", mode)

    def url(self, dbname: str) -> str:
        return f"postgres://sac@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, dbname: str) -> str:
        with psycopg.connect(self.url("postgres").replace("postgres://", "postgresql://"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{dbname}"')
        return self.url(dbname)

    def stop(self) -> None:
        try:
            self._pg(f"{self.bin}/pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=30)
        except (RuntimeError, subprocess.TimeoutExpired):
            pid_file = self.data / "postmaster.pid"
            # A half-written pid file or a postmaster already gone: nothing left to kill.
            if pid_file.exists():
                with contextlib.suppress(ValueError, ProcessLookupError):
                    os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)


class ThrowawayRedis:
    """redis-server on a free port with no persistence: killing it loses every queued message, like a real
    restart of a cache-configured Redis."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> ThrowawayRedis:
        log = open(self.workdir / f"redis-{self.port}.log", "ab")  # noqa: SIM115  (closed with the process)
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        wait_for(self._pong, timeout=15, what="redis-server to answer PING")
        return self

    def _pong(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None


class CeleryWorker:
    """`celery -A sac worker -B` as deployed (prefork, late acks, the project's beat schedule), in its own
    process group so the test can stop it and its children by that group's id."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env = env
        self.workdir = workdir
        self.log_path = workdir / "worker.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> CeleryWorker:
        log = open(self.log_path, "ab")  # noqa: SIM115  (closed with the process)
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("celery")), "-A", "sac", "worker", "-B",
             "-s", str(self.workdir / "beat-schedule"), "-Q", "celery,ingest,outbound,sla,surveys,crm",
             "--pool", "prefork", "--concurrency", "1", "--without-gossip", "--without-mingle",
             "--loglevel", "INFO", "-n", f"restart-test-{os.getpid()}@localhost"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        wait_for(lambda: "ready." in self.log() or not self.alive(), timeout=60, what="the Celery worker to start")
        assert self.alive(), f"the Celery worker exited at start:\n{self.log()[-3000:]}"
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        else:
            # The main process is gone; its children (pool, beat) may not be.
            with contextlib.suppress(ProcessLookupError):  # and if they are gone too, so much the better
                os.killpg(self.proc.pid, signal.SIGKILL)


def django_env(database_url: str, redis_url: str) -> dict[str, str]:
    """The production settings module, pointed at the throwaway servers."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "sac.settings.prod",
        "SECRET_KEY": "restart-test-only",
        "SAC_FIELD_ENCRYPTION_KEY": "restart-test-field-key",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        # A poll cut short by a lost database frees its channel after 5 s instead of 2 minutes.
        "SAC_POLL_LEASE_SECONDS": "5",
        "PYTHONUNBUFFERED": "1",
    }


def django_run(env: dict[str, str], code: str, *args: str, timeout: float = 120) -> str:
    """Run `code` in a fresh Django process with `env`; returns its stdout."""
    script = "import django, sys\ndjango.setup()\n" + textwrap.dedent(code)
    result = subprocess.run([sys.executable, "-c", script, *args], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"django_run failed:\n{result.stdout}\n{result.stderr[-4000:]}")
    return result.stdout


def migrate(env: dict[str, str]) -> None:
    result = subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"migrate failed:\n{result.stdout}\n{result.stderr[-4000:]}")


SETUP_CHANNEL = """
    from channels_ingest.models import Platform
    from channels_ingest.services import channel_create
    from sac.services import tenant_create
    tenant = tenant_create(slug=sys.argv[1], name=sys.argv[1])
    channel = channel_create(tenant=tenant, platform=Platform.SIMULATOR, name="@acmetelecom", handle="acmetelecom",
                             external_account_id=sys.argv[3], api_base_url=sys.argv[2], poll_interval_seconds=1,
                             credentials={"bearer_token": "t", "consumer_key": "k", "consumer_secret": "s",
                                          "access_token": "a", "access_token_secret": "b"})
    print(tenant.pk, channel.pk)
"""


def channel_setup(env: dict[str, str], *, slug: str, base_url: str, brand_id: str) -> tuple[int, int]:
    tenant_id, channel_id = django_run(env, SETUP_CHANNEL, slug, base_url, brand_id).split()
    return int(tenant_id), int(channel_id)


class Db:
    """Plain SQL on the throwaway database: what a user of the inbox would see, read without Django."""

    def __init__(self, url: str) -> None:
        self.url = url.replace("postgres://", "postgresql://")

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        try:
            with psycopg.connect(self.url, connect_timeout=3) as conn:
                return conn.execute(sql, params).fetchall()
        except psycopg.OperationalError:
            return []  # the server is restarting; the caller polls again

    def stored_ids(self, channel_id: int) -> list[str]:
        return [r[0] for r in self.query("SELECT external_id FROM channels_ingest_mention WHERE channel_id = %s",
                                         channel_id)]
