"""Every write of the CRM bridge: configuration, local customers (and their CSV import), identity
links, and case-summary pushes (a row per case state, sent once, retried only for transient errors)."""

import csv
import io
import json
import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from channels_ingest.errors import PermanentError, TransientError
from channels_ingest.models import SocialProfile
from inbox.models import Case
from sac.models import Membership, Role, Tenant
from sac.services import audit_record

from .adapters import CaseSummary, CrmDeliveryUnknown, CustomerRecord, adapter_for, normalize
from .models import CrmConfig, CrmCustomer, CrmPush, IdentityLink

log = logging.getLogger(__name__)

MAX_PUSH_ATTEMPTS = 8
# Starts the error of a push whose outcome is unknown (the CRM may have recorded it).
DELIVERY_UNKNOWN = "Delivery unknown:"
STUCK_SENDING = timedelta(minutes=5)

# The generic REST adapter configured for HubSpot's CRM v3 contacts search (docs/surveys_crm.md);
# the fake CRM speaks the same shapes, so the demo uses this preset against it.
HUBSPOT_PRESET: dict[str, Any] = {
    "lookups": {
        kind: {"method": "POST", "path": "/crm/v3/objects/contacts/search", "record_path": "results.0",
               "body": {"filterGroups": [{"filters": [{"propertyName": prop, "operator": op, "value": "{value}"}]}],
                        "properties": ["firstname", "lastname", "email", "phone", "cpf", "twitter_handle", "plan"],
                        "limit": 1}}
        for kind, prop, op in (("email", "email", "EQ"), ("phone", "phone", "EQ"), ("document", "cpf", "EQ"),
                               ("handle", "twitter_handle", "EQ"), ("name", "firstname", "CONTAINS_TOKEN"))
    } | {"ref": {"method": "GET", "path": "/crm/v3/objects/contacts/{value}"
                 "?properties=firstname,lastname,email,phone,cpf,twitter_handle,plan", "record_path": ""}},
    "field_mapping": {"ref": "id", "name": "properties.firstname", "last name": "properties.lastname",
                      "email": "properties.email", "phone": "properties.phone", "document": "properties.cpf",
                      "plan": "properties.plan", "orders": "orders"},
    "push": {"method": "POST", "path": "/crm/v3/objects/notes", "id_path": "id",
             "body": {"properties": {"hs_timestamp": "{resolved_at}", "hs_note_body": "{summary}"},
                      "associations": [{"to": {"id": "{crm_ref}"}, "types": [
                          {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 202}]}]}},
}


class CrmError(Exception):
    """A user-facing refusal: the message is shown as it is."""


# ---------------------------------------------------------------- configuration

def crm_config_ensure(*, tenant: Tenant, **values: Any) -> CrmConfig:
    """Create the tenant's CRM configuration if missing (idempotent; for the demo seed and tests)."""
    with transaction.atomic():
        config, created = CrmConfig.objects.get_or_create(tenant=tenant, defaults=values)
        if created:
            audit_record(tenant=tenant, actor=None, verb="crm_config.created", obj=config, data={"kind": config.kind})
    return config


def crm_config_save(*, tenant: Tenant, membership: Membership, values: dict[str, Any],
                    auth_header: dict[str, str] | None = None) -> CrmConfig:
    """`auth_header` None keeps the stored secret (the form never shows it back)."""
    if not membership.has_role(Role.ADMIN):
        raise CrmError(_("Only tenant admins change the CRM settings."))
    if values.get("kind") == CrmConfig.Kind.REST and not values.get("base_url"):
        raise CrmError(_("A REST CRM needs its base URL."))
    for name in ("lookups", "field_mapping", "push"):
        if not isinstance(values.get(name, {}), dict):
            raise CrmError(_("%(name)s must be a JSON object.") % {"name": name})
    with transaction.atomic():
        config, _created = CrmConfig.objects.select_for_update().get_or_create(tenant=tenant)
        for key, value in values.items():
            setattr(config, key, value)
        if auth_header is not None:
            config.auth_header = auth_header
        config.save()
        audit_record(tenant=tenant, actor=membership.user, verb="crm_config.updated", obj=config,
                     data={"kind": config.kind, "base_url": config.base_url,
                           "auth_header_changed": auth_header is not None})
    return config


