from django.apps import AppConfig


class SurveysConfig(AppConfig):
    """CSAT/NPS invitations and answers: built in issue #7 (subscribes to inbox.events.case_resolved)."""

    name = "surveys"
    verbose_name = "Surveys"
