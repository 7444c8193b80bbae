"""Resolve → one private invitation, sent once however often (or late) the task and the sweep run."""

from datetime import timedelta

import pytest
from django.utils import timezone

from channels_ingest.errors import TransientError
from sac.models import Tenant
from surveys import tasks
from surveys.models import SurveyConfig, SurveyInvitation
from surveys.services import (
    invitation_for_token,
    survey_invitation_outcome_check,
    survey_invitation_send,
    survey_invitations_sweep,
)
from tests.factories import open_case

from .conftest import resolve, sent_tokens

pytestmark = pytest.mark.django_db


def test_it_sends_one_private_invitation_with_a_link_on_resolve(kit_a, surveys_a,
                                                               django_capture_on_commit_callbacks):
    case = open_case(kit_a, author_id="4242", handle="marina")
    with django_capture_on_commit_callbacks(execute=True):
        resolve(kit_a, case)
    dms = [s for s in kit_a.simulator.sent if s["kind"] == "dm"]
    assert len(dms) == 1
    assert dms[0]["participant_id"] == "4242"
    assert case.protocol in dms[0]["text"] and "Marina" in dms[0]["text"]  # pt-BR wording, customer's name
    assert [s for s in kit_a.simulator.sent if s["kind"] != "dm"] == []  # never a public reply
    invitation = SurveyInvitation.objects.get(tenant=kit_a.tenant, case=case)
    assert invitation.state == "sent" and invitation.expires_at > timezone.now() + timedelta(days=6)
    token = sent_tokens(kit_a.simulator)[0]
    assert len(token) >= 40 and token not in invitation.token_digest  # only a digest is stored


def test_a_duplicated_or_late_task_and_the_sweep_never_send_twice(kit_a, surveys_a,
                                                                  django_capture_on_commit_callbacks):
    case = open_case(kit_a)
    with django_capture_on_commit_callbacks(execute=True):
        resolve(kit_a, case)
    invitation = SurveyInvitation.objects.get(tenant=kit_a.tenant, case=case)
    assert survey_invitation_send(tenant_id=kit_a.tenant.pk, invitation_id=invitation.pk) is None
    tasks.survey_invitation_send.delay(kit_a.tenant.pk, invitation.pk)
    assert tasks.survey_invitations_sweep.delay().get() == 0
    assert len([s for s in kit_a.simulator.sent if s["kind"] == "dm"]) == 1


def test_a_long_delay_waits_in_the_database_and_the_sweep_sends_it_once_when_due(
        kit_a, surveys_a, django_capture_on_commit_callbacks):
    SurveyConfig.objects.filter(pk=surveys_a.pk).update(delay_minutes=24 * 60)
    case = open_case(kit_a)
    with django_capture_on_commit_callbacks(execute=True):
        resolve(kit_a, case)
    invitation = SurveyInvitation.objects.get(tenant=kit_a.tenant, case=case)
    assert invitation.state == "scheduled" and invitation.due_at > timezone.now() + timedelta(hours=23)
    # An early delivery of the task (a broker redelivering a long countdown) sends nothing.
    tasks.survey_invitation_send.delay(kit_a.tenant.pk, invitation.pk)
    assert tasks.survey_invitations_sweep.delay().get() == 0
    assert kit_a.simulator.sent == []
    # A day later (Redis restarted meanwhile, nothing queued): the sweep finds the row and sends it.
    assert survey_invitations_sweep(now=timezone.now() + timedelta(days=1, minutes=1)) == [
        (kit_a.tenant.pk, invitation.pk)]
    SurveyInvitation.objects.filter(pk=invitation.pk).update(due_at=timezone.now() - timedelta(seconds=1))
    assert tasks.survey_invitations_sweep.delay().get() == 1
    assert tasks.survey_invitations_sweep.delay().get() == 0
    assert len(kit_a.simulator.sent) == 1


def _due_invitation(kit, surveys):
    SurveyConfig.objects.filter(pk=surveys.pk).update(delay_minutes=60)
    case = open_case(kit, author_id="5151", handle="bia")
    resolve(kit, case)
    invitation = SurveyInvitation.objects.get(tenant=kit.tenant, case=case)
    SurveyInvitation.objects.filter(pk=invitation.pk).update(due_at=timezone.now())
    return invitation


def test_a_rate_limit_is_retried_after_its_reset_and_still_sent_once(kit_a, surveys_a):
    invitation = _due_invitation(kit_a, surveys_a)
    kit_a.simulator.inject_fault("rate_limit")  # a 429: refused before anything was sent
    with pytest.raises(TransientError):
        survey_invitation_send(tenant_id=kit_a.tenant.pk, invitation_id=invitation.pk)
    invitation.refresh_from_db()
    assert invitation.state == "scheduled" and invitation.token_digest is None
    assert invitation.due_at > timezone.now()  # X's reset
    # Neither the task nor the sweep tries again before the reset.
    assert survey_invitation_send(tenant_id=kit_a.tenant.pk, invitation_id=invitation.pk) is None
    assert survey_invitations_sweep() == []
    assert survey_invitations_sweep(now=timezone.now() + timedelta(seconds=10)) == [(kit_a.tenant.pk, invitation.pk)]
    SurveyInvitation.objects.filter(pk=invitation.pk).update(due_at=timezone.now() - timedelta(seconds=1))
    assert survey_invitation_send(tenant_id=kit_a.tenant.pk, invitation_id=invitation.pk).state == "sent"
    assert len(kit_a.simulator.sent) == 1


