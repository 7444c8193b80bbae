"""Panel slots on the case page. Apps above the inbox (sla, surveys, crm_bridge) register into them
from their AppConfig.ready(), so the inbox never imports them (DESIGN.md: one-way dependencies)."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

# context(request, case) -> dict for the template, or None to hide the panel for this case.
PanelContext = Callable[[HttpRequest, Any], dict[str, Any] | None]


@dataclass(frozen=True)
class CasePanel:
    name: str
    template: str
    context: PanelContext
    order: int = 100


_PANELS: dict[str, CasePanel] = {}


def register_case_panel(panel: CasePanel) -> None:
    _PANELS[panel.name] = panel


def render_case_panels(request: HttpRequest, case: Any) -> list[SafeString]:
    rendered = []
    for panel in sorted(_PANELS.values(), key=lambda p: (p.order, p.name)):
        context = panel.context(request, case)
        if context is not None:
            html = render_to_string(panel.template, {"case": case, **context}, request=request)
            rendered.append(mark_safe(html))  # noqa: S308  (rendered by Django's autoescaping templates)
    return rendered
