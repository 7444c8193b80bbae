"""Forms of the triage pages: an agent's correction, a tenant admin's routing rule."""

import re

from django import forms

from sac.models import Tenant

from .models import RoutingRule
from .selectors import triage_categories
from .triage import CATEGORIES

LANGUAGES = [("", "any"), ("pt", "Portuguese"), ("en", "English"), ("es", "Spanish"), ("und", "unknown")]


class TriageCorrectionForm(forms.Form):
    category = forms.ChoiceField()
    requires_response = forms.TypedChoiceField(choices=[("1", "Needs an answer"), ("0", "No answer needed")],
                                               coerce=lambda v: v == "1")
    priority = forms.IntegerField(min_value=0, max_value=100, required=False)

    def __init__(self, *args, tenant: Tenant, categories: list[str] | None = None, **kwargs):
        """`categories`: triage_categories(tenant), when the caller read them already."""
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [(c, c) for c in (categories if categories is not None
                                                            else triage_categories(tenant))]


class RoutingRuleForm(forms.ModelForm):
    class Meta:
        model = RoutingRule
        fields = ["name", "enabled", "keywords", "regex", "channel", "category", "language", "team", "tags",
                  "priority_boost", "auto_ignore"]

    def __init__(self, *args, tenant: Tenant, **kwargs):
        super().__init__(*args, **kwargs)
        # Only the tenant's own channels and teams can be picked: another tenant's id is "not a valid choice".
        self.fields["channel"].queryset = tenant.channels.all()
        self.fields["team"].queryset = tenant.teams.all()
        self.fields["category"] = forms.ChoiceField(
            choices=[("", "any")] + [(c, c) for c in triage_categories(tenant)], required=False)
        self.fields["language"] = forms.ChoiceField(choices=LANGUAGES, required=False)
        self.fields["priority_boost"].widget.attrs.update({"min": -100, "max": 100})

    def clean_regex(self) -> str:
        regex = self.cleaned_data.get("regex", "")
        if regex:
            try:
                re.compile(regex)
            except re.error as exc:
                raise forms.ValidationError(f"Not a valid regular expression: {exc}") from None
        return regex

    def clean_priority_boost(self) -> int:
        boost = self.cleaned_data["priority_boost"]
        if not -100 <= boost <= 100:
            raise forms.ValidationError("Between -100 and 100.")
        return boost

    def clean(self):
        data = super().clean()
        if not any(data.get(k) for k in ("keywords", "regex", "channel", "category", "language")):
            raise forms.ValidationError("Give the rule at least one condition (keywords, regex, channel, "
                                        "category or language).")
        return data


class PersonalDataPatternForm(forms.Form):
    name = forms.SlugField(max_length=30, help_text="Found as custom:<name>, e.g. contrato")
    regex = forms.CharField(max_length=300, help_text=r"e.g. \bCT-\d{6}\b")


class TriageCategoryForm(forms.Form):
    name = forms.SlugField(max_length=30, help_text="e.g. billing, outage")

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].lower()
        if name in CATEGORIES:
            raise forms.ValidationError("That category is built in.")
        return name
