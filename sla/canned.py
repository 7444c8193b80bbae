"""`{{case.promise}}` in canned replies: the promise window of the case (sla.models.CasePromise), in the case's
language, e.g. "between 2 and 6 hours" / "entre 2 e 6 horas". Empty (so the variable stays visible for the agent
to notice) when the case has no promise."""

from inbox.canned_variables import register_canned_variable
from inbox.models import Case

from .models import CasePromise

_WORDS = {"pt": ("entre", "e", "horas", "hora"), "en": ("between", "and", "hours", "hour")}


def _hours(minutes: int, decimal: str) -> str:
    text = f"{minutes / 60:.1f}".rstrip("0").rstrip(".")
    return text.replace(".", decimal)


def promise_text(case: Case) -> str:
    promise = CasePromise.objects.filter(tenant_id=case.tenant_id, case_id=case.pk, is_active=True).first()
    if promise is None:
        return ""
    lang = (case.language or "")[:2]
    between, and_, hours, hour = _WORDS.get(lang, _WORDS["en"])
    decimal = "," if lang == "pt" else "."
    low, high = _hours(promise.min_minutes, decimal), _hours(promise.max_minutes, decimal)
    unit = hour if promise.max_minutes == 60 else hours
    if promise.min_minutes == promise.max_minutes:
        return f"{high} {unit}"
    return f"{between} {low} {and_} {high} {unit}"


register_canned_variable("case.promise", promise_text)
