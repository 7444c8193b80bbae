"""Shared by the inbox services: the user-facing refusal and who may work on a case."""


import logging
from datetime import datetime
from typing import Any

from sac.models import Membership, Role

from .. import events
from ..models import (
    Case,
)

log = logging.getLogger(__name__)



MAX_SEND_ATTEMPTS = 6
# Starts the error of a send whose outcome is unknown (the post may exist): never resent without a human.
DELIVERY_UNKNOWN = "Delivery unknown:"
# Starts the error of a private message the network refused for this person (X: DMs closed to the brand).
RECIPIENT_UNREACHABLE = "Not deliverable:"


class CaseActionError(Exception):
    """A user-facing refusal: the message is shown to the agent as it is."""

def _may_work_on(membership: Membership, case: Case) -> bool:
    return case.assignee_id == membership.user_id or membership.has_role(Role.SUPERVISOR)


def case_answered(*, case: Case, at: datetime, actor: Any, reply: Any) -> None:
    """The customer got an answer at `at` (a reply SAC delivered, or one the brand wrote outside SAC): the case's
    first response is set if it had none, and the case_replied subscribers (the SLA clocks) run. Call inside the
    transaction that recorded the answer, with `case.tenant` set."""
    if case.first_response_at is None:
        Case.objects.filter(tenant_id=case.tenant_id, pk=case.pk, first_response_at__isnull=True).update(
            first_response_at=at)
        case.first_response_at = at
    events.case_replied.send(sender=Case, case=case, actor=actor, reply=reply)
