"""Tenant-scoped reads for the CRM bridge, including what the case page's CRM panel shows."""

import re
from dataclasses import dataclass, field

from django.db.models import QuerySet
from django.http import Http404

from channels_ingest.models import Mention
from inbox.models import Case
from inbox.triage.pii import find_personal_data
from sac.models import Tenant

from .adapters import CrmRefused, CrmUnavailable, CustomerRecord, Identity, LocalCrm, adapter_for
from .models import CrmConfig, CrmCustomer, CrmPush, IdentityLink

MAX_SUGGESTION_LOOKUPS = 4


def access_crm_customer(tenant: Tenant, customer_id: int) -> CrmCustomer:
    try:
        return CrmCustomer.objects.get(tenant=tenant, pk=customer_id)
    except CrmCustomer.DoesNotExist:
        raise Http404("No such customer.") from None


def crm_customers(tenant: Tenant, query: str = "") -> QuerySet[CrmCustomer]:
    rows = CrmCustomer.objects.filter(tenant=tenant)
    if query:
        ids = [int(r.ref.removeprefix("local:")) for r in LocalCrm(tenant.pk).search(query)]
        rows = rows.filter(pk__in=ids)
    return rows.order_by("name", "pk")


def crm_config_for(tenant: Tenant) -> CrmConfig:
    return CrmConfig.objects.filter(tenant=tenant).first() or CrmConfig(tenant=tenant)


def identity_link_for(tenant: Tenant, case: Case) -> IdentityLink | None:
    if case.customer_id is None:
        return None
    return IdentityLink.objects.filter(tenant=tenant, profile_id=case.customer_id).first()


def personal_identities(tenant: Tenant, case: Case) -> list[Identity]:
    """What the customer wrote about themselves (e-mail, CPF/CNPJ, phone), then their handle."""
    found: list[Identity] = []
    texts = Mention.objects.filter(tenant=tenant, case_link__case=case, direction=Mention.Direction.INBOUND) \
        .order_by("posted_at").values_list("text", flat=True)[:20]
    for text in texts:
        for span in find_personal_data(text):
            kind = {"email": "email", "cpf": "document", "cnpj": "document", "phone": "phone"}.get(span.kind)
            if kind:
                identity = Identity(kind, text[span.start:span.end])
                if identity not in found:
                    found.append(identity)
    if case.customer is not None and case.customer.handle:
        found.append(Identity("handle", case.customer.handle))
    return found


@dataclass
class CrmPanel:
    linked: IdentityLink | None = None
    record: CustomerRecord | None = None
    suggestions: list[tuple[CustomerRecord, str]] = field(default_factory=list)
    unavailable: str = ""
    error: str = ""
    pushes: list[CrmPush] = field(default_factory=list)


def crm_panel(tenant: Tenant, case: Case) -> CrmPanel:
    """The linked record, or records suggested by what the customer wrote. A CRM that is down or slow
    gives `unavailable` (its timeout and circuit breaker bound the wait), never an exception."""
    panel = CrmPanel(linked=identity_link_for(tenant, case),
                     pushes=list(CrmPush.objects.filter(tenant=tenant, case=case).order_by("-created_at")[:3]))
    adapter = adapter_for(tenant.pk)
    try:
        if panel.linked is not None:
            panel.record = adapter.lookup(Identity("ref", panel.linked.crm_ref))
            return panel
        seen: set[str] = set()
        for identity in personal_identities(tenant, case)[:MAX_SUGGESTION_LOOKUPS]:
            record = adapter.lookup(identity)
            if record is not None and record.ref not in seen:
                seen.add(record.ref)
                panel.suggestions.append((record, identity.kind))
    except CrmUnavailable as exc:
        panel.unavailable = str(exc)
    except CrmRefused as exc:
        panel.error = str(exc)
    return panel


def crm_search(tenant: Tenant, query: str) -> list[CustomerRecord]:
    """Raises CrmUnavailable / CrmRefused for the view to show."""
    query = re.sub(r"\s+", " ", query).strip()[:120]
    return adapter_for(tenant.pk).search(query) if len(query) >= 2 else []
