"""CRM bridge: the tenant's CRM configuration, the local CRM's customers, identity links between
social profiles and CRM records, and the case-summary pushes (rows with a state, sent once each)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy, pgettext_lazy

from channels_ingest.models import SocialProfile
from inbox.models import Case
from sac.crypto import EncryptedJSONField
from sac.models import Tenant


class CrmConfig(models.Model):
    class Kind(models.TextChoices):
        LOCAL = "local", gettext_lazy("Local CRM (records kept in SAC)")
        REST = "rest", gettext_lazy("Generic REST CRM")

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="crm_config")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.LOCAL)
    base_url = models.URLField(blank=True)
    # {"name": "Authorization", "value": "Bearer …"}: encrypted at rest, never shown back in the UI.
    auth_header = EncryptedJSONField(blank=True, default=dict)
    # kind (email|phone|document|handle|ref) → {"method", "path", "body", "record_path"}; "{value}" is replaced.
    lookups = models.JSONField(default=dict, blank=True)
    # our field → dotted path in the CRM's record (e.g. "name": "properties.firstname").
    field_mapping = models.JSONField(default=dict, blank=True)
    # {"method", "path", "body"} with {protocol}, {channel}, {category}, {status}, {first_response_at},
    # {resolved_at}, {csat}, {nps}, {thread_url}, {crm_ref}, {summary} placeholders.
    push = models.JSONField(default=dict, blank=True)
    timeout_seconds = models.FloatField(default=2.0)
    cache_ttl_seconds = models.PositiveIntegerField(default=300)
    push_enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"CRM of {self.tenant} ({self.kind})"


class CrmCustomer(models.Model):
    """A customer record of the local CRM."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="crm_customers")
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)  # digits only, with country code when known
    document = models.CharField(max_length=20, blank=True, help_text="CPF or CNPJ, digits only")
    external_ref = models.CharField(max_length=64, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "external_ref"], condition=~Q(external_ref=""),
                                    name="crmcustomer_unique_ref"),
        ]
        indexes = [models.Index(fields=["tenant", "email"]), models.Index(fields=["tenant", "document"]),
                   models.Index(fields=["tenant", "phone"])]
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class IdentityLink(models.Model):
    """This social profile is that CRM record (per tenant; one record per profile)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="identity_links")
    profile = models.ForeignKey(SocialProfile, on_delete=models.CASCADE, related_name="crm_links")
    crm_ref = models.CharField(max_length=120)  # "local:<id>" or the REST CRM's own id
    display_name = models.CharField(max_length=200, blank=True)
    linked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    how = models.CharField(max_length=40, blank=True)  # manual | suggested:email | …
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "profile"], name="identitylink_unique_profile")]


class CrmPush(models.Model):
    """One push of a case's summary for one state of the case (resolved, then again when the CSAT arrives)."""

    class State(models.TextChoices):
        QUEUED = "queued", pgettext_lazy("crm push", "Queued")
        SENDING = "sending", pgettext_lazy("crm push", "Sending")
        SENT = "sent", pgettext_lazy("crm push", "Sent")
        FAILED = "failed", pgettext_lazy("crm push", "Failed")

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="crm_pushes")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="crm_pushes")
    state_key = models.CharField(max_length=80)
    # Also sent as the Idempotency-Key header, so a CRM that honours it drops a retried duplicate.
    idempotency_key = models.CharField(max_length=120, unique=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    sending_started_at = models.DateTimeField(null=True, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    external_id = models.CharField(max_length=120, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "case", "state_key"], name="crmpush_unique_state")]
        indexes = [models.Index(fields=["next_attempt_at"], name="crmpush_due", condition=Q(state="queued"))]
