"""Thin Celery tasks for ingestion: ids in, one service call, nothing else."""

from celery import Task, shared_task

from sac.queueing import drain_request, drain_run

from . import selectors, services


@shared_task(acks_late=True, ignore_result=True)
def poll_channel(tenant_id: int, channel_id: int, lease: str | None = None) -> None:
    services.channel_poll(tenant_id=tenant_id, channel_id=channel_id, lease=lease)


@shared_task(ignore_result=True)
def schedule_due_polls() -> int:
    due = services.schedule_due_polls()
    for tenant_id, channel_id, lease in due:
        poll_channel.delay(tenant_id, channel_id, lease)
    # Webhook deliveries whose drain the broker lost ride on the same beat entry.
    for tenant_id in selectors.webhook_backlog_tenants():
        drain_request(webhook_deliveries_drain, tenant_id, kind="webhooks")
    return len(due)


@shared_task(bind=True, acks_late=True, ignore_result=True)
def webhook_deliveries_drain(self: Task, tenant_id: int) -> None:
    """A slice of the tenant's stored webhook deliveries, oldest first (sac/queueing.py: fairness)."""
    drain_run(self, tenant_id, kind="webhooks",
              work=lambda tenant: services.webhook_deliveries_drain(tenant_id=tenant))


@shared_task(acks_late=True, ignore_result=True)
def process_webhook_delivery(tenant_id: int, delivery_id: int) -> None:
    """One delivery (the messages queued before the drains, and a manual re-run)."""
    services.webhook_delivery_process(tenant_id=tenant_id, delivery_id=delivery_id)
