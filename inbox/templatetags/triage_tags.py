"""The case page's Triage card and the masking of personal data in customer text shown in lists."""

from django import template

from inbox.category_labels import category_label
from inbox.forms import input_html, select_html
from inbox.models import Case
from inbox.triage import find_personal_data
from inbox.triage_forms import TriageCorrectionForm

register = template.Library()

MASK = "•"


def mask_spans(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        for i in range(max(0, start), min(len(chars), end)):
            if not chars[i].isspace():
                chars[i] = MASK
    return "".join(chars)


@register.filter
def masked_subject(case: Case) -> str:
    """The case's subject with the personal data triage found blanked out (the subject is the first post's
    first 140 characters, so the stored spans apply; older decisions without spans are scanned again)."""
    return mask_subject(case.subject, case.personal_data, (case.triage or {}).get("spans"))


def mask_subject(text: str, personal_data: list[str], stored: list[dict] | None) -> str:
    """masked_subject from the values alone (the queue reads rows as values, not Case instances)."""
    if not personal_data:
        return text
    if stored:
        return mask_spans(text, [(s["start"], s["end"]) for s in stored])
    return mask_spans(text, [(s.start, s.end) for s in find_personal_data(text)])


@register.inclusion_tag("inbox/triage/_card.html", takes_context=True)
def triage_card(context, case: Case, categories: list[str] | None = None):
    """`categories`: triage_categories(tenant) when the page read them already."""
    decision = case.triage or {}
    form = TriageCorrectionForm(tenant=case.tenant, categories=categories, initial={
        "category": case.category, "priority": case.priority,
        "requires_response": "1" if decision.get("requires_response", True) else "0",
    })
    # The form's menu holds the tenant's categories; the card reads no other list of them. Its controls are
    # rendered without Django's widget templates (inbox.forms.input_html): the card is on every case page.
    controls = {"category": select_html(form["category"]), "requires_response": select_html(form["requires_response"]),
                "priority": input_html(form["priority"])}
    return {"case": case, "d": decision, "form": controls, "request": context.get("request"),
            "csrf_token": context.get("csrf_token"), "current_tenant": context.get("current_tenant")}


@register.filter(name="category_label")
def category_label_filter(name: str) -> str:
    """A triage category as the reader's language calls it (a tenant's own categories as they are)."""
    return category_label(name or "")
