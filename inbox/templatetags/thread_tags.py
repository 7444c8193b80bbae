"""What the case thread shows of its events."""

from django import template

from ..models import Case

register = template.Library()


@register.filter
def case_status_label(value: str) -> str:
    """A case status as the reader's language names it: audit rows store the code (`pending_customer`)."""
    labels = dict(Case.Status.choices)
    return str(labels.get(value, value))
