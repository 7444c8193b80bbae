"""Surveys: per-tenant configuration, invitations (rows with a state and a due time), answers,
follow-ups for low scores, and the contact-centre figures the deflection panel compares against."""

import hashlib
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import pgettext_lazy

from channels_ingest.models import ChannelAccount, SocialProfile
from inbox.models import Case
from sac.models import Team, Tenant

DEFAULT_WORDING = {
    "invitation_pt": "Oi, {name}! Seu atendimento {protocol} foi concluído. Pode nos dizer como foi? {link}",
    "invitation_en": "Hi {name}, your case {protocol} is resolved. Could you tell us how we did? {link}",
    "csat_question_pt": "De 1 a 5, quão satisfeito(a) você ficou com o atendimento?",
    "csat_question_en": "From 1 to 5, how satisfied are you with the service you received?",
    "nps_question_pt": "De 0 a 10, quanto você recomendaria a {brand} a um amigo?",
    "nps_question_en": "From 0 to 10, how likely are you to recommend {brand} to a friend?",
}


class SurveyConfig(models.Model):
    """One per tenant. Without a row (or with enabled=False) no invitation is scheduled."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="survey_config")
    enabled = models.BooleanField(default=True)
    ask_csat = models.BooleanField(default=True)
    ask_nps = models.BooleanField(default=True)
    invitation_pt = models.TextField(default=DEFAULT_WORDING["invitation_pt"])
    invitation_en = models.TextField(default=DEFAULT_WORDING["invitation_en"])
    csat_question_pt = models.CharField(max_length=300, default=DEFAULT_WORDING["csat_question_pt"])
    csat_question_en = models.CharField(max_length=300, default=DEFAULT_WORDING["csat_question_en"])
    nps_question_pt = models.CharField(max_length=300, default=DEFAULT_WORDING["nps_question_pt"])
    nps_question_en = models.CharField(max_length=300, default=DEFAULT_WORDING["nps_question_en"])
    delay_minutes = models.PositiveIntegerField(default=30)
    quiet_days = models.PositiveIntegerField(default=30, help_text="Never survey the same customer twice in N days")
    expiry_days = models.PositiveIntegerField(default=7)
    # Deflection: entered by the admin in the tenant's currency (converted by them, never guessed by us).
    currency = models.CharField(max_length=3, default="BRL")
    cost_per_call = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("12.00"))
    cost_per_social = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0.90"))
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Surveys of {self.tenant}"


class SurveyInvitation(models.Model):
    class State(models.TextChoices):
        SCHEDULED = "scheduled", pgettext_lazy("survey invitation", "Scheduled")
        SENDING = "sending", pgettext_lazy("survey invitation", "Sending")
        SENT = "sent", pgettext_lazy("survey invitation", "Sent")
        FAILED = "failed", pgettext_lazy("survey invitation", "Failed")
        SKIPPED = "skipped", pgettext_lazy("survey invitation", "Skipped")

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="survey_invitations")
    # One invitation per case, ever: a reopened and re-resolved case is not surveyed again.
    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="survey_invitation")
    channel = models.ForeignKey(ChannelAccount, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(SocialProfile, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    language = models.CharField(max_length=8, default="pt")
    ask_csat = models.BooleanField(default=True)
    ask_nps = models.BooleanField(default=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.SCHEDULED)
    skip_reason = models.CharField(max_length=200, blank=True)
    due_at = models.DateTimeField()
    # Only a digest of the link's token is stored (set when the message is built): a database
    # leak does not let anyone answer for a customer.
    token_digest = models.CharField(max_length=64, null=True, blank=True, unique=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=64, unique=True)
    external_id = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    sending_started_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # The sweep reads only what is still to be sent, by due time.
            models.Index(fields=["due_at"], name="survey_inv_due", condition=Q(state="scheduled")),
            models.Index(fields=["tenant", "customer", "created_at"]),
            models.Index(fields=["tenant", "sent_at"]),
        ]

    def __str__(self) -> str:
        return f"survey for case {self.case_id} ({self.state})"

    @staticmethod
    def digest_of(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()


class SurveyResponse(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="survey_responses")
    # OneToOne: the second submit of the same link cannot make a second row.
    invitation = models.OneToOneField(SurveyInvitation, on_delete=models.CASCADE, related_name="response")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="survey_responses")
    csat = models.PositiveSmallIntegerField(null=True, blank=True)
    nps = models.PositiveSmallIntegerField(null=True, blank=True)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "created_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(csat__isnull=True) | Q(csat__gte=1, csat__lte=5), name="response_csat"),
            models.CheckConstraint(condition=Q(nps__isnull=True) | Q(nps__lte=10), name="response_nps"),
        ]

    @property
    def is_low(self) -> bool:
        return (self.csat is not None and self.csat <= 3) or (self.nps is not None and self.nps <= 6)


class FollowUp(models.Model):
    """A low score, for a supervisor of the case's team to call the customer back."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="survey_followups")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="survey_followups")
    response = models.OneToOneField(SurveyResponse, on_delete=models.CASCADE, related_name="followup")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    outcome = models.TextField(blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "status", "created_at"])]


class DeflectionDay(models.Model):
    """The contact centre's own figures for one day, imported by a tenant admin."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="deflection_days")
    day = models.DateField()
    calls = models.PositiveIntegerField(default=0)
    site_visits = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "day"], name="deflection_unique_day")]
        ordering = ["day"]
