"""Sent inside the answer's transaction when a customer answers a survey, so others (the CRM push) can
follow: receivers write their rows in that transaction and queue side effects with transaction.on_commit."""

from django.dispatch import Signal

survey_answered = Signal()  # tenant_id, case_id, response_id, csat, nps (ints or None)
