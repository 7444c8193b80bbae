from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timezone import localtime
from django.utils.translation import gettext as _

register = template.Library()


def _span(seconds: float) -> str:
    seconds = int(abs(seconds))
    if seconds < 3600:
        return f"{max(1, seconds // 60)} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


def _due_state(due: datetime | None, done_at: datetime | None) -> tuple[str, str]:
    if due is None:
        return "none", _("no target")
    if done_at is not None:
        if done_at <= due:
            return "met", _("met")
        return "missed", _("late by %(span)s") % {"span": _span((done_at - due).total_seconds())}
    left = (due - timezone.now()).total_seconds()
    if left < 0:
        return "overdue", _("overdue %(span)s") % {"span": _span(left)}
    return ("soon" if left < 15 * 60 else "ok"), _("%(span)s left") % {"span": _span(left)}


@register.simple_tag
def due_badge(due: datetime | None, done_at: datetime | None = None, label: str = "") -> str:
    """Time left before a deadline, or how late it is; 'met' once done in time. A simple tag (not an
    inclusion tag) because the queue renders one per row on every refresh."""
    state, text = _due_state(due, done_at)
    title = ""
    if due:
        when = localtime(due).strftime("%d/%m %H:%M")
        title = format_html(' title="{}"', _("%(label)s due %(when)s") % {"label": label, "when": when})
    return format_html('<span class="due due-{}"{}>{}{}</span>', state, title,
                       format_html("{}: ", label) if label else "", text)


@register.filter
def priority_class(priority: int) -> str:
    return "p-high" if priority >= 70 else "p-mid" if priority >= 40 else "p-low"


@register.filter
def get_item(mapping: dict, key: str) -> object:
    return mapping.get(key, "")


@register.filter
def capped(count: int, cap: int = 1000) -> str:
    return f"{cap - 1}+" if count >= cap else str(count)
