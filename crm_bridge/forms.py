import json

from django import forms

from .models import CrmConfig


class CustomerForm(forms.Form):
    name = forms.CharField(max_length=200)
    email = forms.CharField(max_length=254, required=False)
    phone = forms.CharField(max_length=40, required=False)
    document = forms.CharField(max_length=20, required=False, label="CPF / CNPJ")
    external_ref = forms.CharField(max_length=64, required=False, label="External ref")
    attributes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}),
                                 help_text='Free attributes as JSON, e.g. {"plan": "Fibra 500", "orders": [{"id": '
                                           '"PED-1", "title": "Router", "status": "delivered"}]}')

    def clean_attributes(self) -> dict:
        text = self.cleaned_data["attributes"].strip() or "{}"
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}") from None
        if not isinstance(value, dict):
            raise forms.ValidationError("A JSON object, please ({…}).")
        return value


class CrmConfigForm(forms.Form):
    kind = forms.ChoiceField(choices=CrmConfig.Kind.choices)
    base_url = forms.URLField(required=False, assume_scheme="https")
    auth_header_name = forms.CharField(required=False, initial="Authorization")
    auth_header_value = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False),
                                        help_text="Stored encrypted; leave empty to keep the current one.")
    hubspot_preset = forms.BooleanField(required=False, label="Fill lookups, mapping and push with the HubSpot preset")
    lookups = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 6}))
    field_mapping = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))
    push = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))
    timeout_seconds = forms.FloatField(min_value=0.2, max_value=10, initial=2.0)
    cache_ttl_seconds = forms.IntegerField(min_value=0, max_value=86400, initial=300)
    push_enabled = forms.BooleanField(required=False, initial=True)


class ImportForm(forms.Form):
    file = forms.FileField(required=False)
    text = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))