# ---------------------------------------------------------------- local customers

CUSTOMER_CSV_COLUMNS = ["name", "email", "phone", "document", "external_ref"]


def _clean_customer(data: dict[str, Any]) -> dict[str, Any]:
    name = (data.get("name") or "").strip()
    if not name:
        raise CrmError(_("The name is required."))
    email = (data.get("email") or "").strip().lower()
    if email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise CrmError(_("%(email)r is not an e-mail address.") % {"email": email})
    document = normalize("document", data.get("document") or "")
    if document and len(document) not in (11, 14):
        raise CrmError(_("A CPF has 11 digits and a CNPJ 14."))
    attributes = data.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise CrmError(_("Attributes must be a JSON object."))
    return {"name": name[:200], "email": email, "phone": normalize("phone", data.get("phone") or "")[:40],
            "document": document, "external_ref": (data.get("external_ref") or "").strip()[:64],
            "attributes": attributes}


def crm_customer_save(*, tenant: Tenant, membership: Membership, customer: CrmCustomer | None,
                      data: dict[str, Any]) -> CrmCustomer:
    if not membership.has_role(Role.SUPERVISOR):
        raise CrmError(_("Only supervisors and admins edit customer records."))
    values = _clean_customer(data)
    try:
        with transaction.atomic():
            if customer is None:
                customer = CrmCustomer.objects.create(tenant=tenant, **values)
                verb = "crm_customer.created"
            else:
                CrmCustomer.objects.filter(tenant=tenant, pk=customer.pk).update(**values, updated_at=timezone.now())
                customer.refresh_from_db()
                verb = "crm_customer.updated"
            audit_record(tenant=tenant, actor=membership.user, verb=verb, obj=customer)
    except IntegrityError:
        raise CrmError(_("Another customer already has the external ref %(ref)r.")
                       % {"ref": values["external_ref"]}) from None
    return customer


@dataclass(frozen=True)
class CustomerImportResult:
    created: int
    updated: int
    errors: list[str]


def crm_customers_import_csv(*, tenant: Tenant, membership: Membership, text: str) -> CustomerImportResult:
    """Columns name,email,phone,document,external_ref (+ any others, kept as attributes). A row with an
    external_ref already known updates that customer. Bad rows are reported by line and skipped."""
    if not membership.has_role(Role.ADMIN):
        raise CrmError(_("Only tenant admins import customers."))
    reader = csv.DictReader(io.StringIO(text))
    fields = [(f or "").strip() for f in reader.fieldnames or []]
    if "name" not in fields:
        raise CrmError(_("The CSV needs a header with at least 'name' (known columns: %(columns)s).")
                       % {"columns": ", ".join(CUSTOMER_CSV_COLUMNS)})
    created = updated = 0
    errors: list[str] = []
    with transaction.atomic():
        for raw in reader:
            row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k}
            row["attributes"] = {k: v for k, v in row.items() if k not in CUSTOMER_CSV_COLUMNS and v}
            try:
                values = _clean_customer(row)
            except CrmError as exc:
                errors.append(_("line %(line)s: %(error)s") % {"line": reader.line_num, "error": exc})
                continue
            if values["external_ref"]:
                _record, was_created = CrmCustomer.objects.update_or_create(
                    tenant=tenant, external_ref=values["external_ref"], defaults=values)
            else:
                CrmCustomer.objects.create(tenant=tenant, **values)
                was_created = True
            created += was_created
            updated += not was_created
        audit_record(tenant=tenant, actor=membership.user, verb="crm_customer.imported", obj=tenant,
                     data={"created": created, "updated": updated, "errors": len(errors)})
    return CustomerImportResult(created=created, updated=updated, errors=errors)


# ---------------------------------------------------------------- identity links

