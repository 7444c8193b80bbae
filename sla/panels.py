from typing import Any

from django.http import HttpRequest

from inbox.models import Case
from inbox.panels import CasePanel, register_case_panel

from .selectors import policy_for


def _context(request: HttpRequest, case: Case) -> dict[str, Any]:
    return {"policy": policy_for(case.tenant)}


register_case_panel(CasePanel(name="sla", template="sla/_case_panel.html", context=_context, order=10))
