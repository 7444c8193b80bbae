from typing import Any

from django.http import HttpRequest

from inbox.models import Case
from inbox.panels import CasePanel, register_case_panel
from sac.models import Tenant
from sla.dashboard_panels import DashboardPanel, register_dashboard_panel
from sla.selectors import Filters, Period

from .selectors import MetricsFilter, case_survey, deflection, survey_metrics


def _context(request: HttpRequest, case: Case) -> dict[str, Any] | None:
    invitation = case_survey(case.tenant, case)
    if invitation is None:
        return None
    return {"invitation": invitation, "response": getattr(invitation, "response", None)}


register_case_panel(CasePanel(name="surveys", template="surveys/_case_panel.html", context=_context, order=30))


def _dashboard_context(request: HttpRequest, tenant: Tenant, period: Period, filters: Filters) -> dict[str, Any]:
    """CSAT, NPS, response rate and deflection over the SLA dashboard's period and filters."""
    f = MetricsFilter(start=period.since, end=period.until, channel_id=filters.channel_id, team_id=filters.team_id,
                      agent_id=filters.assignee_id, category=filters.category)
    return {"metrics": survey_metrics(tenant, f),
            "deflection": deflection(tenant, period.since.date(), period.last_day)}


register_dashboard_panel(DashboardPanel(name="surveys", template="surveys/_kpis.html", context=_dashboard_context,
                                        order=10))
