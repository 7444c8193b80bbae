from datetime import datetime

from django import template
from django.utils import timezone

register = template.Library()


def _span(seconds: float) -> str:
    seconds = int(abs(seconds))
    if seconds < 3600:
        return f"{max(1, seconds // 60)} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


@register.inclusion_tag("sac/_due.html")
def due_badge(due: datetime | None, done_at: datetime | None = None, label: str = "") -> dict:
    """Time left before a deadline, or how late it is; 'met' once done in time."""
    if due is None:
        return {"state": "none", "text": "no target", "label": label}
    if done_at is not None:
        if done_at <= due:
            return {"state": "met", "text": "met", "label": label, "due": due}
        return {"state": "missed", "text": f"late by {_span((done_at - due).total_seconds())}", "label": label,
                "due": due}
    left = (due - timezone.now()).total_seconds()
    if left < 0:
        return {"state": "overdue", "text": f"overdue {_span(left)}", "label": label, "due": due}
    return {"state": "soon" if left < 15 * 60 else "ok", "text": f"{_span(left)} left", "label": label, "due": due}


@register.filter
def priority_class(priority: int) -> str:
    return "p-high" if priority >= 70 else "p-mid" if priority >= 40 else "p-low"


@register.filter
def get_item(mapping: dict, key: str) -> object:
    return mapping.get(key, "")
