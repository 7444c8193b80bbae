from django.apps import AppConfig


class SurveysConfig(AppConfig):
    """CSAT/NPS invitations and answers, follow-ups, deflection (subscribes to inbox.events.case_resolved)."""

    name = "surveys"
    verbose_name = "Surveys"

    def ready(self) -> None:
        from . import panels, receivers  # noqa: F401
