"""Subscribers to the inbox's case events. They run synchronously inside the inbox service's transaction, so
due times and met/missed events commit or roll back with the change that caused them."""

from typing import Any

from django.utils import timezone

from inbox import events
from inbox.models import Case

from . import services


def _on_case_opened(sender: Any, *, case: Case, **kwargs: Any) -> None:
    services.case_opened(case=case)


def _on_cases_opening(sender: Any, *, cases: list[Case], **kwargs: Any) -> None:
    if cases:
        services.cases_due_times_fill(tenant=cases[0].tenant, cases=cases)


def _on_cases_opened(sender: Any, *, cases: list[Case], **kwargs: Any) -> None:
    if cases:
        services.cases_opened_bulk(tenant=cases[0].tenant, cases=cases)


def _on_mention_attached(sender: Any, *, case: Case, mention: Any, **kwargs: Any) -> None:
    services.case_customer_wrote(case=case, posted_at=mention.posted_at)


def _on_case_replied(sender: Any, *, case: Case, reply: Any, **kwargs: Any) -> None:
    services.case_answered(case=case, at=reply.sent_at or timezone.now())


def _on_status_changed(sender: Any, *, case: Case, old_status: str, new_status: str, **kwargs: Any) -> None:
    if old_status == Case.Status.NEW and new_status == Case.Status.OPEN:
        # Taking a new case (claim-next, every claim's transaction) moves no clock: the first-response clock
        # runs from the customer's message whoever holds the case, and only pending_customer pauses resolution.
        return
    services.case_status_moved(case=case, old_status=old_status, new_status=new_status, at=timezone.now())


def _on_case_resolved(sender: Any, *, case: Case, **kwargs: Any) -> None:
    services.case_resolution_record(case=case, at=case.resolved_at or timezone.now())


def _on_case_recategorized(sender: Any, *, case: Case, old_category: str, new_category: str, **kwargs: Any) -> None:
    services.case_recategorized(case=case, old_category=old_category, new_category=new_category)


events.case_opened.connect(_on_case_opened, dispatch_uid="sla.deadlines_on_case_opened")
events.cases_opening.connect(_on_cases_opening, dispatch_uid="sla.due_times_on_cases_opening")
events.cases_opened.connect(_on_cases_opened, dispatch_uid="sla.deadlines_on_cases_opened")
events.case_mention_attached.connect(_on_mention_attached, dispatch_uid="sla.next_response_on_attach")
events.case_replied.connect(_on_case_replied, dispatch_uid="sla.met_on_reply")
events.case_status_changed.connect(_on_status_changed, dispatch_uid="sla.pause_resume")
events.case_resolved.connect(_on_case_resolved, dispatch_uid="sla.resolution_recorded")
events.case_recategorized.connect(_on_case_recategorized, dispatch_uid="sla.categories_on_recategorized")
