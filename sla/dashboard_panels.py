"""Panel slots on the supervisor dashboard. Other apps (surveys: CSAT, NPS, deflection) register
into them from their AppConfig.ready(); sla never imports them."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from sac.models import Tenant

from .selectors import Filters, Period

# context(request, tenant, period, filters) -> template context, or None to hide the panel.
DashboardContext = Callable[[HttpRequest, Tenant, Period, Filters], dict[str, Any] | None]


@dataclass(frozen=True)
class DashboardPanel:
    name: str
    template: str
    context: DashboardContext
    order: int = 100


_PANELS: dict[str, DashboardPanel] = {}


def register_dashboard_panel(panel: DashboardPanel) -> None:
    _PANELS[panel.name] = panel


def render_dashboard_panels(request: HttpRequest, tenant: Tenant, period: Period, filters: Filters) -> list[SafeString]:
    rendered = []
    for panel in sorted(_PANELS.values(), key=lambda p: (p.order, p.name)):
        context = panel.context(request, tenant, period, filters)
        if context is not None:
            rendered.append(mark_safe(render_to_string(panel.template, context, request=request)))  # noqa: S308
    return rendered
