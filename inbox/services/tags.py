"""Tags: the tenant's list (admins), tagging cases (agents), and the mandatory tags a case needs before resolving."""

import zoneinfo
from datetime import date

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from sac.models import Membership, Role, Tenant
from sac.services import audit_record

from ..models import Case, Tag
from .common import CaseActionError, _may_work_on


def _require_admin(membership: Membership) -> None:
    if not membership.has_role(Role.ADMIN):
        raise CaseActionError(_("Only tenant admins manage tags."))


def _clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise CaseActionError(_("A tag needs a name."))
    if len(name) > 50:
        raise CaseActionError(_("A tag name has at most 50 characters."))
    return name


def tag_save(*, tenant: Tenant, membership: Membership, tag: Tag | None, name: str, mandatory: bool = False,
             mandatory_from: date | None = None, mandatory_until: date | None = None) -> Tag:
    """Create a tag or rename / re-rule an existing one."""
    _require_admin(membership)
    name = _clean_name(name)
    if mandatory_from and mandatory_until and mandatory_until < mandatory_from:
        raise CaseActionError(_("The campaign ends before it starts: check the dates."))
    if not mandatory and (mandatory_from or mandatory_until):
        raise CaseActionError(_("Campaign dates only apply to a mandatory tag: tick “mandatory” or clear the dates."))
    clash = Tag.objects.filter(tenant=tenant, name__iexact=name).exclude(pk=tag.pk if tag else None)
    if clash.exists():
        raise CaseActionError(_("There is already a tag called “%(name)s”.") % {"name": name})
    fields = {"name": name, "mandatory": mandatory, "mandatory_from": mandatory_from,
              "mandatory_until": mandatory_until}
    try:
        with transaction.atomic():
            if tag is None:
                tag = Tag.objects.create(tenant=tenant, **fields)
                verb, data = "tag.created", {"name": name}
            else:
                old_name = tag.name
                Tag.objects.filter(tenant=tenant, pk=tag.pk).update(**fields)
                tag.refresh_from_db()
                verb, data = "tag.updated", {"name": name, "was": old_name}
            data.update(mandatory=mandatory, mandatory_from=str(mandatory_from or ""),
                        mandatory_until=str(mandatory_until or ""))
            audit_record(tenant=tenant, actor=membership.user, verb=verb, obj=tag, data=data)
    except IntegrityError:
        # A colleague created the same name between our check and the insert.
        raise CaseActionError(_("There is already a tag called “%(name)s”.") % {"name": name}) from None
    return tag


def tag_archive(*, tenant: Tenant, membership: Membership, tag: Tag, archived: bool = True) -> Tag:
    """Archived tags stay on the cases that have them; nobody can add them any more and none is required."""
    _require_admin(membership)
    with transaction.atomic():
        Tag.objects.filter(tenant=tenant, pk=tag.pk).update(archived=archived)
        tag.refresh_from_db()
        audit_record(tenant=tenant, actor=membership.user, verb="tag.archived" if archived else "tag.restored",
                     obj=tag, data={"name": tag.name})
    return tag


def case_tag_add(*, tenant: Tenant, membership: Membership, case: Case, tag: Tag) -> Case:
    if not _may_work_on(membership, case):
        raise CaseActionError(_("Only the assignee or a supervisor can tag this case."))
    if tag.tenant_id != tenant.pk or tag.archived:
        raise CaseActionError(_("That tag is archived or not one of this brand's tags."))
    with transaction.atomic():
        if not case.tags.filter(pk=tag.pk).exists():
            case.tags.add(tag)
            audit_record(tenant=tenant, actor=membership.user, verb="case.tag_added", obj=case,
                         data={"tag": tag.name})
    return case


def case_tag_remove(*, tenant: Tenant, membership: Membership, case: Case, tag: Tag) -> Case:
    if not _may_work_on(membership, case):
        raise CaseActionError(_("Only the assignee or a supervisor can tag this case."))
    with transaction.atomic():
        if case.tags.filter(pk=tag.pk).exists():
            case.tags.remove(tag)
            audit_record(tenant=tenant, actor=membership.user, verb="case.tag_removed", obj=case,
                         data={"tag": tag.name})
    return case


def mandatory_tags_for(tenant: Tenant, case: Case) -> list[Tag]:
    """The tenant's mandatory tags that apply to this case: always-mandatory ones, and campaign ones whose dates
    include the day the customer first wrote (a Black Friday complaint still needs its tag after the campaign)."""
    day = case.first_message_at.astimezone(zoneinfo.ZoneInfo(tenant.time_zone)).date()
    return [t for t in Tag.objects.filter(tenant=tenant, mandatory=True, archived=False).order_by("name")
            if t.required_on(day)]


def case_missing_mandatory_tags(tenant: Tenant, case: Case) -> list[Tag]:
    required = mandatory_tags_for(tenant, case)
    if not required:
        return []
    present = set(case.tags.filter(tenant=tenant).values_list("pk", flat=True))
    return [t for t in required if t.pk not in present]


def case_require_mandatory_tags(tenant: Tenant, case: Case) -> None:
    """Called on the resolve path: a case without its mandatory tags is refused, naming them."""
    missing = case_missing_mandatory_tags(tenant, case)
    if missing:
        names = ", ".join(f"“{t.name}”" for t in missing)
        raise CaseActionError(ngettext("Add the mandatory tag %(names)s before resolving this case.",
                                       "Add the mandatory tags %(names)s before resolving this case.",
                                       len(missing)) % {"names": names})
