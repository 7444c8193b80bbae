import hashlib
import secrets
from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Tenant(models.Model):
    """A brand served by this installation. Every tenant-owned row points here."""

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=120)
    time_zone = models.CharField(max_length=64, default="America/Sao_Paulo")
    locale = models.CharField(max_length=10, default="pt-br", choices=settings.LANGUAGES)
    # A customer writing again within this many days of a resolution reopens the case; later, a new case
    # linked to the old one is opened. 0 always opens a new case.
    reopen_window_days = models.PositiveSmallIntegerField(default=7)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    AGENT = "agent", _("Agent")
    SUPERVISOR = "supervisor", _("Supervisor")
    ADMIN = "admin", _("Tenant admin")


# The one ordering of roles every permission check uses (sac.tenancy.role_at_least).
ROLE_RANK = {Role.AGENT: 1, Role.SUPERVISOR: 2, Role.ADMIN: 3}


class Team(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(max_length=80)
    # New cases routed to this team go straight to its online agents in turn, within their caps.
    auto_assign = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="team_unique_name")]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.AGENT)
    teams = models.ManyToManyField(Team, blank=True, related_name="members")
    is_active = models.BooleanField(default=True)
    max_open_cases = models.PositiveIntegerField(default=20)
    # Skills for "take next case": empty means any. Languages as ISO 639-1 ("pt", "en"), networks as
    # channel platforms ("x", "facebook", "instagram", "simulator").
    languages = models.JSONField(default=list, blank=True)
    platforms = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "user"], name="membership_unique_user")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.tenant.slug} ({self.role})"

    def has_role(self, role: str) -> bool:
        return ROLE_RANK[Role(self.role)] >= ROLE_RANK[Role(role)]


class AuditEvent(models.Model):
    """Append-only history: who did what to which object. Written by services only."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="audit_events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    verb = models.CharField(max_length=60)
    object_type = models.CharField(max_length=60)
    object_id = models.CharField(max_length=64)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "object_type", "object_id", "created_at"])]
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.verb} {self.object_type}:{self.object_id}"


class ApiToken(models.Model):
    """An API credential bound to exactly one membership, hence to one tenant and role."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_tokens")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80)
    # Only a digest is stored: a database leak must not leak usable tokens.
    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"

    @staticmethod
    def new_secret() -> str:
        return "sac_" + secrets.token_urlsafe(32)

    @staticmethod
    def digest_of(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()


class Invitation(models.Model):
    """A tenant admin's invitation for someone to join the brand (the Team page). The person opens
    /invite/<token>/ from the e-mail and sets a password, or signs in with the account they already have.

    Open = neither accepted nor revoked; an open invitation past `expires_at` is expired (Resend renews it)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="invitations")
    # Lower-cased: a new person's username is this address, and the login form compares usernames exactly.
    email = models.EmailField()
    name = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.AGENT)
    # What the membership starts with; checked against the tenant by the service (the link table has no tenant).
    teams = models.ManyToManyField(Team, blank=True, related_name="invitations")
    languages = models.JSONField(default=list, blank=True)
    platforms = models.JSONField(default=list, blank=True)
    # The language of the e-mail and of the page the link opens.
    language = models.CharField(max_length=10, choices=settings.LANGUAGES, default="pt-br")
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    # Only a digest of the link's token: a database leak must not hand out memberships. Resend replaces it,
    # so an earlier e-mail's link stops working.
    token_digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    membership = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Why the last e-mail could not be sent (the mail server refused or was down): the Team page shows it next to
    # Resend; empty once an e-mail went out.
    email_error = models.TextField(blank=True)

    class Meta:
        constraints = [
            # One open invitation per address and brand: a second "Invite" is told to resend the first, and two
            # admins inviting the same person at once cannot send two links.
            models.UniqueConstraint(fields=["tenant", "email"], name="invitation_one_open_per_email",
                                    condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.email} → {self.tenant.slug} ({self.role})"

    def state(self, now: datetime) -> str:
        """pending, expired, accepted or revoked: what the Team page's list and the accept page say."""
        if self.accepted_at is not None:
            return "accepted"
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= now else "pending"

    @staticmethod
    def new_token() -> str:
        return secrets.token_urlsafe(32)

    @staticmethod
    def digest_of(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()
