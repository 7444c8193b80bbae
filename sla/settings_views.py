"""Tenant-admin pages for SLA policies and business calendars (sac.tenancy.tenant_view(Role.ADMIN) on each)."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from sac.models import Role
from sac.tenancy import TenantRequest, tenant_view

from . import policy_services, selectors
from .forms import WEEKDAYS, BusinessCalendarForm, SLAPolicyForm
from .models import BusinessCalendar


def _settings_url(request: TenantRequest) -> str:
    return reverse("sla:settings", args=[request.tenant.slug])


@tenant_view(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def settings(request: TenantRequest) -> HttpResponse:
    """The policies in the order they are tried, a form for a new one, and the business calendars."""
    form = SLAPolicyForm(request.POST or None, tenant=request.tenant)
    if request.method == "POST":
        if form.is_valid():
            try:
                policy = policy_services.sla_policy_save(tenant=request.tenant, membership=request.membership,
                                                         policy=None, fields=form.cleaned_data)
                messages.success(request, _("Policy “%(name)s” added: it applies to cases opened from now on.")
                                 % {"name": policy.name})
                return redirect(_settings_url(request))
            except policy_services.SLAConfigError as exc:
                messages.error(request, str(exc))
        else:
            messages.error(request, _("The policy was not saved: see the marked fields."))
    return render(request, "sla/settings.html", {
        "policies": selectors.policies_for_admin(request.tenant), "form": form,
        "calendars": selectors.calendars_of(request.tenant), "weekdays": WEEKDAYS,
    }, status=400 if form.errors else 200)


@tenant_view(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def policy_edit(request: TenantRequest, policy_id: int) -> HttpResponse:
    policy = selectors.access_policy(request.tenant, policy_id)
    form = SLAPolicyForm(request.POST or None, instance=policy, tenant=request.tenant)
    if request.method == "POST":
        if form.is_valid():
            try:
                policy_services.sla_policy_save(tenant=request.tenant, membership=request.membership, policy=policy,
                                                fields=form.cleaned_data)
                messages.success(request, _("Policy saved: it applies to cases opened from now on."))
                return redirect(_settings_url(request))
            except policy_services.SLAConfigError as exc:
                messages.error(request, str(exc))
        else:
            messages.error(request, _("The policy was not saved: see the marked fields."))
    return render(request, "sla/policy_form.html", {"policy": policy, "form": form},
                  status=400 if form.errors else 200)


@tenant_view(Role.ADMIN)
@require_POST
def policy_move(request: TenantRequest, policy_id: int) -> HttpResponse:
    policy = selectors.access_policy(request.tenant, policy_id)
    try:
        policy_services.sla_policy_move(tenant=request.tenant, membership=request.membership, policy=policy,
                                        up=request.POST.get("direction") == "up")
    except policy_services.SLAConfigError as exc:
        messages.error(request, str(exc))
    return redirect(_settings_url(request))


@tenant_view(Role.ADMIN)
@require_POST
def policy_delete(request: TenantRequest, policy_id: int) -> HttpResponse:
    policy = selectors.access_policy(request.tenant, policy_id)
    try:
        policy_services.sla_policy_delete(tenant=request.tenant, membership=request.membership, policy=policy)
        messages.success(request, _("Policy “%(name)s” deleted.") % {"name": policy.name})
    except policy_services.SLAConfigError as exc:
        messages.error(request, str(exc))
    return redirect(_settings_url(request))


def _calendar_page(request: TenantRequest, calendar: BusinessCalendar | None) -> HttpResponse:
    form = BusinessCalendarForm(request.POST or None, tenant=request.tenant, instance=calendar)
    if request.method == "POST":
        if form.is_valid():
            try:
                saved = policy_services.business_calendar_store(
                    tenant=request.tenant, membership=request.membership, calendar=calendar, fields=form.cleaned_data)
                messages.success(request, _("Business hours “%(name)s” saved.") % {"name": saved.name})
                return redirect(_settings_url(request))
            except policy_services.SLAConfigError as exc:
                messages.error(request, str(exc))
        else:
            messages.error(request, _("The calendar was not saved: see the marked fields."))
    return render(request, "sla/calendar_form.html", {"calendar": calendar, "form": form},
                  status=400 if form.errors else 200)


@tenant_view(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def calendar_new(request: TenantRequest) -> HttpResponse:
    return _calendar_page(request, None)


@tenant_view(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def calendar_edit(request: TenantRequest, calendar_id: int) -> HttpResponse:
    return _calendar_page(request, selectors.access_calendar(request.tenant, calendar_id))


@tenant_view(Role.ADMIN)
@require_POST
def calendar_delete(request: TenantRequest, calendar_id: int) -> HttpResponse:
    calendar = selectors.access_calendar(request.tenant, calendar_id)
    try:
        policy_services.business_calendar_delete(tenant=request.tenant, membership=request.membership,
                                                 calendar=calendar)
        messages.success(request, _("Business hours “%(name)s” deleted.") % {"name": calendar.name})
    except policy_services.SLAConfigError as exc:
        messages.error(request, str(exc))
    return redirect(_settings_url(request))
