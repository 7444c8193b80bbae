"""The canned-reply bank."""


import csv
import io
import re
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from channels_ingest.models import ChannelAccount, Platform
from sac.models import Membership, Role, Tenant
from sac.services import audit_record

from ..models import (
    CannedReply,
)
from .common import CaseActionError

# ---------------------------------------------------------------- canned replies

def _may_edit(membership: Membership, canned: CannedReply | None, personal: bool) -> None:
    if personal:
        if canned is not None and canned.owner_id != membership.user_id:
            raise CaseActionError("You can only edit your own personal replies.")
    elif not membership.has_role(Role.ADMIN):
        raise CaseActionError("Only tenant admins edit the canned-reply bank.")


def canned_reply_save(*, tenant: Tenant, membership: Membership, canned: CannedReply | None, title: str,
                      shortcut: str, body: str, language: str = "", platform: str = "",
                      channel: ChannelAccount | None = None, personal: bool = False) -> CannedReply:
    """Create or edit a canned reply of the tenant's bank (admins) or, with `personal`, one of the agent's own.

    Replies sharing a shortcut are variants; each language × network (or channel) combination appears once.
    """
    _may_edit(membership, canned, personal)
    if platform and platform not in Platform.values:
        raise CaseActionError("Unknown network.")
    if channel is not None:
        if channel.tenant_id != tenant.pk:
            raise CaseActionError("That channel is not one of this brand's.")
        platform = ""  # a channel already says which network
    owner = membership.user if personal else None
    same_variant = CannedReply.objects.filter(tenant=tenant, owner=owner, shortcut=shortcut, language=language,
                                              platform=platform, channel=channel)
    if same_variant.exclude(pk=canned.pk if canned else None).exists():
        where = ", ".join(filter(None, [language and f"language {language}", platform and f"network {platform}",
                                        channel and f"channel {channel.name}"])) or "every language and channel"
        raise CaseActionError(f"The shortcut /{shortcut} already has a reply for {where}.")
    fields = {"title": title, "shortcut": shortcut, "body": body, "language": language, "platform": platform,
              "channel": channel}
    try:
        with transaction.atomic():
            if canned is None:
                canned = CannedReply.objects.create(tenant=tenant, owner=owner, **fields)
                verb = "canned_reply.created"
            else:
                CannedReply.objects.filter(tenant=tenant, owner=owner, pk=canned.pk).update(
                    **fields, updated_at=timezone.now())
                canned.refresh_from_db()
                verb = "canned_reply.updated"
            audit_record(tenant=tenant, actor=membership.user, verb=verb, obj=canned,
                         data={"shortcut": shortcut, "personal": personal})
    except IntegrityError:
        raise CaseActionError(f"The shortcut /{shortcut} was just taken for this variant; try again.") from None
    return canned


def canned_reply_delete(*, tenant: Tenant, membership: Membership, canned: CannedReply) -> None:
    _may_edit(membership, canned, personal=canned.owner_id is not None)
    with transaction.atomic():
        audit_record(tenant=tenant, actor=membership.user, verb="canned_reply.deleted", obj=canned,
                     data={"shortcut": canned.shortcut, "personal": canned.owner_id is not None})
        CannedReply.objects.filter(tenant=tenant, owner_id=canned.owner_id, pk=canned.pk).delete()


CANNED_CSV_COLUMNS = ["shortcut", "title", "language", "body"]
# Optional: limits the row to one network (x, facebook, instagram, simulator); empty = any.
CANNED_CSV_OPTIONAL = ["platform"]


@dataclass(frozen=True)
class CannedImportResult:
    created: int
    updated: int
    errors: list[str]


def canned_replies_import_csv(*, tenant: Tenant, membership: Membership, text: str) -> CannedImportResult:
    """Create or update the bank's canned replies from CSV (columns shortcut,title,language,body and optionally
    platform; header required). A row updates the reply with the same shortcut, language and platform.
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
            platform = (row.get("platform") or "").strip().lower()
            if platform and platform not in Platform.values:
                errors.append(f"line {line}: the platform {platform!r} is not one of {', '.join(Platform.values)}")
                continue
            _, was_created = CannedReply.objects.update_or_create(
                tenant=tenant, owner=None, channel=None, shortcut=shortcut, language=language, platform=platform,
                defaults={"title": title[:120], "body": body},
            )
            created += was_created
            updated += not was_created
        audit_record(tenant=tenant, actor=membership.user, verb="canned_reply.imported", obj=tenant,
                     data={"created": created, "updated": updated, "errors": len(errors)})
    return CannedImportResult(created=created, updated=updated, errors=errors)
