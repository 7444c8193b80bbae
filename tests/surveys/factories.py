from datetime import timedelta

from django.utils import timezone

from inbox.models import Case
from surveys.models import FollowUp, SurveyInvitation, SurveyResponse


def answered_followup(case: Case, *, comment: str = "secret A") -> FollowUp:
    """A low answer and its follow-up for `case`, made directly (the flow itself is tested in test_answers)."""
    invitation = SurveyInvitation.objects.create(
        tenant=case.tenant, case=case, channel=case.channel, customer=case.customer, state="sent",
        due_at=timezone.now(), sent_at=timezone.now(), expires_at=timezone.now() + timedelta(days=7),
        answered_at=timezone.now(), idempotency_key=f"t{case.tenant_id}:survey:case{case.pk}",
        token_digest=SurveyInvitation.digest_of(f"walker-{case.pk}"),
    )
    response = SurveyResponse.objects.create(tenant=case.tenant, invitation=invitation, case=case, csat=1,
                                             comment=comment)
    return FollowUp.objects.create(tenant=case.tenant, case=case, response=response)
