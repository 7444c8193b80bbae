"""CRM adapters: one interface (`lookup`, `search`, `push_case`), a local CRM kept in SAC and a generic
REST CRM configured by URL templates and a field mapping (docs/surveys_crm.md has a HubSpot example).

The REST adapter never lets a slow CRM slow the inbox: a short timeout, answers cached in Redis with a
TTL, and a circuit breaker that answers "unavailable" at once after repeated failures.
"""

import hashlib
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

import requests
from django.core.cache import cache
from django.db.models import Q

from channels_ingest.errors import PermanentError, TransientError, may_have_arrived
from sac.parsing import parse_int

from .models import CrmConfig, CrmCustomer

log = logging.getLogger(__name__)

IDENTITY_KINDS = ("ref", "email", "phone", "document", "handle")
BREAKER_THRESHOLD = 3
BREAKER_OPEN_SECONDS = 30


class CrmUnavailable(TransientError):
    """Timed out, 5xx, unreachable or the breaker is open: try again later; the panel says so."""


class CrmRefused(PermanentError):
    """The CRM answered, but no: a bad template, refused credentials, an unreadable body."""


class CrmDeliveryUnknown(PermanentError):
    """A write failed after the request left (a timeout, a dropped connection, a 5xx): the CRM may have it.
    Never resent automatically, unless the CRM honours our idempotency key (the push's "idempotent" flag)."""


@dataclass(frozen=True)
class Identity:
    kind: str  # one of IDENTITY_KINDS
    value: str


@dataclass(frozen=True)
class CustomerRecord:
    ref: str
    name: str
    email: str = ""
    phone: str = ""
    document: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    orders: list[dict[str, Any]] = field(default_factory=list)
    source: str = ""

    def as_cache(self) -> dict[str, Any]:
        return {"ref": self.ref, "name": self.name, "email": self.email, "phone": self.phone,
                "document": self.document, "fields": self.fields, "orders": self.orders, "source": self.source}


@dataclass(frozen=True)
class CaseSummary:
    protocol: str
    channel: str
    category: str
    status: str
    first_response_at: str
    resolved_at: str
    csat: str
    nps: str
    thread_url: str
    crm_ref: str
    summary: str

    def as_dict(self) -> dict[str, str]:
        return dict(self.__dict__)


class CrmAdapter(Protocol):
    def lookup(self, identity: Identity) -> CustomerRecord | None: ...

    def search(self, query: str) -> list[CustomerRecord]: ...

    def push_case(self, summary: CaseSummary, idempotency_key: str) -> str: ...


def normalize(kind: str, value: str) -> str:
    value = value.strip()
    if kind in ("phone", "document"):
        return re.sub(r"\D", "", value)
    if kind in ("email", "handle"):
        return value.lower().lstrip("@")
    return value


def guess_kind(query: str) -> str:
    digits = re.sub(r"\D", "", query)
    if "@" in query and not query.startswith("@"):
        return "email"
    if query.startswith("@"):
        return "handle"
    if len(digits) in (11, 14) and not query.strip().startswith("+") and len(digits) >= len(query.strip()) - 4:
        return "document"
    if len(digits) >= 8:
        return "phone"
    return "name"


# ---------------------------------------------------------------- local CRM

class LocalCrm:
    def __init__(self, tenant_id: int) -> None:
        self.tenant_id = tenant_id

    @staticmethod
    def record(c: CrmCustomer) -> CustomerRecord:
        return CustomerRecord(ref=f"local:{c.pk}", name=c.name, email=c.email, phone=c.phone, document=c.document,
                              fields={k: str(v) for k, v in (c.attributes or {}).items() if k != "orders"}
                              | ({"external ref": c.external_ref} if c.external_ref else {}),
                              orders=list((c.attributes or {}).get("orders", []))[:5], source="local")

    def lookup(self, identity: Identity) -> CustomerRecord | None:
        value = normalize(identity.kind, identity.value)
        if not value:
            return None
        rows = CrmCustomer.objects.filter(tenant_id=self.tenant_id)
        if identity.kind == "ref":
            pk = value.removeprefix("local:")
            rows = rows.filter(pk=parse_int(pk)) if parse_int(pk) is not None else rows.none()
        elif identity.kind == "email":
            rows = rows.filter(email__iexact=value)
        elif identity.kind == "phone":
            # Stored with or without the country code: match on the last 10–11 digits.
            rows = rows.filter(phone__endswith=value[-10:])
        elif identity.kind == "document":
            rows = rows.filter(document=value)
        elif identity.kind == "handle":
            rows = rows.filter(attributes__handle__iexact=value)
        found = rows.order_by("pk").first()
        return self.record(found) if found else None

    def search(self, query: str) -> list[CustomerRecord]:
        query = query.strip()
        if len(query) < 2:
            return []
        digits = re.sub(r"\D", "", query)
        q = Q(name__icontains=query) | Q(email__icontains=query) | Q(external_ref__iexact=query)
        if len(digits) >= 4:
            q |= Q(phone__contains=digits) | Q(document__startswith=digits)
        return [self.record(c) for c in CrmCustomer.objects.filter(Q(tenant_id=self.tenant_id) & q)[:20]]

    def push_case(self, summary: CaseSummary, idempotency_key: str) -> str:
        # The local CRM is SAC itself: the case is already here, and the push row keeps the summary.
        return f"local:{idempotency_key}"


