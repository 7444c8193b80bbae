from datetime import timedelta

from django.db import transaction

from inbox.models import Case
from sac.models import Tenant

from .models import SLAPolicy
from .selectors import policy_for


def case_deadlines_set(*, case: Case) -> Case:
    """Set the due times of a new case. Runs inside the transaction that opens the case, so a case
    is never visible without its deadlines. The clock starts at the customer's first message."""
    policy = policy_for(case.tenant)
    first_response_due = case.first_message_at + timedelta(minutes=policy.first_response_minutes)
    resolution_due = case.first_message_at + timedelta(minutes=policy.resolution_minutes)
    Case.objects.filter(tenant=case.tenant, pk=case.pk).update(
        first_response_due=first_response_due, resolution_due=resolution_due
    )
    case.first_response_due, case.resolution_due = first_response_due, resolution_due
    return case


@transaction.atomic
def sla_policy_ensure_default(*, tenant: Tenant, first_response_minutes: int = 60,
                              resolution_minutes: int = 24 * 60) -> SLAPolicy:
    policy, _ = SLAPolicy.objects.get_or_create(
        tenant=tenant, is_default=True,
        defaults={"name": "Default", "first_response_minutes": first_response_minutes,
                  "resolution_minutes": resolution_minutes},
    )
    return policy
