"""Thin Celery tasks for the CRM bridge."""

from celery import shared_task

from channels_ingest.errors import TransientError

from . import services


@shared_task(acks_late=True, ignore_result=True, autoretry_for=(TransientError,), retry_backoff=15,
             retry_backoff_max=3600, retry_jitter=False, max_retries=services.MAX_PUSH_ATTEMPTS)
def crm_push_deliver(tenant_id: int, push_id: int) -> None:
    services.crm_push_deliver(tenant_id=tenant_id, push_id=push_id)


@shared_task(ignore_result=True)
def crm_pushes_sweep() -> int:
    due = services.crm_pushes_sweep()
    for tenant_id, push_id in due:
        crm_push_deliver.delay(tenant_id, push_id)
    return len(due)
