"""A loopback HTTP server a test scripts with Graph API answers (recorded bodies from ../shared, or bodies
written from Meta's reference), recording every request it gets. Only the network edge is fake."""

import json
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class GraphFake:
    def __init__(self) -> None:
        # (method, path) -> list of (status, body, headers); the last one repeats.
        self.routes: dict[tuple[str, str], list[tuple[int, Any, dict[str, str]]]] = defaultdict(list)
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                """Quiet: the test's assertions say what happened, not a request log."""

            def _answer(self, method: str) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                fake.requests.append({"method": method, "path": parts.path, "query": parse_qs(parts.query),
                                      "json": json.loads(raw) if raw else None,
                                      "auth": self.headers.get("Authorization")})
                answers = fake.routes.get((method, parts.path))
                if not answers:
                    status, body, headers = 404, {"error": {"message": "Unknown path", "code": 803}}, {}
                else:
                    status, body, headers = answers.pop(0) if len(answers) > 1 else answers[0]
                data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                self._answer("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._answer("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v21.0"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def on(self, method: str, path: str, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.routes[(method, "/v21.0/" + path.lstrip("/"))].append((status, body, headers or {}))

    def reset(self, method: str, path: str) -> None:
        self.routes.pop((method, "/v21.0/" + path.lstrip("/")), None)

    def posted(self, path: str) -> list[dict[str, Any]]:
        return [r["json"] for r in self.requests if r["method"] == "POST" and r["path"].endswith(path)]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
