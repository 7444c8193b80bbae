from django.apps import AppConfig


class SlaConfig(AppConfig):
    name = "sla"
    verbose_name = "SLA"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (subscribes to inbox.events)
