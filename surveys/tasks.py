"""Thin Celery tasks for surveys."""

from celery import Task, shared_task

from channels_ingest.errors import TransientError, retry_countdown

from . import services


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=services.MAX_SEND_ATTEMPTS)
def survey_invitation_send(self: Task, tenant_id: int, invitation_id: int) -> None:
    try:
        services.survey_invitation_send(tenant_id=tenant_id, invitation_id=invitation_id)
    except TransientError as exc:
        raise self.retry(exc=exc, countdown=retry_countdown(exc, self.request.retries, base=10, cap=600)) from exc


@shared_task(acks_late=True, ignore_result=True)
def survey_invitation_outcome_check(tenant_id: int, invitation_id: int) -> None:
    services.survey_invitation_outcome_check(tenant_id=tenant_id, invitation_id=invitation_id)


@shared_task(ignore_result=True)
def survey_invitations_sweep() -> int:
    due = services.survey_invitations_sweep()
    for tenant_id, invitation_id in due:
        survey_invitation_send.delay(tenant_id, invitation_id)
    return len(due)
