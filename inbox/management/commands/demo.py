"""`make demo`: the whole product in one process — loopback services, the beat schedule, the web server.

One process on purpose: Ctrl-C or SIGTERM stops everything, no children left behind, and
exactly one scheduler runs (runserver's autoreloader would start two). The scheduler thread
plays Celery beat: it runs every entry of CELERY_BEAT_SCHEDULE at its interval, and Celery
runs each task in-process (eager), so polling, triage, sending, SLA and survey sweeps all happen.
"""

import logging
import signal
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.utils.module_loading import import_string

from sac.celery import app as celery_app

log = logging.getLogger("sac.demo")


def _run_beat(stop: threading.Event) -> None:
    celery_app.loader.import_default_modules()  # registers every app's tasks (autodiscovery is lazy)
    entries = {name: entry for name, entry in settings.CELERY_BEAT_SCHEDULE.items()}
    last_run = dict.fromkeys(entries, 0.0)
    while not stop.wait(1.0):
        now = time.monotonic()
        for name, entry in entries.items():
            if now - last_run[name] < entry["schedule"].total_seconds():
                continue
            last_run[name] = now
            try:
                celery_app.tasks[entry["task"]].delay()
            except Exception:  # one failing sweep must not stop the demo; the error is logged
                log.exception("demo scheduler: %s failed", name)


class Command(BaseCommand):
    help = "Serve the demo on http://127.0.0.1:8000 with the X simulator, the fake CRM and live polling."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000")

    def handle(self, *args: Any, **options: Any) -> None:
        servers = []
        for class_path, url_setting, kwargs in settings.SAC_DEMO_SERVERS:
            url = urlsplit(getattr(settings, url_setting))
            servers.append(import_string(class_path)(host=url.hostname or "127.0.0.1", port=url.port, **kwargs))
        for server in servers:
            server.start()
        stop = threading.Event()
        scheduler = threading.Thread(target=_run_beat, args=(stop,), name="demo-beat", daemon=True)
        scheduler.start()

        def _terminate(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, _terminate)
        lines = "\n".join(f"  {type(s).__name__} on {s.base_url}" for s in servers)
        self.stdout.write(self.style.SUCCESS(
            f"\nSAC demo on http://{options['addr']}/  —  log in as agent1 / sac-demo "
            f"(also admin, supervisor, agent2)\n{lines}\n"
            f"  what the brand sent on X: {servers[0].base_url}/_sim/\nCtrl-C stops everything.\n"
        ))
        try:
            call_command("runserver", options["addr"], use_reloader=False, use_threading=True)
        except KeyboardInterrupt:
            self.stdout.write("Stopping…")  # Ctrl-C or SIGTERM: the normal way out of the demo
        finally:
            stop.set()
            for server in servers:
                server.stop()
            scheduler.join(timeout=5)
            self.stdout.write("SAC demo stopped.")
