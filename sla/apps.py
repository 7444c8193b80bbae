from django.apps import AppConfig


class SlaConfig(AppConfig):
    name = "sla"
    verbose_name = "SLA"

    def ready(self) -> None:
        from . import panels, receivers  # noqa: F401  (subscribes to inbox.events, fills the case page slot)
