"""The Team page: a brand's members (role, teams, skills, cap) and its teams.

Tenant admins change them; supervisors may look (they run the floor and already see caps and who is online on
the SLA dashboard) but not change; agents get a 403. Every write goes through sac.services with its audit row.
"""

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import selectors, services
from .forms import LANGUAGE_LABELS, PLATFORM_LABELS, InvitationAcceptForm, InvitationForm, MemberForm, TeamForm
from .i18n import chosen_language
from .models import Invitation, Membership, Role
from .tenancy import TenantRequest, online_user_ids, page_language, tenant_view


def _team_url(request: TenantRequest) -> str:
    return reverse("sac:team", args=[request.tenant.slug])


def _team_page(request: TenantRequest, *, invite_form: InvitationForm | None = None,
               status: int = 200) -> HttpResponse:
    members = list(selectors.members_for_admin(request.tenant))
    online = online_user_ids(request.tenant, [m.user_id for m in members])
    rows = [{"m": m, "online": m.user_id in online,
             "languages": [LANGUAGE_LABELS.get(code, code) for code in m.languages or []],
             "platforms": [PLATFORM_LABELS.get(code, code) for code in m.platforms or []]} for m in members]
    can_edit = request.membership.has_role(Role.ADMIN)
    invitations = []
    if can_edit:  # addresses of people who are not members yet: for the admins who invite them
        now = timezone.now()
        invitations = [{"i": i, "state": i.state(now)} for i in selectors.invitations_open(request.tenant)]
    return render(request, "sac/team.html", {
        "rows": rows, "teams": selectors.teams_with_member_counts(request.tenant),
        "can_edit": can_edit, "team_form": TeamForm(),
        "invite_form": (invite_form or InvitationForm(tenant=request.tenant)) if can_edit else None,
        "invitations": invitations, "invite_days": services.INVITATION_DAYS,
    }, status=status)


@tenant_view(Role.SUPERVISOR)
@require_GET
def team(request: TenantRequest) -> HttpResponse:
    return _team_page(request)


@tenant_view(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def member_edit(request: TenantRequest, member_id: int) -> HttpResponse:
    member = selectors.access_member(request.tenant, member_id, inactive_too=True)
    initial = {"role": member.role, "teams": list(member.teams.filter(tenant=request.tenant)),
               "languages": member.languages, "platforms": member.platforms,
               "max_open_cases": member.max_open_cases, "is_active": member.is_active}
    form = MemberForm(request.POST or None, initial=initial, tenant=request.tenant)
    if request.method == "POST":
        if form.is_valid():
            try:
                updated = services.membership_update(
                    tenant=request.tenant, actor=request.membership, member=member, role=form.cleaned_data["role"],
                    teams=list(form.cleaned_data["teams"]), languages=form.cleaned_data["languages"],
                    platforms=form.cleaned_data["platforms"], max_open_cases=form.cleaned_data["max_open_cases"],
                    is_active=form.cleaned_data["is_active"])
            except services.TeamConfigError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("%(user)s saved.") % {"user": updated.user.get_username()})
                if updated.pk == request.membership.pk and not (updated.is_active
                                                                and updated.has_role(Role.SUPERVISOR)):
                    # They just took away their own access to this page.
                    return redirect(reverse("home"))
                return redirect(_team_url(request))
        else:
            form.add_error(None, _("Nothing was saved: see the marked fields."))
    return render(request, "sac/team_member.html", {"member": member, "form": form},
                  status=400 if form.errors else 200)


@tenant_view(Role.ADMIN)
@require_POST
def team_new(request: TenantRequest) -> HttpResponse:
    form = TeamForm(request.POST)
    if form.is_valid():
        try:
            created = services.team_create(tenant=request.tenant, actor=request.membership,
                                           name=form.cleaned_data["name"], auto_assign=form.cleaned_data["auto_assign"])
        except services.TeamConfigError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Team “%(name)s” created.") % {"name": created.name})
    else:
        messages.error(request, _("The team was not saved: it needs a name of up to 80 characters."))
    return redirect(_team_url(request))


