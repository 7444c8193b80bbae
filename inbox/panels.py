"""The case page's panel slot (sla, surveys and crm_bridge register into it)."""

from typing import Any

from django.http import HttpRequest
from django.utils.safestring import SafeString

from sac.panels import Panel, PanelSlot

# A case panel's context is called as context(request, case).
CasePanel = Panel
case_panels = PanelSlot()
register_case_panel = case_panels.register


def render_case_panels(request: HttpRequest, case: Any) -> list[SafeString]:
    return case_panels.render(request, case, base={"case": case})
