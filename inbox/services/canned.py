"""The canned-reply bank."""


import csv
import io
import re
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from sac.models import Membership, Role, Tenant
from sac.services import audit_record

from ..models import (
    CannedReply,
)
from .common import CaseActionError

# ---------------------------------------------------------------- canned replies

def canned_reply_save(*, tenant: Tenant, membership: Membership, canned: CannedReply | None, title: str,
                      shortcut: str, body: str, language: str = "") -> CannedReply:
    if not membership.has_role(Role.ADMIN):
        raise CaseActionError("Only tenant admins edit the canned-reply bank.")
    if CannedReply.objects.filter(tenant=tenant, shortcut=shortcut).exclude(pk=canned.pk if canned else None).exists():
        raise CaseActionError(f"The shortcut /{shortcut} is already used.")
    with transaction.atomic():
        if canned is None:
            canned = CannedReply.objects.create(tenant=tenant, title=title, shortcut=shortcut, body=body,
                                                language=language)
            verb = "canned_reply.created"
        else:
            CannedReply.objects.filter(tenant=tenant, pk=canned.pk).update(
                title=title, shortcut=shortcut, body=body, language=language, updated_at=timezone.now()
            )
            canned.refresh_from_db()
            verb = "canned_reply.updated"
        audit_record(tenant=tenant, actor=membership.user, verb=verb, obj=canned, data={"shortcut": shortcut})
    return canned


def canned_reply_delete(*, tenant: Tenant, membership: Membership, canned: CannedReply) -> None:
    if not membership.has_role(Role.ADMIN):
        raise CaseActionError("Only tenant admins edit the canned-reply bank.")
    with transaction.atomic():
        audit_record(tenant=tenant, actor=membership.user, verb="canned_reply.deleted", obj=canned,
                     data={"shortcut": canned.shortcut})
        CannedReply.objects.filter(tenant=tenant, pk=canned.pk).delete()


CANNED_CSV_COLUMNS = ["shortcut", "title", "language", "body"]


@dataclass(frozen=True)
class CannedImportResult:
    created: int
    updated: int
    errors: list[str]


def canned_replies_import_csv(*, tenant: Tenant, membership: Membership, text: str) -> CannedImportResult:
    """Create or update canned replies from CSV (columns shortcut,title,language,body; header required).
    Bad rows are reported with their line number and skipped; good rows are applied in one transaction."""
    if not membership.has_role(Role.ADMIN):
        raise CaseActionError("Only tenant admins edit the canned-reply bank.")
    reader = csv.DictReader(io.StringIO(text))
    missing = set(CANNED_CSV_COLUMNS) - set(reader.fieldnames or [])
    if missing:
        raise CaseActionError(f"The CSV needs the columns {', '.join(CANNED_CSV_COLUMNS)}; missing: "
                              f"{', '.join(sorted(missing))}.")
    created = updated = 0
    errors: list[str] = []
    with transaction.atomic():
        for row in reader:
            line = reader.line_num
            shortcut = (row.get("shortcut") or "").strip().lstrip("/")
            title, body = (row.get("title") or "").strip(), (row.get("body") or "").strip()
            language = (row.get("language") or "").strip()[:8]
            if not re.fullmatch(r"[-a-zA-Z0-9_]{1,40}", shortcut):
                errors.append(f"line {line}: the shortcut {shortcut!r} must be 1–40 letters, digits, - or _")
                continue
            if not title or not body:
                errors.append(f"line {line}: title and body are required")
                continue
            _, was_created = CannedReply.objects.update_or_create(
                tenant=tenant, shortcut=shortcut, defaults={"title": title[:120], "body": body, "language": language}
            )
            created += was_created
            updated += not was_created
        audit_record(tenant=tenant, actor=membership.user, verb="canned_reply.imported", obj=tenant,
                     data={"created": created, "updated": updated, "errors": len(errors)})
    return CannedImportResult(created=created, updated=updated, errors=errors)
