from typing import Any

from inbox import events
from inbox.models import Case

from .services import case_deadlines_set


def _on_case_opened(sender: Any, *, case: Case, **kwargs: Any) -> None:
    case_deadlines_set(case=case)


events.case_opened.connect(_on_case_opened, dispatch_uid="sla.deadlines_on_case_opened")