@pytest.mark.parametrize("fault", ["error_after_post", "drop_after_post"])
def test_an_invitation_sent_before_a_500_or_a_drop_is_found_and_its_link_works(kit_a, surveys_a, fault,
                                                                             django_capture_on_commit_callbacks):
    invitation = _due_invitation(kit_a, surveys_a)
    kit_a.simulator.inject_fault(fault)
    with django_capture_on_commit_callbacks() as queued:
        survey_invitation_send(tenant_id=kit_a.tenant.pk, invitation_id=invitation.pk)  # nothing to retry
    invitation.refresh_from_db()
    assert invitation.state == "failed" and invitation.error.startswith("Delivery unknown:")
    assert len(queued) == 1  # a look on X, a little later
    assert survey_invitations_sweep() == []  # never sent again on a guess
    survey_invitation_outcome_check(tenant_id=kit_a.tenant.pk, invitation_id=invitation.pk)
    invitation.refresh_from_db()
    dms = [s for s in kit_a.simulator.sent if s["kind"] == "dm"]
    assert len(dms) == 1
    assert invitation.state == "sent" and invitation.external_id == dms[0]["id"]
    # The customer's link (the one that did arrive) opens the survey.
    assert invitation_for_token(sent_tokens(kit_a.simulator)[0]).pk == invitation.pk


def test_an_invitation_that_did_not_go_out_is_not_sent_again_on_a_guess(kit_a, kit_b, surveys_a):
    invitation = _due_invitation(kit_a, surveys_a)
    kit_a.simulator.inject_fault("server_error")  # X's 503 says nothing about whether it was sent
    survey_invitation_send(tenant_id=kit_a.tenant.pk, invitation_id=invitation.pk)
    assert survey_invitation_outcome_check(tenant_id=kit_b.tenant.pk, invitation_id=invitation.pk) is None
    survey_invitation_outcome_check(tenant_id=kit_a.tenant.pk, invitation_id=invitation.pk)
    invitation.refresh_from_db()
    assert invitation.state == "failed" and invitation.error.startswith("Delivery unknown:")
    assert survey_invitations_sweep() == [] and kit_a.simulator.sent == []


def test_the_quiet_period_skips_a_customer_surveyed_recently(kit_a, surveys_a, django_capture_on_commit_callbacks):
    # A new case, not the first one reopened (a customer writing again within the window reopens it).
    Tenant.objects.filter(pk=kit_a.tenant.pk).update(reopen_window_days=0)
    kit_a.tenant.refresh_from_db()
    first = open_case(kit_a, author_id="77", handle="rui")
    with django_capture_on_commit_callbacks(execute=True):
        resolve(kit_a, first)
    second = open_case(kit_a, "@acme fatura com cobrança indevida, quero estorno!", author_id="77", handle="rui")
    with django_capture_on_commit_callbacks(execute=True):
        resolve(kit_a, second)
    skipped = SurveyInvitation.objects.get(tenant=kit_a.tenant, case=second)
    assert skipped.state == "skipped" and "30 days" in skipped.skip_reason
    assert len(kit_a.simulator.sent) == 1


def test_no_configuration_means_no_survey(kit_a):
    case = open_case(kit_a)
    resolve(kit_a, case)
    assert not SurveyInvitation.objects.filter(tenant=kit_a.tenant).exists()


def test_a_stuck_send_is_failed_for_a_human_never_resent(kit_a, surveys_a):
    SurveyConfig.objects.filter(pk=surveys_a.pk).update(delay_minutes=60)
    case = open_case(kit_a)
    resolve(kit_a, case)
    invitation = SurveyInvitation.objects.get(tenant=kit_a.tenant, case=case)
    SurveyInvitation.objects.filter(pk=invitation.pk).update(
        state="sending", sending_started_at=timezone.now() - timedelta(minutes=10))
    assert survey_invitations_sweep() == []
    invitation.refresh_from_db()
    assert invitation.state == "failed" and invitation.error.startswith("Delivery unknown")
    assert kit_a.simulator.sent == []


def test_a_task_carrying_another_tenants_id_sends_nothing(kit_a, kit_b, surveys_a):
    SurveyConfig.objects.filter(pk=surveys_a.pk).update(delay_minutes=60)
    case = open_case(kit_a)
    resolve(kit_a, case)
    invitation = SurveyInvitation.objects.get(tenant=kit_a.tenant, case=case)
    SurveyInvitation.objects.filter(pk=invitation.pk).update(due_at=timezone.now())
    tasks.survey_invitation_send.delay(kit_b.tenant.pk, invitation.pk)
    invitation.refresh_from_db()
    assert invitation.state == "scheduled" and kit_a.simulator.sent == []
