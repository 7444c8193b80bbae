"""`python -m crm_bridge.fake_crm --port 8002`: the fake CRM alone."""

import argparse
import time

from .server import FakeCrmServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8002)
    args = parser.parse_args()
    server = FakeCrmServer(args.host, args.port).start()
    print(f"Fake CRM on {server.base_url} (HubSpot-shaped contacts search; Ctrl-C stops it)")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
