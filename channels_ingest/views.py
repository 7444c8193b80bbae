"""Tenant-admin channel pages: the list (with channels that need re-authorisation), connect, and health."""

from collections.abc import Callable

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sac.models import Role, Tenant
from sac.selectors import access_membership_by_slug
from sac.tenancy import TenantRequest, page_language, require_role, tenant_view

from . import selectors, services, subscriptions
from .models import Platform
from .oauth import facebook as oauth_facebook
from .oauth import flow as oauth_flow
from .oauth import services as oauth_services
from .oauth import x as oauth_x
from .oauth.errors import OAuthError

SIMULATED_BRAND_X_ID = "1500000000000000001"
SIMULATED_PAGE_ID = "1500000000000000100"


class ConnectForm(forms.Form):
    KINDS = [
        ("simulator_x", gettext_lazy("Simulated X account (the loopback simulator)")),
        ("simulator_facebook", gettext_lazy("Simulated Facebook page (the loopback simulator's Graph API)")),
        ("x", gettext_lazy("X account (API v2 tokens)")),
        ("facebook", gettext_lazy("Facebook page (page access token)")),
        ("instagram", gettext_lazy("Instagram business account (access token)")),
    ]
    kind = forms.ChoiceField(choices=KINDS, label=gettext_lazy("Kind"))
    name = forms.CharField(max_length=120, label=gettext_lazy("Name"))
    external_account_id = forms.CharField(max_length=64, required=False, label=gettext_lazy("External account id"),
                                          help_text=gettext_lazy("X user id, Facebook Page id or Instagram account id"))
    handle = forms.CharField(max_length=120, required=False, label=gettext_lazy("Handle"))
    search_terms = forms.CharField(max_length=400, required=False, label=gettext_lazy("Search terms"),
                                   help_text=gettext_lazy("X: words to search besides @mentions (space-separated, "
                                                          "any of them; \"quotes\" for a phrase)"))
    access_token = forms.CharField(required=False, widget=forms.PasswordInput, label=gettext_lazy("Access token"),
                                   help_text=gettext_lazy("Bearer token (X) or page access token (Facebook, "
                                                          "Instagram)"))
    app_secret = forms.CharField(required=False, widget=forms.PasswordInput, label=gettext_lazy("App secret"),
                                 help_text=gettext_lazy("App secret (Meta) or consumer secret (X): signs webhooks"))
    verify_token = forms.CharField(required=False, max_length=200, label=gettext_lazy("Verify token"),
                                   help_text=gettext_lazy("Meta webhook verify token"))
    api_base_url = forms.URLField(required=False, assume_scheme="https", label=gettext_lazy("API base URL"),
                                  help_text=gettext_lazy("Leave empty for the network's own API host"))

    def clean(self) -> dict:
        data = super().clean()
        if data.get("search_terms"):
            try:
                data["search_terms"] = services.search_terms_clean(data["search_terms"], handle=data.get("handle", ""))
            except services.SearchTermsError as exc:
                self.add_error("search_terms", str(exc))
        if data.get("kind") in ("x", "facebook", "instagram"):
            for field in ("external_account_id", "access_token"):
                if not data.get(field):
                    self.add_error(field, _("Needed to connect a real account."))
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
            form.add_error(None, _("This account is already connected."))
        else:
            messages.success(request, _("%(channels)s: the first poll runs within seconds.")
                             % {"channels": _connected(channel.name, True)})
            return redirect(reverse("channels_ingest:health", args=[request.tenant.slug, channel.pk]))
    return render(request, "channels_ingest/channel_connect.html", {
        "form": form, "x_oauth": oauth_x.configured(), "facebook_oauth": oauth_facebook.configured(),
        # The demo points the OAuth hosts at the loopback simulator; the page says so rather than pretend.
        "oauth_simulated": bool(settings.SAC_SIMULATOR_URL)
        and settings.SAC_X_OAUTH_AUTHORIZE_URL.startswith(settings.SAC_SIMULATOR_URL.rstrip("/")),
    }, status=400 if request.method == "POST" else 200)


