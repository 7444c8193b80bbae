"""Thin Celery tasks for surveys."""

from celery import shared_task

from channels_ingest.errors import TransientError

from . import services


@shared_task(
    acks_late=True, ignore_result=True, autoretry_for=(TransientError,), retry_backoff=10, retry_backoff_max=600,
    retry_jitter=True, max_retries=services.MAX_SEND_ATTEMPTS,
)
def survey_invitation_send(tenant_id: int, invitation_id: int) -> None:
    services.survey_invitation_send(tenant_id=tenant_id, invitation_id=invitation_id)


@shared_task(ignore_result=True)
def survey_invitations_sweep() -> int:
    due = services.survey_invitations_sweep()
    for tenant_id, invitation_id in due:
        survey_invitation_send.delay(tenant_id, invitation_id)
    return len(due)
