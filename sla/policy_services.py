"""Writes of the tenant admin's SLA configuration: policies (their order decides which one a case gets) and
business calendars. Each is one transaction with its audit row. A policy applies to cases opened after it is
saved; cases already open keep the policy and due times they were given."""

from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from sac.models import Membership, Role, Tenant
from sac.services import audit_record

from .models import BusinessCalendar, SLAPolicy


class SLAConfigError(Exception):
    """A user-facing refusal, shown as it is (in the language active when it was raised: the page's)."""


def _require_admin(membership: Membership) -> None:
    if not membership.has_role(Role.ADMIN):
        raise SLAConfigError(_("Only tenant admins change SLA policies and business hours."))


POLICY_FIELDS = ("name", "min_priority", "channel", "category", "first_response_minutes", "next_response_minutes",
                 "resolution_minutes", "calendar", "warn_percent")


def sla_policy_save(*, tenant: Tenant, membership: Membership, policy: SLAPolicy | None,
                    fields: dict[str, Any]) -> SLAPolicy:
    """Create (last in the order, before the default) or update a policy from validated form data."""
    _require_admin(membership)
    values = {k: fields[k] for k in POLICY_FIELDS if k in fields}
    for key in ("channel", "calendar"):  # the form limits choices to the tenant; this is the second line
        if values.get(key) is not None and values[key].tenant_id != tenant.pk:
            raise SLAConfigError(_("Pick one of your own channels and calendars."))
    with transaction.atomic():
        if policy is None:
            last = (SLAPolicy.objects.filter(tenant=tenant, is_default=False).aggregate(m=Max("position"))["m"])
            policy = SLAPolicy.objects.create(tenant=tenant, position=0 if last is None else last + 1, **values)
            verb = "sla.policy_created"
        else:
            SLAPolicy.objects.filter(tenant=tenant, pk=policy.pk).update(**values)
            policy.refresh_from_db()
            verb = "sla.policy_updated"
        audit_record(tenant=tenant, actor=membership.user, verb=verb, obj=policy, data={"name": policy.name})
    return policy


def sla_policy_move(*, tenant: Tenant, membership: Membership, policy: SLAPolicy, up: bool) -> None:
    """Swap a policy with its neighbour in the admin's order; the default policy always stays last."""
    _require_admin(membership)
    if policy.is_default:
        raise SLAConfigError(_("The default policy applies when no other matches: it stays last."))
    with transaction.atomic():
        policies = list(SLAPolicy.objects.select_for_update().filter(tenant=tenant, is_default=False)
                        .order_by("position", "pk"))
        index = next(i for i, p in enumerate(policies) if p.pk == policy.pk)
        other = index - 1 if up else index + 1
        if 0 <= other < len(policies):
            policies[index], policies[other] = policies[other], policies[index]
        for position, p in enumerate(policies):
            if p.position != position:
                SLAPolicy.objects.filter(tenant=tenant, pk=p.pk).update(position=position)
        audit_record(tenant=tenant, actor=membership.user, verb="sla.policy_moved", obj=policy, data={"up": up})


def sla_policy_delete(*, tenant: Tenant, membership: Membership, policy: SLAPolicy) -> None:
    _require_admin(membership)
    if policy.is_default:
        raise SLAConfigError(_("The default policy cannot be deleted: edit its targets instead."))
    with transaction.atomic():
        audit_record(tenant=tenant, actor=membership.user, verb="sla.policy_deleted", obj=policy,
                     data={"name": policy.name})
        # Open cases keep their due times; their clocks fall back to matching the remaining policies.
        SLAPolicy.objects.filter(tenant=tenant, pk=policy.pk).delete()


def business_calendar_store(*, tenant: Tenant, membership: Membership, calendar: BusinessCalendar | None,
                            fields: dict[str, Any]) -> BusinessCalendar:
    """Create or update a calendar from validated form data (sla.forms.BusinessCalendarForm checked the windows,
    country and state with sla.hours)."""
    _require_admin(membership)
    values = {"name": fields["name"], "windows": fields["windows"], "country": fields.get("country", ""),
              "subdivision": fields.get("subdivision", ""), "extra_holidays": fields.get("extra_holidays", [])}
    with transaction.atomic():
        if calendar is None:
            calendar = BusinessCalendar.objects.create(tenant=tenant, **values)
            verb = "sla.calendar_created"
        else:
            BusinessCalendar.objects.filter(tenant=tenant, pk=calendar.pk).update(**values)
            calendar.refresh_from_db()
            verb = "sla.calendar_saved"
        audit_record(tenant=tenant, actor=membership.user, verb=verb, obj=calendar, data={"name": calendar.name})
    return calendar


def business_calendar_delete(*, tenant: Tenant, membership: Membership, calendar: BusinessCalendar) -> None:
    _require_admin(membership)
    used_by = list(SLAPolicy.objects.filter(tenant=tenant, calendar=calendar).values_list("name", flat=True))
    if used_by:
        raise SLAConfigError(_("Policies use this calendar: %(names)s. Change them first.")
                             % {"names": ", ".join(used_by)})
    with transaction.atomic():
        audit_record(tenant=tenant, actor=membership.user, verb="sla.calendar_deleted", obj=calendar,
                     data={"name": calendar.name})
        BusinessCalendar.objects.filter(tenant=tenant, pk=calendar.pk).delete()
