"""What the built-in triage categories are called on screen, in the reader's language.

The stored value stays the English slug (filters, rules and the models use it); a tenant's own categories
(TriageCategory) are shown as the tenant named them.
"""

from django.utils.translation import gettext_lazy as _

CATEGORY_LABELS = {
    "complaint": _("complaint"),
    "question": _("question"),
    "request": _("request"),
    "praise": _("praise"),
    "suggestion": _("suggestion"),
    "noise": _("noise"),
}


def category_label(name: str) -> str:
    return str(CATEGORY_LABELS[name]) if name in CATEGORY_LABELS else name
