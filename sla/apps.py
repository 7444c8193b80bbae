from django.apps import AppConfig


class SlaConfig(AppConfig):
    name = "sla"
    verbose_name = "SLA"

    def ready(self) -> None:
        # Subscribes to inbox.events, fills the case page slot and the {{case.promise}} canned variable.
        from . import canned, panels, receivers  # noqa: F401
