from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from channels_ingest.models import ChannelAccount, Platform
from sac.models import Tenant

from .models import CannedReply, Reply


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