@tenant_view(Role.ADMIN)
def channel_health(request: TenantRequest, channel_id: int) -> HttpResponse:
    channel = selectors.access_channel(request.tenant, channel_id)
    base = request.build_absolute_uri("/hooks/")
    hook_platform = "x" if channel.platform in (Platform.X, Platform.SIMULATOR) else channel.platform
    is_x = channel.platform in (Platform.X, Platform.SIMULATOR)
    webhooks = subscriptions.subscription_of(channel)
    if webhooks.state == "by_hand":
        webhook_url = f"{base}{hook_platform}/{channel.webhook_key}/"
    else:
        # Connected with OAuth: the network delivers to its app's one callback URL, not to one per channel.
        webhook_url = request.build_absolute_uri(reverse(
            "channels_ingest_webhooks:x_app" if is_x else "channels_ingest_webhooks:meta_app"))
    return render(request, "channels_ingest/channel_health.html", {
        "channel": channel,
        "usage": selectors.usage_summary(request.tenant, channel) if is_x else None,
        "runs": selectors.poll_runs_for(request.tenant, channel),
        "dead_letters": selectors.open_dead_letters_for(request.tenant, channel),
        "webhook_url": webhook_url,
        "webhooks": webhooks,
        "catch_up": selectors.comment_catch_up(channel),
        "backlog": selectors.ingest_backlog(request.tenant, channel),
    })


@tenant_view(Role.ADMIN)
@require_POST
def channel_webhooks_subscribe(request: TenantRequest, channel_id: int) -> HttpResponse:
    """The health page's *Subscribe again*: the subscription Connect with X / Facebook makes, after a refusal or a
    fix on the network's side (a permission granted, the app's webhook set up)."""
    channel = selectors.access_channel(request.tenant, channel_id)
    outcome = subscriptions.channel_webhooks_subscribe(channel=channel, actor=request.user)
    if outcome.state == "subscribed":
        messages.success(request, _("Webhooks subscribed: the network now pushes this channel's events; polling "
                                    "catches up on what they miss."))
    elif outcome.state == "failed":
        messages.error(request, _("Webhook subscription failed: %(reason)s. Polling carries on.")
                       % {"reason": outcome.reason})
    elif outcome.state == "x_not_set_up":
        messages.error(request, _("Webhooks are not set up for X on this installation: polling only."))
    else:
        messages.error(request, _("This channel was connected by hand: its webhooks are set up in the network's "
                                  "app settings, with the webhook URL shown here."))
    return redirect(reverse("channels_ingest:health", args=[request.tenant.slug, channel.pk]))


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
        messages.success(request, _("Replayed: %(new)s new mention(s), %(duplicates)s already stored.")
                         % {"new": len(result.stored_ids), "duplicates": result.duplicates})
    return redirect(reverse("channels_ingest:health", args=[request.tenant.slug, channel.pk]))


class BudgetForm(forms.Form):
    monthly_budget_usd = forms.DecimalField(min_value=0, max_digits=9, decimal_places=2, required=False,
                                            label=gettext_lazy("Monthly budget (USD)"))


@tenant_view(Role.ADMIN)
@require_POST
def channel_budget(request: TenantRequest, channel_id: int) -> HttpResponse:
    channel = selectors.access_channel(request.tenant, channel_id)
    form = BudgetForm(request.POST)
    if form.is_valid():
        services.channel_budget_set(tenant=request.tenant, channel=channel, actor=request.user,
                                    monthly_budget_usd=form.cleaned_data["monthly_budget_usd"])
        messages.success(request, _("Budget saved: polling slows down when the month's forecast exceeds it "
                                   "and pauses when the budget is spent."))
    else:
        messages.error(request, _("The budget must be an amount in US dollars, or empty for no ceiling."))
    return redirect(reverse("channels_ingest:health", args=[request.tenant.slug, channel.pk]))


@tenant_view(Role.ADMIN)
@require_POST
def channel_search_terms(request: TenantRequest, channel_id: int) -> HttpResponse:
    channel = selectors.access_channel(request.tenant, channel_id)
    try:
        terms = services.channel_search_terms_set(tenant=request.tenant, channel=channel, actor=request.user,
                                                  search_terms=request.POST.get("search_terms", "")[:2000])
    except services.SearchTermsError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Search terms saved: the next poll searches X for %(terms)s, from the newest "
                                    "posts.") % {"terms": terms} if terms else
                         _("Search terms cleared: the channel reads its @mentions and DMs only."))
    return redirect(reverse("channels_ingest:health", args=[request.tenant.slug, channel.pk]))


# ---------------------------------------------------------------- "Connect with X" / "Connect with Facebook"

def _oauth_begin(request: TenantRequest, network: str, verifier: str = "") -> tuple[str, str]:
    redirect_uri = request.build_absolute_uri(reverse(f"channels_oauth:{network}_callback"))
    state = oauth_flow.flow_begin(request.session, network=network, tenant_id=request.tenant.pk,
                                  user_id=request.user.pk, redirect_uri=redirect_uri, verifier=verifier)
    return state, redirect_uri


