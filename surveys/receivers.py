from typing import Any

from inbox import events
from inbox.models import Case

from .services import survey_invitation_schedule


def _on_case_resolved(sender: Any, *, case: Case, **kwargs: Any) -> None:
    # Synchronous on purpose: the invitation row commits (or rolls back) with the resolution.
    survey_invitation_schedule(case=case)


events.case_resolved.connect(_on_case_resolved, dispatch_uid="surveys.invitation_on_case_resolved")
