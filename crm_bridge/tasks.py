"""Thin Celery tasks for the CRM bridge."""

from celery import Task, shared_task

from channels_ingest.errors import TransientError

from . import services


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=services.MAX_PUSH_ATTEMPTS)
def crm_push_deliver(self: Task, tenant_id: int, push_id: int) -> None:
    try:
        services.crm_push_deliver(tenant_id=tenant_id, push_id=push_id)
    except TransientError as exc:
        raise self.retry(exc=exc, countdown=services.push_retry_countdown(exc, self.request.retries)) from exc


@shared_task(ignore_result=True)
def crm_pushes_sweep() -> int:
    due = services.crm_pushes_sweep()
    for tenant_id, push_id in due:
        crm_push_deliver.delay(tenant_id, push_id)
    return len(due)
