"""Forms of the Team page (sac.team_views): a member's role, teams, skills and cap; a team's name and auto-assign;
an invitation, and the invited person's password on the accept page."""

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.forms import SetPasswordMixin
from django.utils.translation import gettext_lazy as _

from .i18n import tenant_language
from .models import Role, Team, Tenant
from .services import MAX_OPEN_CASES_MAX, MAX_OPEN_CASES_MIN, MEMBER_LANGUAGES, MEMBER_PLATFORMS

LANGUAGE_LABELS = {"pt": _("Portuguese"), "en": _("English"), "es": _("Spanish"),
                   "und": _("Language not detected")}
# channels_ingest.models.Platform's labels (sac imports no app).
PLATFORM_LABELS = {"x": "X / Twitter", "facebook": "Facebook", "instagram": "Instagram",
                   "simulator": _("Simulator")}
LANGUAGE_CHOICES = [(code, LANGUAGE_LABELS[code]) for code in MEMBER_LANGUAGES]
PLATFORM_CHOICES = [(code, PLATFORM_LABELS[code]) for code in MEMBER_PLATFORMS]


class MemberSkillsForm(forms.Form):
    """What a member is and takes: shared by a member's edit form and an invitation (the membership it creates)."""

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

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only the tenant's own teams can be ticked: another tenant's id is "not a valid choice".
        self.fields["teams"].queryset = Team.objects.filter(tenant=tenant).order_by("name")


class MemberForm(MemberSkillsForm):
    max_open_cases = forms.IntegerField(
        min_value=MAX_OPEN_CASES_MIN, max_value=MAX_OPEN_CASES_MAX, label=_("Open-case cap"),
        help_text=_("They take no more cases (by hand, with Take next case or round-robin) while they hold this "
                    "many open ones."))
    is_active = forms.BooleanField(required=False, label=_("Active"),
                                   help_text=_("An inactive member cannot open this brand's pages."))


class TeamForm(forms.Form):
    name = forms.CharField(max_length=80, label=_("Name"))
    auto_assign = forms.BooleanField(
        required=False, label=_("Auto-assign"),
        help_text=_("New cases routed to the team go round-robin to its online members, within their caps."))


class InvitationForm(MemberSkillsForm):
    """The Team page's "Invite someone": who, and the membership they get when they accept."""

    email = forms.EmailField(label=_("E-mail"), max_length=254)
    name = forms.CharField(label=_("Name"), max_length=150)
    language = forms.ChoiceField(choices=settings.LANGUAGES, label=_("Language of the e-mail"))
    field_order = ["email", "name", "role", "teams", "languages", "platforms", "language"]

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        super().__init__(*args, tenant=tenant, **kwargs)
        self.fields["role"].initial = Role.AGENT
        self.fields["language"].initial = tenant_language(tenant)


class InvitationAcceptForm(SetPasswordMixin, forms.Form):
    """A new person's name and password. Django's password validators see the account about to be created
    (`user`, unsaved), so a password like their e-mail address is refused."""

    name = forms.CharField(label=_("Your name"), max_length=150)
    password1, password2 = SetPasswordMixin.create_password_fields()

    def __init__(self, *args: Any, user: AbstractBaseUser, **kwargs: Any) -> None:
        self.user = user
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        self.validate_passwords()
        self.validate_password_for_user(self.user)
        return super().clean()
