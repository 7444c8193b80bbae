"""Tenant-admin channel pages: the list (with channels that need re-authorisation), connect, and health."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.db import IntegrityError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from sac.models import Role
from sac.tenancy import TenantRequest, tenant_view

from . import selectors, services
from .models import Platform

SIMULATED_BRAND_X_ID = "1500000000000000001"
SIMULATED_PAGE_ID = "1500000000000000100"


class ConnectForm(forms.Form):
    KINDS = [
        ("simulator_x", "Simulated X account (the loopback simulator)"),
        ("simulator_facebook", "Simulated Facebook page (the loopback simulator's Graph API)"),
        ("x", "X account (API v2 tokens)"),
        ("facebook", "Facebook page (page access token)"),
        ("instagram", "Instagram business account (access token)"),
    ]
    kind = forms.ChoiceField(choices=KINDS)
    name = forms.CharField(max_length=120)
    external_account_id = forms.CharField(max_length=64, required=False,
                                          help_text="X user id, Facebook Page id or Instagram account id")
    handle = forms.CharField(max_length=120, required=False)
    search_terms = forms.CharField(max_length=400, required=False,
                                   help_text="X: words to search besides @mentions (space-separated, any of them)")
    access_token = forms.CharField(required=False, widget=forms.PasswordInput,
                                   help_text="Bearer token (X) or page access token (Facebook, Instagram)")
    app_secret = forms.CharField(required=False, widget=forms.PasswordInput,
                                 help_text="App secret (Meta) or consumer secret (X): signs webhooks")
    verify_token = forms.CharField(required=False, max_length=200, help_text="Meta webhook verify token")
    api_base_url = forms.URLField(required=False, assume_scheme="https",
                                  help_text="Leave empty for the network's own API host")

    def clean(self) -> dict:
        data = super().clean()
        if data.get("kind") in ("x", "facebook", "instagram"):
            for field in ("external_account_id", "access_token"):
                if not data.get(field):
                    self.add_error(field, "Needed to connect a real account.")
        return data


def _connect_args(data: dict) -> dict:
    kind = data["kind"]
    if kind == "simulator_x":
        return {"platform": Platform.SIMULATOR, "external_account_id": SIMULATED_BRAND_X_ID,
                "handle": data["handle"] or "acmetelecom", "api_base_url": settings.SAC_SIMULATOR_URL,
                "credentials": {"bearer_token": "sim", "consumer_key": "sim", "consumer_secret": "sim-secret",
                                "access_token": "sim", "access_token_secret": "sim"}}
    if kind == "simulator_facebook":
        return {"platform": Platform.FACEBOOK, "external_account_id": SIMULATED_PAGE_ID,
                "handle": data["handle"], "api_base_url": settings.SAC_SIMULATOR_URL.rstrip("/") + "/graph/v21.0",
                "credentials": {"page_access_token": "sim-page-token", "app_secret": "sim-app-secret",
                                "verify_token": "sim-verify"}}
    credentials = {"page_access_token" if kind != "x" else "bearer_token": data["access_token"]}
    if data["app_secret"]:
        credentials["app_secret" if kind != "x" else "consumer_secret"] = data["app_secret"]
    if data["verify_token"]:
        credentials["verify_token"] = data["verify_token"]
    return {"platform": kind, "external_account_id": data["external_account_id"], "handle": data["handle"],
            "api_base_url": data["api_base_url"], "credentials": credentials}


@tenant_view(Role.ADMIN)
def channel_list(request: TenantRequest) -> HttpResponse:
    channels = list(selectors.channels_for(request.tenant))
    return render(request, "channels_ingest/channel_list.html", {"channels": channels})


@tenant_view(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def channel_connect(request: TenantRequest) -> HttpResponse:
    form = ConnectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            channel = services.channel_create(tenant=request.tenant, name=form.cleaned_data["name"],
                                              search_terms=form.cleaned_data["search_terms"],
                                              poll_interval_seconds=settings.SAC_POLL_INTERVAL_SECONDS,
                                              actor=request.user, **_connect_args(form.cleaned_data))
        except IntegrityError:
            form.add_error(None, "This account is already connected.")
        else:
            messages.success(request, f"{channel.name} connected: the first poll runs within seconds.")
            return redirect(reverse("channels_ingest:health", args=[request.tenant.slug, channel.pk]))
    return render(request, "channels_ingest/channel_connect.html", {"form": form},
                  status=400 if request.method == "POST" else 200)


@tenant_view(Role.ADMIN)
def channel_health(request: TenantRequest, channel_id: int) -> HttpResponse:
    channel = selectors.access_channel(request.tenant, channel_id)
    base = request.build_absolute_uri("/hooks/")
    hook_platform = "x" if channel.platform in (Platform.X, Platform.SIMULATOR) else channel.platform
    is_x = channel.platform in (Platform.X, Platform.SIMULATOR)
    return render(request, "channels_ingest/channel_health.html", {
        "channel": channel,
        "usage": selectors.usage_summary(request.tenant, channel) if is_x else None,
        "runs": selectors.poll_runs_for(request.tenant, channel),
        "dead_letters": selectors.open_dead_letters_for(request.tenant, channel),
        "webhook_url": f"{base}{hook_platform}/{channel.webhook_key}/",
    })


@tenant_view(Role.ADMIN)
@require_POST
def dead_letter_replay(request: TenantRequest, channel_id: int, dead_letter_id: int) -> HttpResponse:
    channel = selectors.access_channel(request.tenant, channel_id)
    letter = selectors.access_dead_letter(request.tenant, channel, dead_letter_id)
    try:
        result = services.dead_letter_replay(tenant=request.tenant, dead_letter_id=letter.pk, actor=request.user)
    except services.ReplayError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Replayed: {len(result.stored_ids)} new mention(s), "
                                  f"{result.duplicates} already stored.")
    return redirect(reverse("channels_ingest:health", args=[request.tenant.slug, channel.pk]))


class BudgetForm(forms.Form):
    monthly_budget_usd = forms.DecimalField(min_value=0, max_digits=9, decimal_places=2, required=False)


@tenant_view(Role.ADMIN)
@require_POST
def channel_budget(request: TenantRequest, channel_id: int) -> HttpResponse:
    channel = selectors.access_channel(request.tenant, channel_id)
    form = BudgetForm(request.POST)
    if form.is_valid():
        services.channel_budget_set(tenant=request.tenant, channel=channel, actor=request.user,
                                    monthly_budget_usd=form.cleaned_data["monthly_budget_usd"])
        messages.success(request, "Budget saved: polling slows down when the month's forecast exceeds it.")
    else:
        messages.error(request, "The budget must be an amount in US dollars, or empty for no ceiling.")
    return redirect(reverse("channels_ingest:health", args=[request.tenant.slug, channel.pk]))
