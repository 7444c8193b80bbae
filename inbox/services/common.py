"""Shared by the inbox services: the user-facing refusal and who may work on a case."""


import logging

from sac.models import Membership, Role

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