# ---------------------------------------------------------------- generic REST CRM

def _dig(data: Any, path: str) -> Any:
    """Follow a dotted path ("results.0.properties.email") through dicts and lists; None when absent."""
    for part in [p for p in path.split(".") if p]:
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def fill(template: Any, values: dict[str, str]) -> Any:
    """Replace {placeholders} in every string of a JSON structure (values stay JSON-safe: no string building)."""
    if isinstance(template, str):
        return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), template)
    if isinstance(template, list):
        return [fill(item, values) for item in template]
    if isinstance(template, dict):
        return {k: fill(v, values) for k, v in template.items()}
    return template


class Breaker:
    """Per-tenant circuit breaker in the shared cache, so every web process and worker agrees."""

    def __init__(self, tenant_id: int) -> None:
        self.key = f"t{tenant_id}:crm:breaker"

    def is_open(self) -> bool:
        state = cache.get(self.key) or {}
        return state.get("open_until", 0) > time.time()

    def failure(self) -> None:
        state = cache.get(self.key) or {}
        failures = state.get("failures", 0) + 1
        open_until = time.time() + BREAKER_OPEN_SECONDS if failures >= BREAKER_THRESHOLD else 0
        cache.set(self.key, {"failures": failures, "open_until": open_until}, BREAKER_OPEN_SECONDS * 10)

    def success(self) -> None:
        if cache.get(self.key):
            cache.delete(self.key)


