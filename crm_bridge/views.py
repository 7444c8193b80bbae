"""CRM pages: local customers, the CRM settings, and the case page's CRM panel (loaded after the page)."""

import json

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from inbox.selectors import access_case
from sac.models import Role
from sac.tenancy import TenantRequest, tenant_view

from . import selectors, services
from .adapters import CrmRefused, CrmUnavailable, Identity, adapter_for
from .forms import CrmConfigForm, CustomerForm, ImportForm


@tenant_view()
@require_GET
def customer_list(request: TenantRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:120]
    return render(request, "crm_bridge/customers.html", {
        "customers": selectors.crm_customers(request.tenant, query)[:200], "q": query,
        "config": selectors.crm_config_for(request.tenant),
    })


@tenant_view(Role.SUPERVISOR)
@require_http_methods(["GET", "POST"])
def customer_edit(request: TenantRequest, customer_id: int | None = None) -> HttpResponse:
    customer = selectors.access_crm_customer(request.tenant, customer_id) if customer_id else None
    initial = {}
    if customer is not None:
        initial = {"name": customer.name, "email": customer.email, "phone": customer.phone,
                   "document": customer.document, "external_ref": customer.external_ref,
                   "attributes": json.dumps(customer.attributes, ensure_ascii=False, indent=1)}
    form = CustomerForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.crm_customer_save(tenant=request.tenant, membership=request.membership, customer=customer,
                                       data=form.cleaned_data)
        except services.CrmError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Customer saved."))
            return redirect(reverse("crm_bridge:customers", args=[request.tenant.slug]))
    return render(request, "crm_bridge/customer_form.html", {"form": form, "customer": customer},
                  status=400 if request.method == "POST" else 200)


@tenant_view(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def customer_import(request: TenantRequest) -> HttpResponse:
    form = ImportForm(request.POST or None, request.FILES or None)
    errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        text = upload.read().decode("utf-8-sig", errors="replace") if upload else form.cleaned_data["text"]
        try:
            result = services.crm_customers_import_csv(tenant=request.tenant, membership=request.membership,
                                                       text=text or "")
        except services.CrmError as exc:
            errors = [str(exc)]
        else:
            errors = result.errors
            counts = {"created": result.created, "updated": result.updated, "skipped": len(errors)}
            messages.success(request, (_("%(created)s created, %(updated)s updated, %(skipped)s line(s) skipped.")
                                       if errors else _("%(created)s created, %(updated)s updated.")) % counts)
            if not errors:
                return redirect(reverse("crm_bridge:customers", args=[request.tenant.slug]))
    return render(request, "crm_bridge/customer_import.html", {"form": form, "errors": errors},
                  status=400 if errors else 200)


@tenant_view(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def settings_edit(request: TenantRequest) -> HttpResponse:
    config = selectors.crm_config_for(request.tenant)
    initial = {"kind": config.kind, "base_url": config.base_url,
               "auth_header_name": (config.auth_header or {}).get("name", "Authorization"),
               "lookups": json.dumps(config.lookups, indent=1), "field_mapping": json.dumps(config.field_mapping,
                                                                                             indent=1),
               "push": json.dumps(config.push, indent=1), "timeout_seconds": config.timeout_seconds,
               "cache_ttl_seconds": config.cache_ttl_seconds, "push_enabled": config.push_enabled}
    form = CrmConfigForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if data["hubspot_preset"]:
                parsed = {k: services.HUBSPOT_PRESET[k] for k in ("lookups", "field_mapping", "push")}
            else:
                parsed = {k: services.json_or_error(data[k], str(form.fields[k].label))
                          for k in ("lookups", "field_mapping", "push")}
            auth = None
            if data["auth_header_value"]:
                auth = {"name": data["auth_header_name"] or "Authorization", "value": data["auth_header_value"]}
            services.crm_config_save(tenant=request.tenant, membership=request.membership, auth_header=auth, values={
                "kind": data["kind"], "base_url": data["base_url"], "timeout_seconds": data["timeout_seconds"],
                "cache_ttl_seconds": data["cache_ttl_seconds"], "push_enabled": data["push_enabled"], **parsed})
        except services.CrmError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("CRM settings saved."))
            return redirect(reverse("crm_bridge:settings", args=[request.tenant.slug]))
    return render(request, "crm_bridge/settings.html", {"form": form, "has_secret": bool(config.auth_header)},
                  status=400 if request.method == "POST" else 200)


def _panel_response(request: TenantRequest, case_id: int, error: str = "") -> HttpResponse:
    case = access_case(request.tenant, case_id)
    query = request.GET.get("q", "").strip()[:120]
    results, search_error = [], ""
    if query:
        try:
            results = selectors.crm_search(request.tenant, query)
        except (CrmUnavailable, CrmRefused) as exc:
            search_error = str(exc)
    return render(request, "crm_bridge/_case_panel.html", {
        "case": case, "panel": selectors.crm_panel(request.tenant, case), "q": query, "results": results,
        "search_error": search_error or error,
    })


@tenant_view()
@require_GET
def case_panel(request: TenantRequest, case_id: int) -> HttpResponse:
    return _panel_response(request, case_id)


@tenant_view()
@require_POST
def case_link(request: TenantRequest, case_id: int) -> HttpResponse:
    case = access_case(request.tenant, case_id)
    error = ""
    if case.customer is None:
        error = _("This case has no known author to link.")
    else:
        try:
            record = adapter_for(request.tenant.pk).lookup(Identity("ref", request.POST.get("ref", "")[:120]))
        except (CrmUnavailable, CrmRefused) as exc:
            error = str(exc)
        else:
            if record is None:
                error = _("That CRM record no longer exists.")
            else:
                services.identity_link(tenant=request.tenant, membership=request.membership, profile=case.customer,
                                       record=record, how=request.POST.get("how", "manual")[:40])
    if request.headers.get("HX-Request"):
        return _panel_response(request, case_id, error)
    if error:
        messages.error(request, error)
    return redirect(reverse("inbox:case", args=[request.tenant.slug, case.pk]))


@tenant_view()
@require_POST
def case_unlink(request: TenantRequest, case_id: int) -> HttpResponse:
    case = access_case(request.tenant, case_id)
    if case.customer is not None:
        services.identity_unlink(tenant=request.tenant, membership=request.membership, profile=case.customer)
    if request.headers.get("HX-Request"):
        return _panel_response(request, case_id)
    return redirect(reverse("inbox:case", args=[request.tenant.slug, case.pk]))
