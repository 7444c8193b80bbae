"""Run the X simulator: ``python -m channels_ingest.simulator --port 8001 --rate 6 --seed 7``."""

from __future__ import annotations

import argparse
import signal
import threading

from .server import SimulatorServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m channels_ingest.simulator",
        description="Loopback simulator of the X API v2 for the Acme Telecom brand.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--rate", type=float, default=6.0, help="customer posts/minute, 0: injected only")
    parser.add_argument("--seed", type=int, default=None, help="seed for a reproducible post stream")
    parser.add_argument("--initial", type=int, default=8, help="posts already waiting at start")
    args = parser.parse_args(argv)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    sim = SimulatorServer(args.host, args.port, seed=args.seed, rate_per_minute=args.rate,
                          initial_posts=args.initial).start()
    print(f"X simulator for @{sim.brand_username} (id {sim.brand_user_id}) on {sim.base_url}  "
          f"· page {sim.base_url}/_sim/  · Ctrl-C to stop", flush=True)
    try:
        stop.wait()  # SIGTERM sets it; Ctrl-C raises KeyboardInterrupt here
    except KeyboardInterrupt:
        print("Stopping…", flush=True)
    finally:
        sim.stop()
    print("X simulator stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