def identity_link(*, tenant: Tenant, membership: Membership, profile: SocialProfile, record: CustomerRecord,
                  how: str = "manual") -> IdentityLink:
    """Link (or re-link) a social profile to a CRM record; the caller fetched both within the tenant."""
    if profile.tenant_id != tenant.pk:
        raise CrmError(_("That profile does not belong to this brand."))
    with transaction.atomic():
        link, _created = IdentityLink.objects.update_or_create(
            tenant=tenant, profile=profile,
            defaults={"crm_ref": record.ref, "display_name": record.name[:200], "linked_by": membership.user,
                      "how": how[:40]},
        )
        audit_record(tenant=tenant, actor=membership.user, verb="crm.identity_linked", obj=profile,
                     data={"crm_ref": record.ref, "how": how})
    return link


def identity_unlink(*, tenant: Tenant, membership: Membership, profile: SocialProfile) -> None:
    with transaction.atomic():
        deleted, _by_model = IdentityLink.objects.filter(tenant=tenant, profile=profile).delete()
        if deleted:
            audit_record(tenant=tenant, actor=membership.user, verb="crm.identity_unlinked", obj=profile)


# ---------------------------------------------------------------- case pushes

def crm_push_schedule(*, case: Case, state_key: str, payload: dict[str, Any] | None = None) -> CrmPush | None:
    """One push per (case, state): called inside the transaction that changed the case, so the row commits
    with it; the task is queued on commit and the sweep re-sends anything the broker lost."""
    config = CrmConfig.objects.filter(tenant_id=case.tenant_id).first()
    if config is None or not config.push_enabled:
        return None
    key = f"sac-t{case.tenant_id}-case{case.pk}-{state_key}"
    push, created = CrmPush.objects.get_or_create(
        tenant_id=case.tenant_id, case=case, state_key=state_key,
        defaults={"idempotency_key": key, "next_attempt_at": timezone.now(), "payload": payload or {}},
    )
    if created:
        from . import tasks

        transaction.on_commit(lambda: tasks.crm_push_deliver.delay(case.tenant_id, push.pk))
    return push


def case_summary(case: Case, push: CrmPush, crm_ref: str) -> CaseSummary:
    def iso(value: Any) -> str:
        return value.isoformat() if value else ""

    thread_url = settings.SAC_PUBLIC_BASE_URL.rstrip("/") + reverse("inbox:case", args=[case.tenant.slug, case.pk])
    csat, nps = push.payload.get("csat"), push.payload.get("nps")
    lines = [f"SAC case {case.protocol} ({case.channel.get_platform_display()}, {case.category or 'uncategorised'})",
             f"Status: {case.get_status_display()}",
             f"First response: {iso(case.first_response_at) or '—'}", f"Resolved: {iso(case.resolved_at) or '—'}"]
    if csat is not None or nps is not None:
        lines.append(f"Survey: CSAT {csat if csat is not None else '—'}, NPS {nps if nps is not None else '—'}")
    lines.append(thread_url)
    return CaseSummary(
        protocol=case.protocol, channel=case.channel.name, category=case.category, status=case.status,
        first_response_at=iso(case.first_response_at), resolved_at=iso(case.resolved_at),
        csat="" if csat is None else str(csat), nps="" if nps is None else str(nps), thread_url=thread_url,
        crm_ref=crm_ref, summary="\n".join(lines),
    )


