from typing import Any

from inbox import events
from inbox.models import Case
from surveys.signals import survey_answered

from .services import crm_push_schedule


def _on_case_resolved(sender: Any, *, case: Case, **kwargs: Any) -> None:
    # In the resolving transaction: the push row exists exactly when the resolution does.
    crm_push_schedule(case=case, state_key=f"resolved-{case.resolved_at:%Y%m%dT%H%M%S%f}")


def _on_survey_answered(sender: Any, *, tenant_id: int, case_id: int, response_id: int, csat: int | None = None,
                        nps: int | None = None, **kwargs: Any) -> None:
    # Inside the answer's transaction: the push row commits with the answer (a crash between the two cannot
    # lose it); the push itself is queued on commit, and the sweep sends it if the broker loses that.
    case = Case.objects.filter(tenant_id=tenant_id, pk=case_id).select_related("tenant").first()
    if case is None:
        return
    crm_push_schedule(case=case, state_key=f"survey-{response_id}", payload={"csat": csat, "nps": nps})


events.case_resolved.connect(_on_case_resolved, dispatch_uid="crm_bridge.push_on_case_resolved")
survey_answered.connect(_on_survey_answered, dispatch_uid="crm_bridge.push_on_survey_answered")
