"""Thin Celery tasks for the inbox."""

import logging
from datetime import timedelta

from celery import Task, shared_task
from django.conf import settings
from django.utils import timezone

from channels_ingest.errors import TransientError, retry_countdown
from channels_ingest.selectors import tenants_with_untriaged
from sac.queueing import drain_request, drain_run

from . import services

log = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def mentions_triage(tenant_id: int, mention_ids: list[int]) -> None:
    """Given mentions (the messages queued before the drains, and a manual re-run)."""
    services.mentions_triage(tenant_id=tenant_id, mention_ids=mention_ids)


@shared_task(bind=True, acks_late=True, ignore_result=True)
def mentions_triage_drain(self: Task, tenant_id: int) -> None:
    """A slice of the tenant's untriaged mentions, oldest first (sac/queueing.py: fairness)."""
    drain_run(self, tenant_id, kind="triage", work=lambda tenant: services.mentions_triage_drain(tenant_id=tenant))


@shared_task(ignore_result=True)
def mentions_triage_sweep() -> int:
    """Catch mentions a crash or a lost message left untriaged (DESIGN.md): their tenants' drains run again."""
    tenants = tenants_with_untriaged(received_before=timezone.now() - timedelta(seconds=30))
    for tenant_id in tenants:
        drain_request(mentions_triage_drain, tenant_id, kind="triage")
    return len(tenants)


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=services.MAX_SEND_ATTEMPTS)
def reply_deliver(self: Task, tenant_id: int, reply_id: int) -> None:
    try:
        services.reply_deliver(tenant_id=tenant_id, reply_id=reply_id)
    except TransientError as exc:
        raise self.retry(exc=exc, countdown=retry_countdown(exc, self.request.retries)) from exc


@shared_task(acks_late=True, ignore_result=True)
def reply_outcome_check(tenant_id: int, reply_id: int) -> None:
    services.reply_outcome_check(tenant_id=tenant_id, reply_id=reply_id)


@shared_task(ignore_result=True)
def replies_deliver_sweep() -> int:
    due = services.replies_stale_sweep()
    for tenant_id, reply_id in due:
        reply_deliver.delay(tenant_id, reply_id)
    return len(due)


@shared_task(ignore_result=True)
def cases_auto_close() -> int:
    return services.cases_auto_close(older_than=timedelta(days=settings.SAC_AUTO_CLOSE_DAYS))


@shared_task(acks_late=True, ignore_result=True, time_limit=600, soft_time_limit=540)
def triage_model_retrain(tenant_id: int) -> None:
    """Retrain the tenant's triage model from its agents' corrections (promoted only when better)."""
    services.triage_model_retrain(tenant_id=tenant_id)
