"""Sent (after commit) when a customer answers a survey, so others (the CRM push) can follow."""

from django.dispatch import Signal

survey_answered = Signal()  # tenant_id, case_id, response_id, csat, nps (ints or None)
