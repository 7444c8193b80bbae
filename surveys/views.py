"""Supervisors' and admins' survey pages. Every view is wrapped by sac.tenancy.tenant_view."""

from datetime import timedelta

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from sac.models import Role
from sac.selectors import members_of, teams_of
from sac.tenancy import TenantRequest, tenant_view

from . import selectors, services
from .forms import DeflectionUploadForm, SurveyConfigForm

PERIODS = {"7": 7, "30": 30, "90": 90}
# What the breakdown's links and column say; the query keeps the English key (?by=channel).
DIMENSION_LABELS = {"channel": gettext_lazy("channel"), "team": gettext_lazy("team"), "agent": gettext_lazy("agent"),
                    "category": gettext_lazy("category")}


@tenant_view(Role.SUPERVISOR)
@require_http_methods(["GET"])
def dashboard(request: TenantRequest) -> HttpResponse:
    days = PERIODS.get(request.GET.get("days", "30"), 30)
    dimension = request.GET.get("by", "channel")
    if dimension not in selectors.DIMENSIONS:
        dimension = "channel"
    f = selectors.filter_from_query(request.GET, days)
    return render(request, "surveys/dashboard.html", {
        "days": days, "periods": PERIODS, "dimension": dimension, "dimensions": selectors.DIMENSIONS,
        "dimension_labels": {key: DIMENSION_LABELS.get(key, key) for key in selectors.DIMENSIONS},
        **selectors.dashboard_context(request.tenant, days, f), "filters": f,
        "channels": selectors.channels_of(request.tenant), "teams": teams_of(request.tenant),
        "members": members_of(request.tenant), "categories": selectors.categories_of(request.tenant),
        "breakdown": selectors.survey_metrics_by(request.tenant, f, dimension),
        "trend": selectors.survey_trend(request.tenant, f, "week" if days > 30 else "day"),
        "followups": selectors.followups_open(request.tenant, team_ids=list(
            request.membership.teams.values_list("pk", flat=True)) if request.GET.get("mine") else None),
        "mine": bool(request.GET.get("mine")),
        "done": selectors.followups_recent_done(request.tenant),
        "config": selectors.survey_config_for(request.tenant),
    })


@tenant_view(Role.SUPERVISOR)
@require_POST
def followup_close(request: TenantRequest, followup_id: int) -> HttpResponse:
    followup = selectors.access_followup(request.tenant, followup_id)
    try:
        services.followup_close(tenant=request.tenant, membership=request.membership, followup=followup,
                                outcome=request.POST.get("outcome", ""))
        messages.success(request, _("Follow-up of case %(protocol)s marked done.")
                         % {"protocol": followup.case.protocol})
    except services.SurveyError as exc:
        messages.error(request, str(exc))
    return redirect(reverse("surveys:dashboard", args=[request.tenant.slug]))


@tenant_view(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def settings_edit(request: TenantRequest) -> HttpResponse:
    config = selectors.survey_config_for(request.tenant)
    form = SurveyConfigForm(request.POST or None, instance=config)
    if request.method == "POST" and form.is_valid():
        try:
            services.survey_config_save(tenant=request.tenant, membership=request.membership,
                                        values={k: form.cleaned_data[k] for k in services.CONFIG_FIELDS})
        except services.SurveyError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Survey settings saved."))
            return redirect(reverse("surveys:settings", args=[request.tenant.slug]))
    return render(request, "surveys/settings.html", {"form": form},
                  status=400 if request.method == "POST" else 200)


@tenant_view(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def deflection_import(request: TenantRequest) -> HttpResponse:
    form = DeflectionUploadForm(request.POST or None, request.FILES or None)
    errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        text = upload.read().decode("utf-8-sig", errors="replace") if upload else form.cleaned_data["text"]
        try:
            rows, errors = services.deflection_parse_csv(text or "")
            result = services.deflection_import(tenant=request.tenant, membership=request.membership, rows=rows,
                                                errors=errors)
        except services.SurveyError as exc:
            errors = [str(exc)]
        else:
            messages.success(request, (_("%(saved)s day(s) imported, %(skipped)s line(s) skipped.") if errors
                                       else _("%(saved)s day(s) imported.")) % {"saved": result.saved,
                                                                                "skipped": len(errors)})
            if not errors:
                return redirect(reverse("surveys:deflection", args=[request.tenant.slug]))
    today = timezone.localdate()
    return render(request, "surveys/deflection.html", {
        "form": form, "errors": errors, "days": selectors.deflection_days(request.tenant, today - timedelta(days=60),
                                                                          today),
    }, status=400 if errors else 200)
