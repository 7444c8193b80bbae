"""The case page's Triage card, and the masked_subject filter (the masking itself is inbox.masking)."""

from django import template

from inbox.category_labels import category_label
from inbox.forms import input_html, select_html
from inbox.masking import masked_subject
from inbox.models import Case
from inbox.triage_forms import TriageCorrectionForm

register = template.Library()

# For templates; services and the API call inbox.masking directly.
register.filter("masked_subject", masked_subject)


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
