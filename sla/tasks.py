from celery import shared_task

from . import services


@shared_task(acks_late=True, time_limit=50, soft_time_limit=45)
def sla_sweep() -> dict[str, int]:
    return services.sla_sweep()


@shared_task(acks_late=True, time_limit=300)
def sla_digest_send() -> int:
    return services.sla_digest_send()


@shared_task(acks_late=True, time_limit=55, soft_time_limit=50)
def sla_crisis_watch() -> int:
    return services.sla_crisis_watch()
