import json

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import CrmConfig


class CustomerForm(forms.Form):
    name = forms.CharField(max_length=200, label=gettext_lazy("Name"))
    email = forms.CharField(max_length=254, required=False, label=gettext_lazy("E-mail"))
    phone = forms.CharField(max_length=40, required=False, label=gettext_lazy("Phone"))
    document = forms.CharField(max_length=20, required=False, label="CPF / CNPJ")
    external_ref = forms.CharField(max_length=64, required=False, label=gettext_lazy("External ref"))
    attributes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}),
                                 label=gettext_lazy("Attributes"),
                                 help_text=gettext_lazy('Free attributes as JSON, e.g. {"plan": "Fibra 500", '
                                                        '"orders": [{"id": "PED-1", "title": "Router", '
                                                        '"status": "delivered"}]}'))

    def clean_attributes(self) -> dict:
        text = self.cleaned_data["attributes"].strip() or "{}"
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(_("Not valid JSON: %(error)s") % {"error": exc}) from None
        if not isinstance(value, dict):
            raise forms.ValidationError(_("A JSON object, please ({…})."))
        return value


class CrmConfigForm(forms.Form):
    kind = forms.ChoiceField(choices=CrmConfig.Kind.choices, label=gettext_lazy("CRM"))
    base_url = forms.URLField(required=False, assume_scheme="https", label=gettext_lazy("Base URL"))
    auth_header_name = forms.CharField(required=False, initial="Authorization",
                                       label=gettext_lazy("Auth header name"))
    auth_header_value = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False),
                                        label=gettext_lazy("Auth header value"),
                                        help_text=gettext_lazy("Stored encrypted; leave empty to keep the current "
                                                               "one."))
    hubspot_preset = forms.BooleanField(required=False,
                                        label=gettext_lazy("Fill lookups, mapping and push with the HubSpot preset"))
    lookups = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 6}), label=gettext_lazy("Lookups"))
    field_mapping = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}),
                                    label=gettext_lazy("Field mapping"))
    push = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}), label=gettext_lazy("Push"))
    timeout_seconds = forms.FloatField(min_value=0.2, max_value=10, initial=2.0,
                                       label=gettext_lazy("Timeout (seconds)"))
    cache_ttl_seconds = forms.IntegerField(min_value=0, max_value=86400, initial=300,
                                           label=gettext_lazy("Cache lifetime (seconds)"))
    push_enabled = forms.BooleanField(required=False, initial=True,
                                      label=gettext_lazy("Push the case summary to the CRM on resolve"))


class ImportForm(forms.Form):
    file = forms.FileField(required=False, label=gettext_lazy("File"))
    text = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}), label=gettext_lazy("Text"),
                           help_text=gettext_lazy("…or paste the CSV here."))
