"""The queue's rows, rendered in Python.

The queue shows 50 rows and every open queue page polls them every 4 s. Rendered by the template engine, a
row's ~15 variable lookups, filters and tags cost ~0.5 ms (24 ms of a 40 ms page on the bench machine).
Here the whole page of rows is one function over plain values (inbox.selectors.QueueRow): what is the same
for every row (translated labels, the case URL's prefix) is computed once, and each value is escaped with
html.escape, as the template's autoescape did. The markup and the translated strings are the ones
inbox/_queue_rows.html had.
"""

import unicodedata
from html import escape

from django import template
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from inbox.category_labels import CATEGORY_LABELS
from inbox.masking import mask_subject, masked_text
from inbox.models import Case
from inbox.selectors import IgnoredMention, QueueRow
from sac.templatetags.sac_tags import due_badges, priority_class

register = template.Library()

_PK_MARK = 9_876_543_210  # stands for the case id in the reversed URL; no case has this id on a page


def _case_url_prefix(tenant_slug: str) -> tuple[str, str]:
    """The case URL before and after the id: one reverse() per page instead of one per row."""
    before, _mark, after = reverse("inbox:case", args=[tenant_slug, _PK_MARK]).partition(str(_PK_MARK))
    return before, after


def render_queue_rows(rows: list[QueueRow], *, tenant_slug: str, bulk: bool = False) -> SafeString:
    url_before, url_after = _case_url_prefix(tenant_slug)
    # Not get_status_display(): that translates all six labels on every call.
    statuses = {value: escape(str(label)) for value, label in Case.Status.choices}
    private_word = escape(_("private"))
    due_badge = due_badges()  # the texts, the clock and the time zone once per page
    # The built-in categories in the reader's language, translated once per page like the statuses.
    categories = {value: escape(str(label)) for value, label in CATEGORY_LABELS.items()}
    out = []
    for row in rows:
        prio = priority_class(row.priority)
        protocol = escape(row.protocol)
        checkbox = (
            f'<td><input type="checkbox" class="bulk" name="case" value="{row.pk}" form="bulk-form" '
            f'aria-label="{escape(_("Select %(protocol)s") % {"protocol": row.protocol})}"></td>'
        ) if bulk else ""
        private = (
            '<span class="pd" title="{}">{}</span>'.format(
                escape(_("Personal data: %(kinds)s: answer privately")
                       % {"kinds": ", ".join(map(str, row.personal_data))}),
                private_word)
        ) if row.personal_data else ""
        subject = mask_subject(row.subject, row.personal_data, row.spans)
        # What Truncator.chars(90) returns for a subject that short (it normalises to NFC), without its cost.
        subject = Truncator(subject).chars(90) if len(subject) > 90 else unicodedata.normalize("NFC", subject)
        customer = f"@{row.customer_handle}" if row.customer_handle is not None else "—"
        out.append(
            f'\n<tr class="case-row {prio}" data-protocol="{protocol}">\n  {checkbox}\n'
            f'  <td><a href="{url_before}{row.pk}{url_after}">{protocol}</a></td>\n'
            f"  <td>{escape(customer)}</td>\n"
            f'  <td class="snippet">{private}{escape(subject)}</td>\n'
            f'  <td><span class="prio {prio}">{row.priority}</span> '
            f'<small>{categories.get(row.category) or escape(row.category)}</small></td>\n'
            f"  <td>{statuses.get(row.status) or escape(row.status)}</td>\n"
            f"  <td>{escape(row.assignee_username or '—')}</td>\n"
            f"  <td>{due_badge(row.first_response_due, row.first_response_at)}</td>\n</tr>\n"  # escaped by due_badge
        )
    return mark_safe("".join(out))  # noqa: S308 (every value above is escaped)


@register.simple_tag(takes_context=True)
def queue_rows(context: template.Context, rows: list[QueueRow], bulk: bool = False) -> SafeString:
    return render_queue_rows(rows, tenant_slug=context["current_tenant"].slug, bulk=bulk)


@register.filter
def masked_mention(row: IgnoredMention) -> str:
    """An ignored mention's text with what triage found as personal data blanked out, as the queue shows it."""
    return mask_subject(row.text, row.personal_data, row.spans)


register.filter("masked_text", masked_text)
