from typing import Any

from django.http import HttpRequest

from inbox.models import Case
from inbox.panels import CasePanel, register_case_panel


def _context(request: HttpRequest, case: Case) -> dict[str, Any]:
    # Nothing here calls the CRM: the panel's body loads afterwards (htmx), so the case page never waits on it.
    return {}


register_case_panel(CasePanel(name="crm", template="crm_bridge/_case_panel_slot.html", context=_context, order=20))
