from django import forms

from .models import CannedReply, Reply


class ReplyForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), max_length=10_000)
    visibility = forms.ChoiceField(choices=Reply.Visibility.choices, widget=forms.RadioSelect)
    idempotency_key = forms.CharField(max_length=40, widget=forms.HiddenInput)
    canned_reply = forms.IntegerField(required=False, widget=forms.HiddenInput)
    # When the page last showed the thread; sending checks nothing new arrived since (collision detection).
    seen_at = forms.DateTimeField(required=False, widget=forms.HiddenInput)


class CannedReplyForm(forms.ModelForm):
    class Meta:
        model = CannedReply
        fields = ["title", "shortcut", "language", "body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 6})}
        help_texts = {
            "body": "Variables: {{customer.first_name}}, {{agent.first_name}}, {{case.protocol}}, {{tenant.name}}",
        }

    def validate_unique(self) -> None:
        """Uniqueness is per tenant and checked by canned_reply_save, which knows the tenant."""


class NoteForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=5_000)
