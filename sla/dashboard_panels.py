"""The supervisor dashboard's panel slot (surveys registers CSAT, NPS and deflection into it)."""

from django.http import HttpRequest
from django.utils.safestring import SafeString

from sac.models import Tenant
from sac.panels import Panel, PanelSlot

from .selectors import Filters, Period

# A dashboard panel's context is called as context(request, tenant, period, filters).
DashboardPanel = Panel
dashboard_panels = PanelSlot()
register_dashboard_panel = dashboard_panels.register


def render_dashboard_panels(request: HttpRequest, tenant: Tenant, period: Period, filters: Filters) -> list[SafeString]:
    return dashboard_panels.render(request, tenant, period, filters)
