from typing import Any

from django.http import HttpRequest

from inbox.models import Case
from inbox.panels import CasePanel, register_case_panel

from .selectors import case_survey


def _context(request: HttpRequest, case: Case) -> dict[str, Any] | None:
    invitation = case_survey(case.tenant, case)
    if invitation is None:
        return None
    return {"invitation": invitation, "response": getattr(invitation, "response", None)}


register_case_panel(CasePanel(name="surveys", template="surveys/_case_panel.html", context=_context, order=30))
