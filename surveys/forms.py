from django import forms
from django.utils.translation import gettext_lazy as _

from .models import SurveyConfig
from .services import CONFIG_FIELDS


class SurveyConfigForm(forms.ModelForm):
    class Meta:
        model = SurveyConfig
        fields = list(CONFIG_FIELDS)
        widgets = {"invitation_pt": forms.Textarea(attrs={"rows": 2}),
                   "invitation_en": forms.Textarea(attrs={"rows": 2})}
        # Labels here rather than verbose_name on the model: the page is the only place they show.
        labels = {
            "enabled": _("Surveys on"),
            "ask_csat": _("Ask CSAT (1–5)"),
            "ask_nps": _("Ask NPS (0–10)"),
            "invitation_pt": _("Invitation (Portuguese)"),
            "invitation_en": _("Invitation (English)"),
            "csat_question_pt": _("CSAT question (Portuguese)"),
            "csat_question_en": _("CSAT question (English)"),
            "nps_question_pt": _("NPS question (Portuguese)"),
            "nps_question_en": _("NPS question (English)"),
            "delay_minutes": _("Delay (minutes)"),
            "quiet_days": _("Quiet period (days)"),
            "expiry_days": _("Link expires after (days)"),
            "currency": _("Currency"),
            "cost_per_call": _("Cost per call"),
            "cost_per_social": _("Cost per social interaction"),
        }
        help_texts = {
            "invitation_pt": _("Placeholders: {name}, {protocol}, {brand}, {link} (required)."),
            "delay_minutes": _("How long after the case is resolved the invitation goes out."),
            "quiet_days": _("Never survey the same customer twice in N days"),
            "cost_per_call": _("In the currency above (industry figure: about US$12 a call — convert it yourself)."),
            "cost_per_social": _("In the currency above (industry figure: under US$1 a social interaction)."),
        }


class DeflectionUploadForm(forms.Form):
    file = forms.FileField(required=False, label=_("File"),
                           help_text=_("CSV with columns date,calls,site_visits (YYYY-MM-DD)."))
    text = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}), label=_("Text"),
                           help_text=_("…or paste the CSV here."))