@tenant_view(Role.ADMIN)
@require_POST
def oauth_x_start(request: TenantRequest) -> HttpResponse:
    if not oauth_x.configured():
        messages.error(request, _("Connect with X needs SAC_X_OAUTH_CLIENT_ID and SAC_X_OAUTH_CLIENT_SECRET."))
        return redirect(reverse("channels_ingest:connect", args=[request.tenant.slug]))
    verifier, challenge = oauth_x.pkce_pair()
    state, redirect_uri = _oauth_begin(request, "x", verifier)
    return redirect(oauth_x.authorize_url(state=state, challenge=challenge, redirect_uri=redirect_uri))


@tenant_view(Role.ADMIN)
@require_POST
def oauth_facebook_start(request: TenantRequest) -> HttpResponse:
    if not oauth_facebook.configured():
        messages.error(request, _("Connect with Facebook needs SAC_FACEBOOK_APP_ID and "
                                  "SAC_FACEBOOK_APP_SECRET."))
        return redirect(reverse("channels_ingest:connect", args=[request.tenant.slug]))
    state, redirect_uri = _oauth_begin(request, "facebook")
    return redirect(oauth_facebook.dialog_url(state=state, redirect_uri=redirect_uri))


def _oauth_callback_tenant(request: HttpRequest, network: str) -> tuple[oauth_flow.Flow, Tenant]:
    """The login this callback answers, and its tenant, where the user must (still) be an admin."""
    flow = oauth_flow.flow_finish(request.session, network=network, state=request.GET.get("state", ""),
                                  user_id=request.user.pk)
    tenant = Tenant.objects.filter(pk=flow.tenant_id).first()
    if tenant is None:
        raise Http404("No such tenant.")
    require_role(access_membership_by_slug(request.user, tenant.slug), Role.ADMIN)
    return flow, tenant


def _oauth_failed(request: HttpRequest, message: str, tenant: Tenant | None = None) -> HttpResponse:
    if tenant is not None:
        messages.error(request, message)
        return redirect(reverse("channels_ingest:connect", args=[tenant.slug]))
    return render(request, "channels_ingest/oauth_failed.html", {"message": message}, status=400)


def _oauth_callback(request: HttpRequest, network: str,
                    finish: Callable[[HttpRequest, oauth_flow.Flow, Tenant], HttpResponse]) -> HttpResponse:
    """The login this callback answers, then `finish` in the brand's language.

    The callback URL is outside /t/<slug>/ (one per installation), so until the tenant is known the page
    follows the browser; from then on the messages read as on the brand's own pages, where they are shown.
    """
    try:
        flow, tenant = _oauth_callback_tenant(request, network)
    except OAuthError as exc:
        return _oauth_failed(request, str(exc))
    with translation.override(page_language(request, tenant)):
        return finish(request, flow, tenant)


@login_required
@require_GET
def oauth_x_callback(request: HttpRequest) -> HttpResponse:
    return _oauth_callback(request, "x", _x_callback_finish)


@login_required
@require_GET
def oauth_facebook_callback(request: HttpRequest) -> HttpResponse:
    return _oauth_callback(request, "facebook", _facebook_callback_finish)


def _x_callback_finish(request: HttpRequest, flow: oauth_flow.Flow, tenant: Tenant) -> HttpResponse:
    if request.GET.get("error") or not request.GET.get("code"):
        return _oauth_failed(request, _("X did not authorize SAC (%(error)s): nothing was connected.")
                             % {"error": request.GET.get("error") or _("no code")}, tenant)
    try:
        tokens = oauth_x.exchange_code(code=request.GET["code"], verifier=flow.verifier,
                                       redirect_uri=flow.redirect_uri)
        account = oauth_x.me(access_token=tokens.access_token)
    except OAuthError as exc:
        return _oauth_failed(request, str(exc), tenant)
    channel, created = oauth_services.channel_oauth_connect(
        tenant=tenant, actor=request.user, platform=Platform.X, external_account_id=account["id"],
        name=f"@{account['username']} on X" if account["username"] else account["name"] or account["id"],
        handle=account["username"], api_base_url=oauth_x.api_base_url(), credentials=tokens.credentials())
    # After the connect has committed: a refused subscription is shown on the health page, never a failed connect.
    subscriptions.channel_webhooks_subscribe_after_connect(channel=channel, actor=request.user)
    messages.success(request, _("%(channels)s: the first poll runs within seconds.")
                     % {"channels": _connected(channel.name, created)})
    return redirect(reverse("channels_ingest:health", args=[tenant.slug, channel.pk]))


