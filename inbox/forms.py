from html import escape
from typing import Any, NamedTuple

from django import forms
from django.forms.boundfield import BoundField
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

from channels_ingest.models import ChannelAccount, Platform
from sac.models import Tenant

from .limits import as_sent
from .models import CannedReply, Reply

# Django renders each widget through three or four templates (the widget's, input.html, attrs.html, once per
# option), ~0.3 ms an <input> on the bench machine: the case page's composer and triage card paid ~6 ms for a
# dozen controls. The helpers below render the few kinds those forms use from the same widget context Django
# builds (same attributes, same order, same values, escaped as autoescape does), without the templates.
# tests/inbox/test_case_page_speed.py compares them with Django's own rendering.

def _attrs_html(attrs: dict[str, Any]) -> str:
    """django/forms/widgets/attrs.html."""
    return "".join(f" {escape(str(name))}" if value is True else f' {escape(str(name))}="{escape(str(value))}"'
                   for name, value in attrs.items() if value is not False)


def _input_tag(widget: dict[str, Any]) -> str:
    """django/forms/widgets/input.html."""
    value = "" if widget["value"] is None else f' value="{escape(str(widget["value"]))}"'
    attrs = _attrs_html(widget["attrs"])
    return f'<input type="{escape(str(widget["type"]))}" name="{escape(widget["name"])}"{value}{attrs}>'


def _widget_context(bound: BoundField) -> dict[str, Any]:
    """The context BoundField.as_widget() renders the field's widget with."""
    widget = bound.field.widget
    attrs = bound.build_widget_attrs({}, widget)
    if bound.auto_id and "id" not in widget.attrs:
        attrs.setdefault("id", bound.auto_id)
    return widget.get_context(bound.html_name, bound.value(), attrs)["widget"]


def input_html(bound: BoundField) -> SafeString:
    """`{{ form.field }}` for a field whose widget is an <input> (text, number, hidden, file…)."""
    assert isinstance(bound.field.widget, forms.widgets.Input), bound.field.widget
    return mark_safe(_input_tag(_widget_context(bound)))  # noqa: S308 (escaped by _input_tag)


def select_html(bound: BoundField) -> SafeString:
    """`{{ form.field }}` for a field whose widget is a plain Select (no option groups)."""
    assert type(bound.field.widget) is forms.Select, bound.field.widget
    widget = _widget_context(bound)
    options = []
    for group_name, group_choices, _index in widget["optgroups"]:
        assert not group_name, "option groups are not rendered here"
        options += [f'\n  <option value="{escape(str(option["value"]))}"{_attrs_html(option["attrs"])}>'
                    f'{escape(str(option["label"]))}</option>\n' for option in group_choices]
    return mark_safe(  # noqa: S308 (escaped above)
        f'<select name="{escape(widget["name"])}"{_attrs_html(widget["attrs"])}>{"".join(options)}\n</select>')


class ChoiceInput(NamedTuple):
    """One radio of a RadioSelect, with what `{% for radio in form.field %}` offers of it."""

    value: str
    choice_label: str
    id_for_label: str
    tag: SafeString  # radio.tag


def choice_inputs(bound: BoundField) -> list[ChoiceInput]:
    """`{% for radio in form.field %}` for a RadioSelect field: each radio's value, label, id and tag."""
    assert isinstance(bound.field.widget, forms.RadioSelect), bound.field.widget
    return [ChoiceInput(str(radio.data["value"]), radio.choice_label, radio.id_for_label,
                        mark_safe(_input_tag(radio.data)))  # noqa: S308 (escaped by _input_tag)
            for radio in bound]


class ReplyForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), max_length=10_000)
    visibility = forms.ChoiceField(choices=Reply.Visibility.choices, widget=forms.RadioSelect)
    idempotency_key = forms.CharField(max_length=40, widget=forms.HiddenInput)
    canned_reply = forms.IntegerField(required=False, widget=forms.HiddenInput)
    # When the page last showed the thread; sending checks nothing new arrived since (collision detection).
    seen_at = forms.DateTimeField(required=False, widget=forms.HiddenInput)
    # An image to send with the reply (inbox/media.py says where a network takes one); once stored, its id
    # rides along in `attachment_id` so a refused or interrupted send keeps it without a second upload.
    attachment = forms.FileField(required=False, label=_("Image"), widget=forms.FileInput(
        attrs={"accept": "image/jpeg,image/png,image/gif,image/webp"}))
    attachment_id = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def clean_text(self) -> str:
        # Browsers submit a textarea's line breaks as CRLF; send what the agent saw, counted as limits.py counts.
        return as_sent(self.cleaned_data["text"])

    def composer_inputs(self) -> dict[str, Any]:
        """The controls the case page's composer renders, rendered (see input_html)."""
        return {"visibility": choice_inputs(self["visibility"]),
                **{name: input_html(self[name]) for name in ("attachment", "idempotency_key", "seen_at",
                                                               "attachment_id")}}


class CannedReplyForm(forms.ModelForm):
    class Meta:
        model = CannedReply
        fields = ["title", "shortcut", "language", "platform", "channel", "body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 6})}
        labels = {"title": _("Title"), "shortcut": _("Shortcut"), "language": _("Language"),
                  "platform": _("Network"), "channel": _("Channel"), "body": _("Text")}
        help_texts = {
            "body": _("Variables: {{customer.first_name}}, {{customer.handle}}, {{agent.first_name}}, "
                      "{{case.protocol}}, {{tenant.name}}, {{tenant.email}}, {{tenant.phone}}, {{tenant.chat_url}}"),
            "shortcut": _("Replies sharing a shortcut are variants: the composer picks the one for the case's "
                          "channel, network and language."),
            "language": _("Empty = any language"), "platform": _("Empty = any network"),
            "channel": _("Empty = any channel"),
        }

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only this tenant's channels can be chosen (a posted id of another tenant's is "not a valid choice").
        self.fields["channel"].queryset = ChannelAccount.objects.filter(tenant=tenant).order_by("name")

    def validate_unique(self) -> None:
        """Uniqueness is per tenant and checked by canned_reply_save, which knows the tenant."""


class TagForm(forms.Form):
    name = forms.CharField(max_length=50, label=_("Name"))
    mandatory = forms.BooleanField(required=False, label=_("Mandatory"),
                                   help_text=_("Cases need this tag before they can be resolved."))
    mandatory_from = forms.DateField(required=False, label=_("Mandatory from"),
                                     widget=forms.DateInput(attrs={"type": "date"}),
                                     help_text=_("Optional campaign start: only cases first written on or after it."))
    mandatory_until = forms.DateField(required=False, label=_("Mandatory until"),
                                      widget=forms.DateInput(attrs={"type": "date"}),
                                      help_text=_("Optional campaign end (inclusive)."))


class InboxSettingsForm(forms.Form):
    contact_email = forms.EmailField(required=False, label=_("Contact e-mail"), help_text="{{tenant.email}}")
    contact_phone = forms.CharField(required=False, max_length=40, label=_("Contact phone"),
                                    help_text="{{tenant.phone}}")
    chat_url = forms.URLField(required=False, label=_("Web chat address"), help_text="{{tenant.chat_url}}",
                              assume_scheme="https")
    reopen_window_days = forms.IntegerField(
        min_value=0, max_value=365, required=False, label=_("Reopen window (days)"),
        help_text=_("A customer who writes again within this many days of a resolution reopens the case; later "
                    "(or 0) opens a new case that follows it. Thank-you messages never reopen a case."))
    human_agent_channels = forms.ModelMultipleChoiceField(
        queryset=ChannelAccount.objects.none(), required=False, widget=forms.CheckboxSelectMultiple,
        label=_("Facebook pages approved for Messenger's HUMAN_AGENT tag"),
        help_text=_("Agents may then answer Messenger up to 7 days after the customer's last message (instead of "
                    "24 hours). Only tick pages Meta approved for the tag."))

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["human_agent_channels"].queryset = ChannelAccount.objects.filter(
            tenant=tenant, platform=Platform.FACEBOOK).order_by("name")


class NoteForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=5_000)
