from django import forms

from .models import SurveyConfig
from .services import CONFIG_FIELDS


class SurveyConfigForm(forms.ModelForm):
    class Meta:
        model = SurveyConfig
        fields = list(CONFIG_FIELDS)
        widgets = {"invitation_pt": forms.Textarea(attrs={"rows": 2}),
                   "invitation_en": forms.Textarea(attrs={"rows": 2})}
        help_texts = {
            "invitation_pt": "Placeholders: {name}, {protocol}, {brand}, {link} (required).",
            "delay_minutes": "How long after the case is resolved the invitation goes out.",
            "cost_per_call": "In the currency above (industry figure: about US$12 a call — convert it yourself).",
            "cost_per_social": "In the currency above (industry figure: under US$1 a social interaction).",
        }


class DeflectionUploadForm(forms.Form):
    file = forms.FileField(required=False, help_text="CSV with columns date,calls,site_visits (YYYY-MM-DD).")
    text = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}),
                           help_text="…or paste the CSV here.")
