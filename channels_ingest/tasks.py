"""Thin Celery tasks for ingestion: ids in, one service call, nothing else."""

from celery import shared_task

from . import services


@shared_task(acks_late=True, ignore_result=True)
def poll_channel(tenant_id: int, channel_id: int, lease: str | None = None) -> None:
    services.channel_poll(tenant_id=tenant_id, channel_id=channel_id, lease=lease)


@shared_task(ignore_result=True)
def schedule_due_polls() -> int:
    due = services.schedule_due_polls()
    for tenant_id, channel_id, lease in due:
        poll_channel.delay(tenant_id, channel_id, lease)
    # Webhook deliveries whose task the broker lost ride on the same beat entry.
    for tenant_id, delivery_id in services.webhook_deliveries_stale():
        process_webhook_delivery.delay(tenant_id, delivery_id)
    return len(due)


@shared_task(acks_late=True, ignore_result=True)
def process_webhook_delivery(tenant_id: int, delivery_id: int) -> None:
    services.webhook_delivery_process(tenant_id=tenant_id, delivery_id=delivery_id)
