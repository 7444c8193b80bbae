from typing import Any

from django.http import HttpRequest

from inbox.models import Case
from inbox.panels import CasePanel, register_case_panel

from .models import CaseClock, CasePromise
from .selectors import policy_for


def _context(request: HttpRequest, case: Case) -> dict[str, Any]:
    clock = CaseClock.objects.filter(tenant=case.tenant, case=case).select_related("policy__calendar").first()
    policy = (clock.policy if clock and clock.policy else None) or policy_for(case.tenant)
    promise = CasePromise.objects.filter(tenant=case.tenant, case=case, is_active=True).first()
    return {"policy": policy, "clock": clock, "promise": promise,
            "events": list(case.sla_events.filter(tenant=case.tenant).order_by("at"))}


register_case_panel(CasePanel(name="sla", template="sla/_case_panel.html", context=_context, order=10))
