"""The supervisor dashboard and the SLA alerts page. Every view goes through sac.tenancy.tenant_view."""

import csv
from datetime import datetime
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from channels_ingest.models import ChannelAccount
from inbox.selectors import access_case, triage_categories
from inbox.services import CaseActionError, cases_reassign_bulk
from sac.models import Role
from sac.parsing import parse_int
from sac.selectors import access_member, members_of, teams_of
from sac.tenancy import TenantRequest, tenant_view

from . import selectors, services
from .dashboard_panels import render_dashboard_panels


def _int(value: str | None) -> int | None:
    return parse_int(value)


def _filters(request: TenantRequest) -> selectors.Filters:
    get = request.GET
    return selectors.Filters(channel_id=_int(get.get("channel")), team_id=_int(get.get("team")),
                             assignee_id=_int(get.get("agent")), category=get.get("category", "")[:30])


def _period(request: TenantRequest) -> selectors.Period:
    get = request.GET
    return selectors.period_parse(request.tenant, get.get("period", "7d"), get.get("since", ""), get.get("until", ""))


def _query(request: TenantRequest, **overrides: str) -> str:
    params = {k: v for k, v in request.GET.items() if k in ("period", "since", "until", "channel", "team", "agent",
                                                            "category") and v}
    params.update(overrides)
    return urlencode(params)


def _bars(rows: list[tuple[object, int]]) -> list[dict]:
    top = max((n for _, n in rows), default=0) or 1
    return [{"label": label, "n": n, "pct": round(100 * n / top)} for label, n in rows]


def _volume_bars(rows: list[tuple[datetime, int]], by: str) -> list[dict]:
    """The volume bars with their labels formatted here, as the template's date filter would ('d/m H:i', 'd/m',
    'D d/m'): a year is 365 bars and 365 table rows, and the filter's format lookups cost more than the rest of
    the page's rendering."""
    bars = _bars(rows)
    for bar in bars:
        d = bar["label"]
        bar["title"] = f"{d:%d/%m %H:%M}"
        bar["tick"] = f"{d:%d/%m}" if by == "day" else (f"{d:%H}h" if d.hour % 3 == 0 else "")
        bar["row"] = f"{d:%d/%m %H:%M}" if by == "hour" else f"{WEEKDAYS_ABBR[d.weekday()]} {d:%d/%m}"
    return bars


@tenant_view(Role.SUPERVISOR)
@require_GET
def dashboard(request: TenantRequest) -> HttpResponse:
    tenant, period, filters = request.tenant, _period(request), _filters(request)
    by = "hour" if period.key == "today" else "day"
    board = selectors.now_board(tenant)
    summary = selectors.period_summary(tenant, period, filters, by=by, open_total=board["open_total"])
    context = {
        "board": board, "period": period, "filters": filters, "summary": summary,
        "volume": _volume_bars(summary["volume"], by), "by": by,
        "profile": _bars(list(enumerate(summary["profile"]))),
        "channels": ChannelAccount.objects.filter(tenant=tenant).order_by("name"),
        "teams": teams_of(tenant), "members": members_of(tenant),
        "categories": triage_categories(tenant),
        "query": _query(request), "periods": (("today", _("Today")), ("7d", _("7 days")), ("30d", _("30 days"))),
        "panels": render_dashboard_panels(request, tenant, period, filters),
    }
    return render(request, "sla/dashboard.html", context)


def _render_now(request: TenantRequest) -> HttpResponse:
    return render(request, "sla/_now.html", {"board": selectors.now_board(request.tenant),
                                             "members": members_of(request.tenant)})


@tenant_view(Role.SUPERVISOR)
@require_GET
def now_partial(request: TenantRequest) -> HttpResponse:
    """What the dashboard polls (htmx) to stay live."""
    return _render_now(request)


