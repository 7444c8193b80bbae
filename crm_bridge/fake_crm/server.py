"""The fake CRM's HTTP server and in-memory store (see the package docstring)."""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

# firstname, lastname, email, phone, cpf, twitter_handle, plan, orders
DEMO_CONTACTS: tuple[tuple[str, str, str, str, str, str, str, list[dict[str, Any]]], ...] = (
    ("Mariana", "Flores", "mariana.flores@example.com.br", "5511987654321", "52998224725", "marianaflores_",
     "Fibra 500 Mega", [{"id": "PED-88121", "title": "Troca de roteador", "status": "entregue"}]),
    ("João Pedro", "Silva", "jp.silva@example.com.br", "5521998877665", "11144477735", "jpsilva88",
     "Fibra 300 Mega + TV", [{"id": "PED-87011", "title": "Upgrade para 300 Mega", "status": "concluído"}]),
    ("Carolina", "Mendes", "carol@example.com.br", "5531991234567", "39053344705", "carol_tech",
     "Empresarial 1 Giga", [{"id": "CHM-2201", "title": "Visita técnica", "status": "agendada"}]),
    ("Ana Paula", "Costa", "anapaula.costa@example.com.br", "5511976543210", "71428793860", "anapaulacosta",
     "Móvel 40 GB", []),
    ("Mike", "Thompson", "mike.t@example.com", "5521912345678", "", "mike_in_rio", "Fibra 500 Mega",
     [{"id": "ORD-5521", "title": "International roaming pack", "status": "active"}]),
)


PLANS = ("Fibra 300 Mega", "Fibra 500 Mega", "Fibra 1 Giga", "Móvel 20 GB", "Combo Fibra + Móvel")


def simulator_customers() -> list[dict[str, Any]]:
    """One contact for every person (not brand or media account) the X simulator posts as, so the demo's
    case page finds a record by handle; deterministic, no randomness."""
    from channels_ingest.simulator.corpus import AUTHORS

    known = {row[5] for row in DEMO_CONTACTS}
    out = []
    for n, author in enumerate(a for a in AUTHORS if not a.verified and a.username not in known):
        first, _, last = re.sub(r"[^\w\s'-]", "", author.name).strip().partition(" ")
        out.append({"firstname": first, "lastname": last, "email": f"{author.username.strip('_')}@example.com",
                    "phone": f"55119{70000000 + n * 7919:08d}", "twitter_handle": author.username,
                    "plan": PLANS[n % len(PLANS)],
                    "orders": [{"id": f"PED-{70100 + n}", "title": "Segunda via de fatura" if n % 2 else
                                "Visita técnica", "status": "concluído" if n % 3 else "aberto"}]})
    return out


class FakeCrmStore:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.contacts: dict[str, dict[str, Any]] = {}
        self.pushes: list[dict[str, Any]] = []
        self.push_keys: dict[str, str] = {}
        self.requests: list[dict[str, Any]] = []
        # (status, after_processing, retry_after): answer `status` before (or after) doing the request's work.
        self.faults: list[tuple[int, bool, int | None]] = []
        self.delay_seconds = 0.0
        self._ids = itertools.count(101)

    def add_contact(self, *, firstname: str, lastname: str = "", email: str = "", phone: str = "", cpf: str = "",
                    twitter_handle: str = "", plan: str = "", orders: list[dict[str, Any]] | None = None) -> dict:
        contact_id = str(next(self._ids))
        contact = {"id": contact_id, "properties": {
            "hs_object_id": contact_id, "firstname": firstname, "lastname": lastname, "email": email,
            "phone": phone, "cpf": cpf, "twitter_handle": twitter_handle, "plan": plan,
        }, "orders": orders or [], "archived": False}
        with self.lock:
            self.contacts[contact_id] = contact
        return contact


def _matches(contact: dict[str, Any], flt: dict[str, Any]) -> bool:
    prop = str(contact["properties"].get(flt.get("propertyName", ""), "") or "")
    value = str(flt.get("value", ""))
    op = flt.get("operator", "EQ")
    if flt.get("propertyName") == "phone":
        digits = re.sub(r"\D", "", value)
        return bool(digits) and prop.endswith(digits[-10:])
    if op == "CONTAINS_TOKEN":
        return value.strip("*").lower() in prop.lower()
    return prop.lower() == value.lower()


class FakeCrmServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, seed_demo: bool = True) -> None:
        self.host, self.port = host, port
        self.store = FakeCrmStore()
        if seed_demo:
            for first, last, email, phone, cpf, handle, plan, orders in DEMO_CONTACTS:
                self.store.add_contact(firstname=first, lastname=last, email=email, phone=phone, cpf=cpf,
                                       twitter_handle=handle, plan=plan, orders=orders)
            for contact in simulator_customers():
                self.store.add_contact(**contact)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> FakeCrmServer:
        if self._httpd is None:
            httpd = ThreadingHTTPServer((self.host, self.port), _Handler)
            httpd.daemon_threads = True
            httpd.crm = self  # type: ignore[attr-defined]
            self.port = httpd.server_address[1]
            self._httpd = httpd
            self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                            name=f"fake-crm:{self.port}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeCrmServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- controls --------------------------------------------------------------------------------------
    def add_contact(self, **kwargs: Any) -> dict[str, Any]:
        return self.store.add_contact(**kwargs)

    def fail_next(self, status: int = 503, count: int = 1, *, after_processing: bool = False,
                  retry_after: int | None = None) -> None:
        """Answer the next `count` requests with `status`: before doing anything, or (after_processing)
        once the request's work is done, like a gateway timing out behind a CRM that stored the note.
        `retry_after` adds a Retry-After header (seconds)."""
        with self.store.lock:
            self.store.faults.extend([(status, after_processing, retry_after)] * count)

    @property
    def delay_seconds(self) -> float:
        return self.store.delay_seconds

    @delay_seconds.setter
    def delay_seconds(self, value: float) -> None:
        self.store.delay_seconds = value

    @property
    def pushes(self) -> list[dict[str, Any]]:
        with self.store.lock:
            return [dict(p) for p in self.store.pushes]

    @property
    def requests(self) -> list[dict[str, Any]]:
        with self.store.lock:
            return [dict(r) for r in self.store.requests]

    # -- handling --------------------------------------------------------------------------------------
    def handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        store = self.store
        with store.lock:
            store.requests.append({"method": method, "path": path, "at": time.time()})
            fault = store.faults.pop(0) if store.faults else None
        if path == "/healthz":
            return 200, {"ok": True}
        if store.delay_seconds:
            time.sleep(store.delay_seconds)
        if fault is not None:
            status, after_processing, retry_after = fault
            if after_processing:
                self._serve_request(method, path, headers, raw)
            answer = {"status": "error", "message": f"injected fault {status}", "category": "FAKE_FAULT"}
            return status, answer | ({"retry_after": retry_after} if retry_after else {})
        return self._serve_request(method, path, headers, raw)

    def _serve_request(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        store = self.store
        if path.startswith("/crm/") and not headers.get("authorization", "").startswith("Bearer "):
            return 401, {"status": "error", "message": "Authentication credentials not found.",
                         "category": "INVALID_AUTHENTICATION"}
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return 400, {"status": "error", "message": "Invalid input JSON", "category": "VALIDATION_ERROR"}
        if method == "POST" and path == "/crm/v3/objects/contacts/search":
            groups = body.get("filterGroups") or []
            with store.lock:
                found = [c for c in store.contacts.values()
                         if any(all(_matches(c, f) for f in g.get("filters", [])) for g in groups)]
            limit = int(body.get("limit", 10) or 10)
            return 200, {"total": len(found), "results": found[:limit]}
        match = re.fullmatch(r"/crm/v3/objects/contacts/(\w+)", path)
        if method == "GET" and match:
            with store.lock:
                contact = store.contacts.get(match.group(1))
            return (200, contact) if contact else (404, {"status": "error", "message": "Object not found",
                                                         "category": "OBJECT_NOT_FOUND"})
        if method == "POST" and path == "/crm/v3/objects/notes":
            key = headers.get("idempotency-key", "")
            with store.lock:
                if key and key in store.push_keys:
                    return 200, {"id": store.push_keys[key], "duplicate": True}
                note_id = str(900000 + len(store.pushes) + 1)
                store.pushes.append({"id": note_id, "key": key, "body": body})
                if key:
                    store.push_keys[key] = note_id
            return 201, {"id": note_id, "properties": body.get("properties", {})}
        if method == "GET" and path == "/_fake/pushes.json":
            return 200, self.pushes
        if method == "GET" and path == "/_fake/requests.json":
            return 200, self.requests
        return 404, {"status": "error", "message": f"No route for {method} {path}"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            status, payload = self.server.crm.handle(method, urlsplit(self.path).path, headers, raw)  # type: ignore
        except Exception as exc:  # the fake must answer like a broken server, not hang the client
            status, payload = 500, {"status": "error", "message": str(exc)}
        retry_after = payload.pop("retry_after", None) if isinstance(payload, dict) and status >= 400 else None
        data = json.dumps(payload, ensure_ascii=False).encode()
        try:
            self.send_response(status)
            if retry_after:
                self.send_header("Retry-After", str(retry_after))
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test): nothing to answer

    def do_GET(self) -> None:  # noqa: N802
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the demo's console is for SAC's own messages, not one line per CRM request."""
