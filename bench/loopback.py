"""What the HTTP benches share: a free loopback port, linear-interpolation percentiles, and keep-alive clients."""

import http.client
import socket
import threading
import time
from collections.abc import Callable, Iterable

# (method, path, body or None, headers)
Request = tuple[str, str, bytes | None, dict[str, str]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], p: float) -> float:
    """Linear interpolation between closest ranks, as numpy's default and PostgreSQL's percentile_cont."""
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def run_clients(port: int, clients: int, requests_of: Callable[[int], Iterable[Request]]
                ) -> tuple[list[float], float, int]:
    """`clients` threads, each on its own keep-alive connection to 127.0.0.1:`port`, sending the requests
    `requests_of(its index)` gives one after the other. Returns the latencies (ms), the requests per second
    over the whole run, and how many answers were not a 200."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def client(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, failed = [], 0
        for method, path, body, headers in requests_of(index):
            started = time.perf_counter()
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            mine.append((time.perf_counter() - started) * 1000)
            failed += response.status != 200
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, len(latencies) / (time.perf_counter() - started), errors[0]
