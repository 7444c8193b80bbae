"""Triage pages: an agent's correction on the case page, routing rules and model versions for tenant admins."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sac.models import Role
from sac.tenancy import TenantRequest, tenant_view

from . import selectors, services
from .triage_forms import PersonalDataPatternForm, RoutingRuleForm, TriageCategoryForm, TriageCorrectionForm


@tenant_view()
@require_POST
def case_triage_correct(request: TenantRequest, case_id: int) -> HttpResponse:
    case = selectors.access_case(request.tenant, case_id)
    form = TriageCorrectionForm(request.POST, tenant=request.tenant)
    if form.is_valid():
        try:
            services.triage_correct(tenant=request.tenant, membership=request.membership, case=case,
                                    category=form.cleaned_data["category"],
                                    requires_response=form.cleaned_data["requires_response"],
                                    priority=form.cleaned_data["priority"])
            messages.success(request, "Thanks: triage corrected. The next model learns from it.")
        except services.CaseActionError as exc:
            messages.error(request, str(exc))
    else:
        messages.error(request, "Correction not saved: " + "; ".join(
            f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
    return redirect(reverse("inbox:case", args=[request.tenant.slug, case.pk]))


@tenant_view(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def routing_rules(request: TenantRequest) -> HttpResponse:
    form = RoutingRuleForm(request.POST or None, tenant=request.tenant)
    if request.method == "POST" and form.is_valid():
        try:
            services.routing_rule_save(tenant=request.tenant, membership=request.membership, rule=None,
                                       fields=form.cleaned_data)
            messages.success(request, "Routing rule added.")
            return redirect(reverse("inbox:routing_rules", args=[request.tenant.slug]))
        except services.CaseActionError as exc:
            messages.error(request, str(exc))
    return render(request, "inbox/triage/rules.html", {
        "rules": selectors.routing_rules_of(request.tenant), "form": form,
        "patterns": selectors.personal_data_patterns_of(request.tenant), "pattern_form": PersonalDataPatternForm(),
        "categories": selectors.triage_categories_of(request.tenant), "category_form": TriageCategoryForm(),
    })


@tenant_view(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def routing_rule_edit(request: TenantRequest, rule_id: int) -> HttpResponse:
    rule = selectors.access_routing_rule(request.tenant, rule_id)
    form = RoutingRuleForm(request.POST or None, instance=rule, tenant=request.tenant)
    if request.method == "POST" and form.is_valid():
        try:
            services.routing_rule_save(tenant=request.tenant, membership=request.membership, rule=rule,
                                       fields=form.cleaned_data)
            messages.success(request, "Routing rule saved.")
            return redirect(reverse("inbox:routing_rules", args=[request.tenant.slug]))
        except services.CaseActionError as exc:
            messages.error(request, str(exc))
    return render(request, "inbox/triage/rule_form.html", {"rule": rule, "form": form})


@tenant_view(Role.ADMIN)
@require_POST
def routing_rule_delete(request: TenantRequest, rule_id: int) -> HttpResponse:
    rule = selectors.access_routing_rule(request.tenant, rule_id)
    services.routing_rule_delete(tenant=request.tenant, membership=request.membership, rule=rule)
    messages.success(request, "Routing rule deleted.")
    return redirect(reverse("inbox:routing_rules", args=[request.tenant.slug]))


@tenant_view(Role.ADMIN)
@require_POST
def routing_rule_move(request: TenantRequest, rule_id: int) -> HttpResponse:
    rule = selectors.access_routing_rule(request.tenant, rule_id)
    services.routing_rule_move(tenant=request.tenant, membership=request.membership, rule=rule,
                               up=request.POST.get("direction") == "up")
    return redirect(reverse("inbox:routing_rules", args=[request.tenant.slug]))


@tenant_view(Role.ADMIN)
@require_GET
def triage_models(request: TenantRequest) -> HttpResponse:
    return render(request, "inbox/triage/models.html", {
        "versions": selectors.triage_model_versions(request.tenant),
        "corrections": selectors.triage_corrections_count(request.tenant),
        "retrain_every": services.RETRAIN_EVERY,
    })


@tenant_view(Role.ADMIN)
@require_POST
def personal_data_pattern_add(request: TenantRequest) -> HttpResponse:
    form = PersonalDataPatternForm(request.POST)
    if form.is_valid():
        try:
            services.personal_data_pattern_add(tenant=request.tenant, membership=request.membership,
                                               name=form.cleaned_data["name"], regex=form.cleaned_data["regex"])
            messages.success(request, "Pattern added: new mentions are checked for it.")
        except services.CaseActionError as exc:
            messages.error(request, str(exc))
    else:
        messages.error(request, "Pattern not saved: " + "; ".join(" ".join(v) for v in form.errors.values()))
    return redirect(reverse("inbox:routing_rules", args=[request.tenant.slug]))


@tenant_view(Role.ADMIN)
@require_POST
def personal_data_pattern_delete(request: TenantRequest, pattern_id: int) -> HttpResponse:
    pattern = selectors.access_personal_data_pattern(request.tenant, pattern_id)
    services.personal_data_pattern_delete(tenant=request.tenant, membership=request.membership, pattern=pattern)
    return redirect(reverse("inbox:routing_rules", args=[request.tenant.slug]))


@tenant_view(Role.ADMIN)
@require_POST
def triage_category_add(request: TenantRequest) -> HttpResponse:
    form = TriageCategoryForm(request.POST)
    if form.is_valid():
        services.triage_category_add(tenant=request.tenant, membership=request.membership,
                                     name=form.cleaned_data["name"])
        messages.success(request, "Category added: agents can pick it when they correct a triage.")
    else:
        messages.error(request, "Category not saved: " + "; ".join(" ".join(v) for v in form.errors.values()))
    return redirect(reverse("inbox:routing_rules", args=[request.tenant.slug]))
