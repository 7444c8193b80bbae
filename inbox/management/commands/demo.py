"""`make demo`: the whole product in one process — simulator, poller and web server.

One process on purpose: Ctrl-C or SIGTERM stops everything, no children left
behind, and exactly one poller runs (runserver's autoreloader would start two).
"""

import logging
import signal
import threading
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from channels_ingest.simulator import SimulatorServer
from channels_ingest.tasks import schedule_due_polls
from inbox.tasks import mentions_triage_sweep, replies_deliver_sweep

log = logging.getLogger("sac.demo")


def _poll_forever(stop: threading.Event, interval: float) -> None:
    ticks = 0
    while not stop.wait(interval if ticks else 1.0):
        ticks += 1
        try:
            # In the demo Celery runs tasks eagerly: these calls do the polling, triage and sending here.
            schedule_due_polls.delay()
            if ticks % 12 == 0:
                mentions_triage_sweep.delay()
                replies_deliver_sweep.delay()
        except Exception:  # the demo keeps running whatever one poll does; the error is logged
            log.exception("demo poller: a round failed")


class Command(BaseCommand):
    help = "Serve the demo on http://127.0.0.1:8000 with the X simulator and live polling."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000")
        parser.add_argument("--rate", type=float, default=6.0, help="simulated customer posts per minute")

    def handle(self, *args: Any, **options: Any) -> None:
        sim_url = urlsplit(settings.SAC_SIMULATOR_URL)
        simulator = SimulatorServer(host=sim_url.hostname or "127.0.0.1", port=sim_url.port or 8001,
                                    rate_per_minute=options["rate"]).start()
        stop = threading.Event()
        poller = threading.Thread(target=_poll_forever, args=(stop, settings.SAC_POLL_INTERVAL_SECONDS),
                                  name="demo-poller", daemon=True)
        poller.start()

        def _terminate(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, _terminate)
        self.stdout.write(self.style.SUCCESS(
            f"\nSAC demo on http://{options['addr']}/  —  log in as agent1 / sac-demo "
            "(also admin, supervisor, agent2)\n"
            f"X simulator on {simulator.base_url}/_sim/ (what the brand sent)\nCtrl-C stops everything.\n"
        ))
        try:
            call_command("runserver", options["addr"], use_reloader=False, use_threading=True)
        except KeyboardInterrupt:
            pass
        finally:
            stop.set()
            simulator.stop()
            poller.join(timeout=5)
            self.stdout.write("SAC demo stopped.")
