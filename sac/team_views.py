"""The Team page: a brand's members (role, teams, skills, cap) and its teams.

Tenant admins change them; supervisors may look (they run the floor and already see caps and who is online on
the SLA dashboard) but not change; agents get a 403. Every write goes through sac.services with its audit row.
"""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import selectors, services
from .forms import LANGUAGE_LABELS, PLATFORM_LABELS, MemberForm, TeamForm
from .models import Role
from .tenancy import TenantRequest, online_user_ids, tenant_view


def _team_url(request: TenantRequest) -> str:
    return reverse("sac:team", args=[request.tenant.slug])


@tenant_view(Role.SUPERVISOR)
@require_GET
def team(request: TenantRequest) -> HttpResponse:
    members = list(selectors.members_for_admin(request.tenant))
    online = online_user_ids(request.tenant, [m.user_id for m in members])
    rows = [{"m": m, "online": m.user_id in online,
             "languages": [LANGUAGE_LABELS.get(code, code) for code in m.languages or []],
             "platforms": [PLATFORM_LABELS.get(code, code) for code in m.platforms or []]} for m in members]
    return render(request, "sac/team.html", {
        "rows": rows, "teams": selectors.teams_with_member_counts(request.tenant),
        "can_edit": request.membership.has_role(Role.ADMIN), "team_form": TeamForm(),
    })


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