@tenant_view(Role.SUPERVISOR)
@require_POST
def reassign(request: TenantRequest) -> HttpResponse:
    """One click from a case at risk to a colleague (or back to the queue), through the inbox's own service."""
    member_id = _int(request.POST.get("to_member"))
    to_membership = access_member(request.tenant, member_id) if member_id else None
    case_id = _int(request.POST.get("case"))
    try:
        moved = cases_reassign_bulk(tenant=request.tenant, membership=request.membership,
                                    case_ids=[case_id] if case_id else [], to_membership=to_membership)
        if moved:
            who = to_membership.user.get_username() if to_membership else "the unassigned queue"
            messages.success(request, f"Case moved to {who}.")
        else:
            messages.error(request, "Nothing moved: the case is not open here, or already there.")
    except CaseActionError as exc:
        messages.error(request, str(exc))
    if request.headers.get("HX-Request"):
        return _render_now(request)
    return redirect(reverse("sla:dashboard", args=[request.tenant.slug]))


TABLES = ("volume", "hours", "categories", "at_risk", "agents")


@tenant_view(Role.SUPERVISOR)
@require_GET
def export_csv(request: TenantRequest) -> HttpResponse:
    table = request.GET.get("table", "")
    if table not in TABLES:
        raise Http404("No such table.")
    tenant, period, filters = request.tenant, _period(request), _filters(request)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="sla-{tenant.slug}-{table}-{period.key}.csv"'
    writer = csv.writer(response)
    if table == "volume":
        by = "hour" if period.key == "today" else "day"
        writer.writerow([by, "cases"])
        for bucket, n in selectors.volume(tenant, period, filters, by=by):
            writer.writerow([bucket.isoformat(), n])
    elif table == "hours":
        writer.writerow(["hour_of_day", "cases"])
        writer.writerows(enumerate(selectors.hour_of_day_profile(tenant, period, filters)))
    elif table == "categories":
        writer.writerow(["category", "cases"])
        for row in selectors.period_summary(tenant, period, filters)["top_categories"]:
            writer.writerow([row["category"], row["n"]])
    elif table == "at_risk":
        writer.writerow(["protocol", "target", "due", "breached", "assignee"])
        for item in selectors.at_risk(tenant, now=selectors.timezone.now(), limit=1000):
            writer.writerow([item.case.protocol, item.target, item.due.isoformat(), item.breached,
                             item.case.assignee.get_username() if item.case.assignee else ""])
    else:
        writer.writerow(["agent", "online", "open_cases", "cap"])
        for row in selectors.agents_load(tenant):
            writer.writerow([row["membership"].user.get_username(), row["online"], row["open"], row["cap"]])
    return response


@tenant_view()
@require_GET
def alerts(request: TenantRequest) -> HttpResponse:
    """Each person's SLA alerts in the product (agents see the ones on their cases)."""
    rows = selectors.notifications_for(request.tenant, request.user.pk)
    return render(request, "sla/alerts.html", {"rows": rows})


@tenant_view()
@require_POST
def alerts_read(request: TenantRequest) -> HttpResponse:
    services.sla_notifications_mark_read(tenant=request.tenant, user_id=request.user.pk)
    return redirect(reverse("sla:alerts", args=[request.tenant.slug]))


@tenant_view()
@require_POST
def case_promise(request: TenantRequest, case_id: int) -> HttpResponse:
    case = access_case(request.tenant, case_id)
    try:
        min_hours, max_hours = float(request.POST.get("min_hours", "")), float(request.POST.get("max_hours", ""))
        promise = services.promise_make(tenant=request.tenant, membership=request.membership, case=case,
                                        min_hours=min_hours, max_hours=max_hours)
        messages.success(request, f"Promised: {promise}.")
    except ValueError:
        messages.error(request, "Give the window in hours, e.g. 2 and 6.")
    except services.PromiseError as exc:
        messages.error(request, str(exc))
    return redirect(reverse("inbox:case", args=[request.tenant.slug, case.pk]))
