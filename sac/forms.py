"""Forms of the Team page (sac.team_views): a member's role, teams, skills and cap; a team's name and auto-assign."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Role, Team, Tenant
from .services import MAX_OPEN_CASES_MAX, MAX_OPEN_CASES_MIN, MEMBER_LANGUAGES, MEMBER_PLATFORMS

LANGUAGE_LABELS = {"pt": _("Portuguese"), "en": _("English"), "es": _("Spanish"),
                   "und": _("Language not detected")}
# channels_ingest.models.Platform's labels (sac imports no app).
PLATFORM_LABELS = {"x": "X / Twitter", "facebook": "Facebook", "instagram": "Instagram",
                   "simulator": _("Simulator")}
LANGUAGE_CHOICES = [(code, LANGUAGE_LABELS[code]) for code in MEMBER_LANGUAGES]
PLATFORM_CHOICES = [(code, PLATFORM_LABELS[code]) for code in MEMBER_PLATFORMS]


class MemberForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices, label=_("Role"))
    teams = forms.ModelMultipleChoiceField(
        queryset=Team.objects.none(), required=False, widget=forms.CheckboxSelectMultiple, label=_("Teams"),
        help_text=_("Take next case gives them their teams' cases and those of no team; in no team, any case."))
    languages = forms.MultipleChoiceField(
        choices=LANGUAGE_CHOICES, required=False, widget=forms.CheckboxSelectMultiple, label=_("Languages"),
        help_text=_("None ticked: any language. Cases whose language triage could not detect need that box."))
    platforms = forms.MultipleChoiceField(
        choices=PLATFORM_CHOICES, required=False, widget=forms.CheckboxSelectMultiple, label=_("Channel skills"),
        help_text=_("None ticked: any network."))
    max_open_cases = forms.IntegerField(
        min_value=MAX_OPEN_CASES_MIN, max_value=MAX_OPEN_CASES_MAX, label=_("Open-case cap"),
        help_text=_("They take no more cases (by hand, with Take next case or round-robin) while they hold this "
                    "many open ones."))
    is_active = forms.BooleanField(required=False, label=_("Active"),
                                   help_text=_("An inactive member cannot open this brand's pages."))

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only the tenant's own teams can be ticked: another tenant's id is "not a valid choice".
        self.fields["teams"].queryset = Team.objects.filter(tenant=tenant).order_by("name")


class TeamForm(forms.Form):
    name = forms.CharField(max_length=80, label=_("Name"))
    auto_assign = forms.BooleanField(
        required=False, label=_("Auto-assign"),
        help_text=_("New cases routed to the team go round-robin to its online members, within their caps."))