@tenant_view(Role.ADMIN)
@require_POST
def team_edit(request: TenantRequest, team_id: int) -> HttpResponse:
    found = selectors.access_team(request.tenant, team_id)
    form = TeamForm(request.POST)
    if form.is_valid():
        try:
            services.team_update(tenant=request.tenant, actor=request.membership, team=found,
                                 name=form.cleaned_data["name"], auto_assign=form.cleaned_data["auto_assign"])
        except services.TeamConfigError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Team “%(name)s” saved.") % {"name": found.name})
    else:
        messages.error(request, _("The team was not saved: it needs a name of up to 80 characters."))
    return redirect(_team_url(request))


@tenant_view(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def team_delete(request: TenantRequest, team_id: int) -> HttpResponse:
    """GET asks for confirmation, saying what happens to the team's cases; POST deletes."""
    found = selectors.access_team(request.tenant, team_id)
    if request.method == "POST":
        cases = services.team_delete(tenant=request.tenant, actor=request.membership, team=found)
        messages.success(request, ngettext("Team “%(name)s” deleted; %(count)s case now has no team.",
                                           "Team “%(name)s” deleted; %(count)s cases now have no team.", cases)
                         % {"name": found.name, "count": cases})
        return redirect(_team_url(request))
    return render(request, "sac/team_delete.html", {
        "team": found, "cases": selectors.team_case_count(request.tenant, found),
        "members": selectors.team_member_count(request.tenant, found),
    })


# ---------------------------------------------------------------- invitations

@tenant_view(Role.ADMIN)
@require_POST
def invitation_new(request: TenantRequest) -> HttpResponse:
    form = InvitationForm(request.POST, tenant=request.tenant)
    if form.is_valid():
        data = form.cleaned_data
        try:
            invitation, _token = services.invitation_create(
                tenant=request.tenant, actor=request.membership, email=data["email"], name=data["name"],
                role=data["role"], teams=list(data["teams"]), languages=data["languages"],
                platforms=data["platforms"], language=data["language"])
        except services.TeamConfigError as exc:
            form.add_error("email", str(exc))
        else:
            if not _mail_failed(request, invitation):
                messages.success(request, _("Invitation sent to %(email)s. The link works for %(days)s days.")
                                 % {"email": invitation.email, "days": services.INVITATION_DAYS})
            return redirect(_team_url(request))
    return _team_page(request, invite_form=form, status=400)


def _mail_failed(request: TenantRequest, invitation: Invitation) -> bool:
    """Say so when the invitation is saved but its e-mail did not go out (the mail server refused or was down)."""
    if not invitation.email_error:
        return False
    messages.error(request, _("The invitation to %(email)s is saved, but its e-mail could not be sent "
                              "(%(error)s). Check the mail settings, then press Resend.")
                   % {"email": invitation.email, "error": invitation.email_error})
    return True


def _invitation_change(request: TenantRequest, invitation_id: int, change: Callable[..., Invitation],
                       done: str) -> HttpResponse:
    """Resend or revoke one of the tenant's open invitations (another tenant's id: 404), then back to the list."""
    found = selectors.access_invitation(request.tenant, invitation_id)
    try:
        invitation = change(tenant=request.tenant, actor=request.membership, invitation=found)
    except services.TeamConfigError as exc:
        messages.error(request, str(exc))
    else:
        if not _mail_failed(request, invitation):
            messages.success(request, done % {"email": found.email})
    return redirect(_team_url(request))


@tenant_view(Role.ADMIN)
@require_POST
def invitation_resend(request: TenantRequest, invitation_id: int) -> HttpResponse:
    # The service also returns the new link's token (for its tests); the page needs only the invitation.
    return _invitation_change(request, invitation_id, lambda **kw: services.invitation_resend(**kw)[0], _(
        "A new invitation was sent to %(email)s; the link in the earlier e-mail no longer works."))


@tenant_view(Role.ADMIN)
@require_POST
def invitation_revoke(request: TenantRequest, invitation_id: int) -> HttpResponse:
    return _invitation_change(request, invitation_id, services.invitation_revoke, _(
        "The invitation to %(email)s was revoked: its link no longer works."))


# The accept page's statuses: an unknown link is not there (404); the others were there and are gone (410).
_UNUSABLE_STATUS = {"invalid": 404, "expired": 410, "revoked": 410, "used": 410}


@never_cache
@sensitive_post_parameters("password1", "password2")
@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """/invite/<token>/, the link in the invitation e-mail. No login needed: a new person sets a password here; an
    existing account signs in and confirms. Every dead end is a page that says what to do, never an error page."""
    invitation = selectors.invitation_by_token(token)
    # The language the invitation was written in, unless the visitor picked one with the header's switcher.
    language = chosen_language(request) or (invitation.language if invitation else request.LANGUAGE_CODE)
    with translation.override(language):
        response = _invitation_accept(request, token, invitation)
    response.headers.setdefault("Content-Language", language)
    return response


def _invitation_page(request: HttpRequest, mode: str, context: dict, status: int = 200) -> HttpResponse:
    return render(request, "sac/invitation_accept.html", {"mode": mode, **context}, status=status)


def _unusable(request: HttpRequest, reason: str) -> HttpResponse:
    return _invitation_page(request, "unusable", {"reason": reason}, status=_UNUSABLE_STATUS[reason])


def _joined(request: HttpRequest, membership: Membership) -> HttpResponse:
    if not membership.is_active:  # an admin deactivated them after inviting them: the invitation does not undo it
        return _invitation_page(request, "inactive", {"brand": membership.tenant.name})
    with translation.override(page_language(request, membership.tenant)):  # shown on the brand's inbox, in its language
        messages.success(request, _("Welcome to %(brand)s.") % {"brand": membership.tenant.name})
    return redirect("inbox:queue", tenant_slug=membership.tenant.slug)


def _invitation_accept(request: HttpRequest, token: str, invitation: Invitation | None) -> HttpResponse:
    try:
        invitation = services.invitation_usable(invitation)
    except services.InvitationUnusable as exc:
        return _unusable(request, exc.reason)
    inviter = invitation.invited_by
    context = {"invitation": invitation, "brand": invitation.tenant.name, "role": Role(invitation.role).label,
               "teams": [t.name for t in invitation.teams.filter(tenant=invitation.tenant).order_by("name")],
               "inviter": (inviter.get_full_name() or inviter.get_username()) if inviter else ""}
    accounts = selectors.accounts_for_email(invitation.email)
    user = request.user
    if user.is_authenticated:
        if not accounts.filter(pk=user.pk).exists():
            return _invitation_page(request, "wrong_account", context, status=403)
        if request.method == "POST":
            try:
                membership = services.invitation_accept(token=token, user=user)
            except services.InvitationUnusable as exc:
                return _unusable(request, exc.reason)
            except services.InvitationWrongAccount:  # the address's accounts changed since the check above
                return _invitation_page(request, "wrong_account", context, status=403)
            return _joined(request, membership)
        return _invitation_page(request, "confirm", context)
    existing = accounts.first()
    if existing is not None:
        return _invitation_page(request, "sign_in", {**context, "username": existing.get_username()})
    # The account about to be made, unsaved, for the password validators (a password like the name or address).
    unsaved = services.invitation_account(invitation, request.POST.get("name", invitation.name))
    form = InvitationAcceptForm(request.POST or None, user=unsaved, initial={"name": invitation.name})
    if request.method == "POST" and form.is_valid():
        try:
            membership = services.invitation_accept_new_account(
                token=token, name=form.cleaned_data["name"], password=form.cleaned_data["password1"])
        except services.InvitationUnusable as exc:
            return _unusable(request, exc.reason)
        except services.InvitationAccountExists:
            return _invitation_page(request, "sign_in", {**context, "username": invitation.email})
        # Two backends are configured (sac.settings.base): name the one new sessions use.
        login(request, membership.user, backend="sac.backends.MembershipsBackend")
        return _joined(request, membership)
    return _invitation_page(request, "new_account", {**context, "form": form}, status=400 if form.errors else 200)