def crm_push_deliver(*, tenant_id: int, push_id: int) -> CrmPush | None:
    """queued → sending → sent|failed with conditional updates: a duplicated or late task finds the row
    taken and does nothing. A transient failure goes back to queued (with backoff) for the retry."""
    now = timezone.now()
    taken = CrmPush.objects.filter(tenant_id=tenant_id, pk=push_id, state=CrmPush.State.QUEUED,
                                   next_attempt_at__lte=now).update(
        state=CrmPush.State.SENDING, sending_started_at=now, attempts=F("attempts") + 1)
    if not taken:
        return None
    push = CrmPush.objects.select_related("case__channel", "case__customer", "case__tenant").get(
        tenant_id=tenant_id, pk=push_id)
    case = push.case
    link = IdentityLink.objects.filter(tenant_id=tenant_id, profile_id=case.customer_id).first() \
        if case.customer_id else None
    summary = case_summary(case, push, link.crm_ref if link else "")
    try:
        if link is None:
            raise PermanentError("The customer is not linked to a CRM record: nothing to push to.")
        external_id = adapter_for(tenant_id).push_case(summary, push.idempotency_key)
    except TransientError as exc:
        give_up = push.attempts >= MAX_PUSH_ATTEMPTS
        # Matches the task's own retry countdown (a 429's Retry-After, else 15 s doubling), a second early so
        # the retry finds it due; the sweep leaves it alone until then.
        backoff = timedelta(seconds=push_retry_countdown(exc, push.attempts - 1) - 1)
        CrmPush.objects.filter(tenant_id=tenant_id, pk=push_id, state=CrmPush.State.SENDING).update(
            state=CrmPush.State.FAILED if give_up else CrmPush.State.QUEUED, error=str(exc),
            next_attempt_at=timezone.now() + backoff)
        if give_up:
            _push_audit(push, "crm.push_failed", {"error": str(exc)})
            return push
        raise
    except PermanentError as exc:
        # A push that may have landed is never resent on a guess: a person looks in the CRM.
        error = f"{DELIVERY_UNKNOWN} {exc}" if isinstance(exc, CrmDeliveryUnknown) else str(exc)
        CrmPush.objects.filter(tenant_id=tenant_id, pk=push_id, state=CrmPush.State.SENDING).update(
            state=CrmPush.State.FAILED, error=error, payload={**push.payload, "summary": summary.as_dict()})
        _push_audit(push, "crm.push_failed", {"error": error})
        push.refresh_from_db()
        return push
    with transaction.atomic():
        CrmPush.objects.filter(tenant_id=tenant_id, pk=push_id, state=CrmPush.State.SENDING).update(
            state=CrmPush.State.SENT, external_id=external_id[:120], sent_at=timezone.now(), error="",
            payload={**push.payload, "summary": summary.as_dict()})
        _push_audit(push, "crm.pushed", {"external_id": external_id, "state_key": push.state_key})
    push.refresh_from_db()
    return push


def push_retry_countdown(exc: TransientError, retries: int) -> int:
    """Seconds before the next try: the CRM's Retry-After when it gave one, else 15 s doubling up to an hour."""
    if exc.retry_after_seconds:
        return int(exc.retry_after_seconds) + 1
    return min(15 * 2 ** retries, 3600)


def _push_audit(push: CrmPush, verb: str, data: dict[str, Any]) -> None:
    audit_record(tenant=push.case.tenant, actor=None, verb=verb, obj=push.case, data={"push": push.pk, **data})


def crm_pushes_sweep() -> list[tuple[int, int]]:
    now = timezone.now()
    for push in CrmPush.objects.filter(state=CrmPush.State.SENDING,
                                       sending_started_at__lt=now - STUCK_SENDING).select_related("case__tenant"):
        # The CRM may have the note (the worker died after sending): failed for a human, never resent blindly.
        if CrmPush.objects.filter(tenant_id=push.tenant_id, pk=push.pk, state=CrmPush.State.SENDING).update(
            state=CrmPush.State.FAILED, error=f"{DELIVERY_UNKNOWN} the worker stopped while sending."
        ):
            _push_audit(push, "crm.push_failed", {"error": "worker stopped while sending"})
    return list(CrmPush.objects.filter(state=CrmPush.State.QUEUED, next_attempt_at__lte=now)
                .order_by("next_attempt_at").values_list("tenant_id", "pk")[:500])


def json_or_error(text: str, name: str) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError as exc:
        raise CrmError(_("%(name)s is not valid JSON: %(error)s") % {"name": name, "error": exc}) from None
    if not isinstance(value, dict):
        raise CrmError(_("%(name)s must be a JSON object.") % {"name": name})
    return value