class RestCrm:
    def __init__(self, config: CrmConfig) -> None:
        self.config = config
        self.tenant_id = config.tenant_id
        self.breaker = Breaker(config.tenant_id)
        # The configuration's own version is in the key: editing the mapping invalidates old answers.
        self.version = int(config.updated_at.timestamp() * 1_000_000) if config.updated_at else 0

    def _request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
                 *, safe_to_repeat: bool = True) -> Any:
        if self.breaker.is_open():
            raise CrmUnavailable("The CRM failed several times in a row; not asking it for a few seconds.")
        auth = self.config.auth_header or {}
        all_headers = {"Accept": "application/json", **(headers or {})}
        if auth.get("name") and auth.get("value"):
            all_headers[auth["name"]] = auth["value"]
        url = self.config.base_url.rstrip("/") + "/" + path.lstrip("/")
        try:
            response = requests.request(method.upper(), url, json=body, headers=all_headers,
                                        timeout=self.config.timeout_seconds)
        except requests.RequestException as exc:
            self.breaker.failure()
            if not safe_to_repeat and may_have_arrived(exc):
                what = "did not answer in time" if isinstance(exc, requests.ReadTimeout) else "dropped the connection"
                raise CrmDeliveryUnknown(f"The CRM {what} after receiving the push; it may have recorded it.") \
                    from exc
            if isinstance(exc, requests.Timeout):
                raise CrmUnavailable(f"The CRM did not answer within {self.config.timeout_seconds:g} s.") from exc
            raise CrmUnavailable(f"The CRM is unreachable ({exc.__class__.__name__}).") from exc
        if response.status_code >= 500 or response.status_code == 429:
            self.breaker.failure()
            if response.status_code >= 500 and not safe_to_repeat:
                # A 5xx can come after the CRM stored the note (a gateway timing out behind it).
                raise CrmDeliveryUnknown(f"The CRM answered {response.status_code} after receiving the push; it may "
                                         "have recorded it.")
            raise CrmUnavailable(f"The CRM answered {response.status_code}.",
                                 retry_after_seconds=_retry_after(response.headers.get("Retry-After")))
        self.breaker.success()
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise CrmRefused(f"The CRM refused the request ({response.status_code}): {response.text[:200]}")
        try:
            return response.json()
        except ValueError as exc:
            raise CrmRefused("The CRM's answer is not JSON.") from exc

    def _record(self, data: Any) -> CustomerRecord | None:
        if not isinstance(data, dict):
            return None
        mapping = self.config.field_mapping or {}
        ref = _dig(data, mapping.get("ref", "id"))
        if ref in (None, ""):
            return None

        def text(name: str) -> str:
            value = _dig(data, mapping[name]) if name in mapping else None
            return "" if value is None else str(value)

        extra = {label: text(label) for label in mapping
                 if label not in ("ref", "name", "email", "phone", "document", "orders") and text(label)}
        orders = _dig(data, mapping["orders"]) if "orders" in mapping else None
        return CustomerRecord(
            ref=str(ref), name=text("name") or str(ref), email=text("email"), phone=text("phone"),
            document=text("document"), fields=extra,
            orders=[o for o in orders if isinstance(o, dict)][:5] if isinstance(orders, list) else [], source="rest",
        )

    def lookup(self, identity: Identity) -> CustomerRecord | None:
        value = normalize(identity.kind, identity.value)
        template = (self.config.lookups or {}).get(identity.kind)
        if not value or not template:
            return None
        digest = hashlib.sha256(f"{identity.kind}:{value}".encode()).hexdigest()[:32]
        key = f"t{self.tenant_id}:crm:v{self.version}:lookup:{digest}"  # no personal data in the key
        cached = cache.get(key)
        if cached is not None:
            return CustomerRecord(**cached["record"]) if cached.get("record") else None
        path = fill(template.get("path", ""), {"value": quote(value, safe="")})
        body = fill(template.get("body"), {"value": value}) if template.get("body") is not None else None
        data = self._request(template.get("method", "GET"), path, body)
        record = self._record(_dig(data, template.get("record_path", "")) if data is not None else None)
        cache.set(key, {"record": record.as_cache() if record else None}, self.config.cache_ttl_seconds)
        return record

    def search(self, query: str) -> list[CustomerRecord]:
        kind = guess_kind(query)
        record = self._lookup_name(query) if kind == "name" else self.lookup(Identity(kind, query))
        return [record] if record else []

    def _lookup_name(self, query: str) -> CustomerRecord | None:
        template = (self.config.lookups or {}).get("name")
        if not template or len(query.strip()) < 2:
            return None
        path = fill(template.get("path", ""), {"value": quote(query.strip(), safe="")})
        body = fill(template.get("body"), {"value": query.strip()}) if template.get("body") is not None else None
        data = self._request(template.get("method", "GET"), path, body)
        return self._record(_dig(data, template.get("record_path", "")) if data is not None else None)

    def push_case(self, summary: CaseSummary, idempotency_key: str) -> str:
        template = self.config.push or {}
        if not template.get("path"):
            raise CrmRefused("No push URL is configured for this CRM.")
        values = summary.as_dict()
        path = fill(template["path"], {k: quote(v, safe="") for k, v in values.items()})
        # The key is always sent; only a CRM configured as honouring it ("idempotent": true, it drops a
        # repeated key) makes a push that ended in doubt safe to send again.
        data = self._request(template.get("method", "POST"), path, fill(template.get("body", values), values),
                             headers={"Idempotency-Key": idempotency_key},
                             safe_to_repeat=template.get("idempotent") is True)
        return str(_dig(data, template.get("id_path", "id")) or "") if data is not None else ""


def _retry_after(value: str | None) -> int | None:
    """Retry-After in seconds (the HTTP-date form is rare for APIs: then the usual backoff applies)."""
    seconds = parse_int((value or "").strip())
    return seconds if seconds is not None and 0 < seconds <= 86_400 else None


def adapter_for(tenant_id: int) -> CrmAdapter:
    config = CrmConfig.objects.filter(tenant_id=tenant_id).first()
    if config is not None and config.kind == CrmConfig.Kind.REST and config.base_url:
        return RestCrm(config)
    return LocalCrm(tenant_id)


__all__ = ["CaseSummary", "CrmAdapter", "CrmDeliveryUnknown", "CrmRefused", "CrmUnavailable", "CustomerRecord",
           "IDENTITY_KINDS", "Identity", "LocalCrm", "RestCrm", "adapter_for"]