def _connected(name: str, created: bool) -> str:
    return (_("%(name)s connected") if created else _("%(name)s reconnected")) % {"name": name}


def _facebook_callback_finish(request: HttpRequest, flow: oauth_flow.Flow, tenant: Tenant) -> HttpResponse:
    if request.GET.get("error") or not request.GET.get("code"):
        reason = request.GET.get("error_reason") or request.GET.get("error") or _("no code")
        return _oauth_failed(request, _("Facebook did not authorize SAC (%(reason)s): nothing was connected.")
                             % {"reason": reason}, tenant)
    try:
        user_token = oauth_facebook.exchange_code(code=request.GET["code"], redirect_uri=flow.redirect_uri)
        pages = oauth_facebook.pages(user_token=user_token)
    except OAuthError as exc:
        return _oauth_failed(request, str(exc), tenant)
    if not pages:
        return _oauth_failed(request, _("This Facebook login manages no page SAC may use: check that the page was "
                                        "selected in Facebook's dialog."), tenant)
    oauth_flow.pages_keep(request.session, tenant_id=tenant.pk, user_id=request.user.pk, pages=pages)
    return redirect(reverse("channels_ingest:oauth_facebook_pages", args=[tenant.slug]))


class PagePickForm(forms.Form):
    page_id = forms.CharField(max_length=64)
    instagram = forms.BooleanField(required=False)


@tenant_view(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def oauth_facebook_pages(request: TenantRequest) -> HttpResponse:
    """After Facebook Login: the admin picks the page to connect (and its Instagram account, if they want it)."""
    pages = oauth_flow.pages_pending(request.session, tenant_id=request.tenant.pk, user_id=request.user.pk)
    if not pages:
        messages.error(request, _("No Facebook login is waiting for a page choice: start with Connect with "
                                  "Facebook."))
        return redirect(reverse("channels_ingest:connect", args=[request.tenant.slug]))
    form = PagePickForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        page = next((p for p in pages if p["id"] == form.cleaned_data["page_id"]), None)
        if page is None:
            form.add_error("page_id", _("Pick one of the pages listed."))
        else:
            return _facebook_page_connect(request, page, with_instagram=form.cleaned_data["instagram"])
    return render(request, "channels_ingest/oauth_facebook_pages.html",
                  {"pages": [{"id": p["id"], "name": p["name"]} for p in pages], "form": form},
                  status=400 if request.method == "POST" else 200)


def _facebook_page_connect(request: TenantRequest, page: dict[str, str], *, with_instagram: bool) -> HttpResponse:
    meta_credentials = {"auth": "oauth2", "page_access_token": page["access_token"],
                        "app_secret": settings.SAC_FACEBOOK_APP_SECRET}
    instagram = None
    if with_instagram:
        try:
            instagram = oauth_facebook.instagram_account(page_id=page["id"], page_token=page["access_token"])
        except OAuthError as exc:
            messages.error(request, str(exc))
            return redirect(reverse("channels_ingest:oauth_facebook_pages", args=[request.tenant.slug]))
    channel, created = oauth_services.channel_oauth_connect(
        tenant=request.tenant, actor=request.user, platform=Platform.FACEBOOK, external_account_id=page["id"],
        name=page["name"], handle="", api_base_url=oauth_facebook.api_base_url(),
        credentials=meta_credentials)
    done = [_connected(channel.name, created)]
    if instagram is not None:
        ig, ig_created = oauth_services.channel_oauth_connect(
            tenant=request.tenant, actor=request.user, platform=Platform.INSTAGRAM,
            external_account_id=instagram["id"], name=f"@{instagram['username'] or instagram['id']} on Instagram",
            handle=instagram["username"], api_base_url=oauth_facebook.api_base_url(),
            credentials={**meta_credentials, subscriptions.PAGE_ID_KEY: page["id"]})
        done.append(_connected(ig.name, ig_created))
    elif with_instagram:
        messages.warning(request, _("This page has no Instagram business account linked: only the page was "
                                    "connected."))
    oauth_flow.pages_forget(request.session)
    # After the connects have committed: a refused subscription is shown on the health page, never a failed connect.
    subscriptions.channel_webhooks_subscribe_after_connect(channel=channel, actor=request.user)
    if instagram is not None:
        subscriptions.channel_webhooks_subscribe_after_connect(channel=ig, actor=request.user)
    messages.success(request, _("%(channels)s: the first poll runs within seconds.") % {"channels": "; ".join(done)})
    return redirect(reverse("channels_ingest:health", args=[request.tenant.slug, channel.pk]))
