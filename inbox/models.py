from datetime import date

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from channels_ingest.models import ChannelAccount, Mention, Platform, SocialProfile
from sac.models import Membership, Team, Tenant

# Statuses in which a case is still someone's work (queue, SLA clocks, partial indexes).
OPEN_STATUSES = ("new", "open", "pending_customer")


class Tag(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=50)
    color = models.CharField(max_length=7, default="#64748b")
    # Archived tags stay on the cases that carry them but are no longer offered, filtered on or required.
    archived = models.BooleanField(default=False)
    # A mandatory tag must be on a case before it can be resolved. With dates, only cases whose customer first
    # wrote within them (in the tenant's time zone) need it: a campaign such as "Black Friday".
    mandatory = models.BooleanField(default=False)
    mandatory_from = models.DateField(null=True, blank=True)
    mandatory_until = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="tag_unique_name")]

    def __str__(self) -> str:
        return self.name

    def required_on(self, day: date) -> bool:
        """Whether a case whose customer first wrote on `day` (the tenant's date) must carry this tag."""
        return (self.mandatory and not self.archived
                and (self.mandatory_from is None or self.mandatory_from <= day)
                and (self.mandatory_until is None or self.mandatory_until >= day))


class Case(models.Model):
    class Status(models.TextChoices):
        NEW = "new", _("New")
        OPEN = "open", _("Open")
        PENDING_CUSTOMER = "pending_customer", _("Waiting on customer")
        RESOLVED = "resolved", _("Resolved")
        CLOSED = "closed", _("Closed")
        IGNORED = "ignored", _("Ignored")

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="cases")
    protocol = models.CharField(max_length=20)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    priority = models.PositiveSmallIntegerField(default=50)
    # RESTRICT: a channel with cases cannot be deleted on its own, but deleting the tenant removes both.
    channel = models.ForeignKey(ChannelAccount, on_delete=models.RESTRICT, related_name="cases")
    customer = models.ForeignKey(SocialProfile, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="cases")
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="assigned_cases")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="cases")
    # The resolved case this one continues (the customer wrote again after the reopen window).
    follows = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="followed_by")
    tags = models.ManyToManyField(Tag, blank=True, related_name="cases")
    subject = models.CharField(max_length=140)
    language = models.CharField(max_length=8, blank=True)
    category = models.CharField(max_length=30, blank=True)
    personal_data = models.JSONField(default=list, blank=True)  # kinds found, e.g. ["phone", "email"]
    triage = models.JSONField(default=dict, blank=True)  # the decision and its reasons, shown to agents
    first_message_at = models.DateTimeField()
    last_customer_message_at = models.DateTimeField()
    first_response_due = models.DateTimeField(null=True, blank=True)
    resolution_due = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # The tab title's unread count (docs/inbox.md): who last read the thread as its assignee, and the customer's
    # last message then. Kept with the user so a case handed to a colleague is unread for them until they open it.
    # Unindexed: the count reads them from the rows the case_mine_order index finds.
    seen_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+", db_index=False)
    seen_upto = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "protocol"], name="case_unique_protocol")]
        indexes = [
            # The queue orders by ("-priority", "first_message_at", "pk"); each index below ends with that
            # whole order, pk included, so "the 50 most urgent" (and claim-next's LIMIT 1) reads 50 index
            # entries instead of sorting the tenant's open cases (docs/inbox.md; tests/inbox/test_queue_speed.py).
            # "Claim next": unassigned new/open work, most urgent first.
            models.Index(fields=["tenant", "-priority", "first_message_at", "id"], name="case_claim_order",
                         condition=Q(assignee__isnull=True, status__in=("new", "open"))),
            # The "All open" queue: open work, most urgent first.
            models.Index(fields=["tenant", "-priority", "first_message_at", "id"], name="case_open_order",
                         condition=Q(status__in=OPEN_STATUSES)),
            # The "Unassigned" queue (pending_customer included, unlike claim-next).
            models.Index(fields=["tenant", "-priority", "first_message_at", "id"], name="case_unassigned_order",
                         condition=Q(assignee__isnull=True, status__in=OPEN_STATUSES)),
            # "My cases" and the team queue, and the per-agent open-case count claim-next checks.
            models.Index(fields=["tenant", "assignee", "-priority", "first_message_at", "id"], name="case_mine_order",
                         condition=Q(status__in=OPEN_STATUSES)),
            models.Index(fields=["tenant", "team", "-priority", "first_message_at", "id"], name="case_team_order",
                         condition=Q(status__in=OPEN_STATUSES)),
            # Dashboard periods: cases by when the customer first wrote, with what the figures need.
            models.Index(fields=["tenant", "first_message_at"], name="case_period",
                         include=["first_response_at", "resolved_at", "channel", "category", "assignee", "team"]),
            # SLA sweeps read open cases by due time only.
            models.Index(fields=["tenant", "first_response_due"], name="case_first_response_due",
                         condition=Q(first_response_at__isnull=True, status__in=OPEN_STATUSES)),
            models.Index(fields=["tenant", "resolution_due"], name="case_resolution_due",
                         condition=Q(status__in=OPEN_STATUSES)),
            models.Index(fields=["tenant", "assignee", "status"]),
            models.Index(fields=["tenant", "channel", "customer", "status"]),
            # The supervisors' "Ignored" page, newest first. By id, not updated_at: every write touches updated_at,
            # and an index on it would cost the hot table its HOT updates.
            models.Index(fields=["tenant", "-id"], name="case_ignored", condition=Q(status="ignored")),
        ]

    def __str__(self) -> str:
        return f"{self.protocol} {self.subject[:40]}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class CaseMention(models.Model):
    """Which mentions belong to which case (a mention belongs to at most one)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="case_mentions")
    mention = models.OneToOneField(Mention, on_delete=models.CASCADE, related_name="case_link")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "mention"], name="casemention_unique")]


class MentionTriage(models.Model):
    """The triage decision for one mention, kept even when it was ignored."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE)
    mention = models.OneToOneField(Mention, on_delete=models.CASCADE, related_name="triage")
    ignored = models.BooleanField()
    decision = models.JSONField(default=dict)
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "mention"], name="mentiontriage_unique")]
        # The supervisors' "Ignored" page: the tenant's noise that became no case, newest first.
        indexes = [models.Index(fields=["tenant", "-id"], name="mentiontriage_ignored",
                                condition=Q(ignored=True, case__isnull=True))]


class ProtocolSequence(models.Model):
    """Per tenant and day, the last protocol number handed out (see services.protocol_next)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE)
    day = models.DateField()
    last_value = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "day"], name="protocolsequence_unique_day")]


class CannedReply(models.Model):
    """One canned reply. Replies sharing a shortcut are variants of each other (per language, network or
    channel); the composer offers the most specific variant for the case. With an owner, it is that
    agent's personal reply, visible to nobody else."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="canned_replies")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                              related_name="personal_canned_replies")
    title = models.CharField(max_length=120)
    shortcut = models.SlugField(max_length=40)
    body = models.TextField()
    language = models.CharField(max_length=8, blank=True, help_text="Empty = any language")
    platform = models.CharField(max_length=20, blank=True, choices=Platform.choices,
                                help_text="Empty = any network")
    channel = models.ForeignKey(ChannelAccount, null=True, blank=True, on_delete=models.CASCADE,
                                related_name="canned_replies", help_text="Empty = any channel")
    usage_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # NULLs never collide in a unique index, so each owner/channel combination gets its own partial one.
        constraints = [
            models.UniqueConstraint(fields=["tenant", "shortcut", "language", "platform"],
                                    condition=Q(owner__isnull=True, channel__isnull=True),
                                    name="cannedreply_unique_variant"),
            models.UniqueConstraint(fields=["tenant", "channel", "shortcut", "language"],
                                    condition=Q(owner__isnull=True, channel__isnull=False),
                                    name="cannedreply_unique_channel_variant"),
            models.UniqueConstraint(fields=["tenant", "owner", "shortcut", "language", "platform"],
                                    condition=Q(owner__isnull=False, channel__isnull=True),
                                    name="cannedreply_unique_personal"),
            models.UniqueConstraint(fields=["tenant", "owner", "channel", "shortcut", "language"],
                                    condition=Q(owner__isnull=False, channel__isnull=False),
                                    name="cannedreply_unique_personal_channel"),
        ]
        ordering = ["title"]

    def __str__(self) -> str:
        return f"/{self.shortcut} {self.title}"


def _attachment_path(instance: "ReplyAttachment", filename: str) -> str:
    # Content-addressed inside the tenant's own folder: one tenant's file can never be reached through
    # another's path, and the same image uploaded twice is stored once.
    ext = {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp"}.get(
        instance.content_type, "")
    return f"tenants/{instance.tenant_id}/reply-media/{instance.sha256[:2]}/{instance.sha256}{ext}"


class ReplyAttachment(models.Model):
    """An image an agent attached to a reply, stored under MEDIA_ROOT in the tenant's folder
    (served only by the tenant's inbox view, inbox/media.py)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="reply_attachments")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    file = models.FileField(upload_to=_attachment_path, max_length=200)
    sha256 = models.CharField(max_length=64)
    content_type = models.CharField(max_length=40)  # sniffed from the bytes, never the browser's word
    size = models.PositiveIntegerField()
    original_name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "sha256"], name="replyattachment_unique_sha256")]


class Reply(models.Model):
    class Visibility(models.TextChoices):
        PUBLIC = "public", _("Public reply")
        PRIVATE = "private", _("Private message")

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="replies")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="replies")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    visibility = models.CharField(max_length=10, choices=Visibility.choices)
    text = models.TextField()
    in_reply_to = models.ForeignKey(Mention, null=True, blank=True, on_delete=models.SET_NULL)
    canned_reply = models.ForeignKey(CannedReply, null=True, blank=True, on_delete=models.SET_NULL)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    # Made before any network call; the same key twice is the same reply, never a second post.
    idempotency_key = models.CharField(max_length=64, unique=True)
    # Messenger message ids run to ~90 characters.
    external_id = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    sending_started_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # When a transient failure asked us to wait (a 429's reset time): the sweep leaves the reply alone until then.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # An image sent with the reply. The network's id for the uploaded image is recorded before the post, so a
    # retried send reuses it instead of uploading again; Messenger sends the image as its own message, whose
    # id is recorded too so a retry after it never sends the image twice.
    attachment = models.ForeignKey(ReplyAttachment, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="replies")
    media_external_id = models.CharField(max_length=200, blank=True)
    media_uploaded_at = models.DateTimeField(null=True, blank=True)
    media_message_id = models.CharField(max_length=200, blank=True)
    # The public half of a public-to-private handoff ("we sent you a message") waits for the private half:
    # it goes out once that one is sent, as an invitation to write privately when the network refused it.
    waits_for = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="waiting")
    # Whom a private reply to a comment reached, as the network answered (Graph `recipient_id`: the customer's
    # Messenger page-scoped id, not their commenter id). Their Messenger answer joins this reply's case by it.
    recipient_external_id = models.CharField(max_length=64, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "case", "created_at"]),
            models.Index(fields=["created_at"], name="reply_queued", condition=Q(state="queued")),
            models.Index(fields=["tenant", "recipient_external_id"], name="reply_handoff_recipient",
                         condition=~Q(recipient_external_id="")),
        ]


class Note(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="notes")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)


class Notification(models.Model):
    """Something a colleague wants this person to see (an @mention in a note); shown under the bell."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="notifications")
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    note = models.ForeignKey(Note, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications")
    # What the notification says, in English: rows written before `message_key` existed show it as it is.
    text = models.CharField(max_length=300)
    # Newer rows also keep which message it is and its values, so each reader sees it in their own language.
    message_key = models.CharField(max_length=40, blank=True)
    params = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "recipient", "-created_at"]),
            # The bell's unread count, polled by every open page.
            models.Index(fields=["tenant", "recipient"], name="notification_unread", condition=Q(read_at__isnull=True)),
        ]
        ordering = ["-created_at", "-pk"]

    @property
    def display_text(self) -> str:
        """The text in the active language (the reader's), from its key and values; old rows as stored."""
        from .notification_texts import render_notification

        return render_notification(self.message_key, self.params) or self.text


class InboxSettings(models.Model):
    """A tenant's inbox configuration: the other contact channels canned replies may offer
    (`{{tenant.email}}`, `{{tenant.phone}}`, `{{tenant.chat_url}}`) and the Facebook pages approved to use
    Messenger's HUMAN_AGENT tag (replies up to 7 days after the customer's last message instead of 24 hours)."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="inbox_settings")
    contact_email = models.EmailField(blank=True)
    contact_phone = models.CharField(max_length=40, blank=True)
    chat_url = models.URLField(blank=True)
    human_agent_channels = models.ManyToManyField(ChannelAccount, blank=True, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)


# ---------------------------------------------------------------- triage: tenant configuration and learning

class TriageCategory(models.Model):
    """A category a tenant adds to the built-in ones (inbox.triage.CATEGORIES)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="triage_categories")
    name = models.SlugField(max_length=30)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="triagecategory_unique_name")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PersonalDataPattern(models.Model):
    """An account, contract or protocol number of the tenant's own, found as `custom:<name>`."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="personal_data_patterns")
    name = models.SlugField(max_length=30)
    regex = models.CharField(max_length=300)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="pdpattern_unique_name")]
        ordering = ["name"]


class RoutingRule(models.Model):
    """Evaluated in `position` order; the first rule whose conditions all hold applies."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="routing_rules")
    position = models.PositiveIntegerField(default=0)
    name = models.CharField(max_length=80)
    enabled = models.BooleanField(default=True)
    keywords = models.CharField(max_length=500, blank=True, help_text="Comma-separated; any one of them matches")
    regex = models.CharField(max_length=300, blank=True)
    channel = models.ForeignKey(ChannelAccount, null=True, blank=True, on_delete=models.CASCADE)
    category = models.CharField(max_length=30, blank=True)
    language = models.CharField(max_length=8, blank=True)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL)
    tags = models.CharField(max_length=300, blank=True, help_text="Comma-separated tag names to add")
    priority_boost = models.SmallIntegerField(default=0)
    auto_ignore = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "position"])]
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.name


class TriageCorrection(models.Model):
    """An agent's re-labelling of one mention: a training example for the tenant's model."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="triage_corrections")
    mention = models.ForeignKey(Mention, on_delete=models.CASCADE, related_name="triage_corrections")
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.SET_NULL)
    text = models.TextField()  # what the model learns from, kept even if the mention is edited later
    category = models.CharField(max_length=30)
    requires_response = models.BooleanField()
    priority = models.PositiveSmallIntegerField(null=True, blank=True)
    original = models.JSONField(default=dict)  # the decision the agent corrected
    corrected_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "mention"], name="triagecorrection_unique")]
        indexes = [models.Index(fields=["tenant", "created_at"])]


class TriageModelVersion(models.Model):
    class Status(models.TextChoices):
        PROMOTED = "promoted", "In use"
        REJECTED = "rejected", "Not better: kept the current one"
        RETIRED = "retired", "Replaced by a newer version"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="triage_models")
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices)
    trained_on = models.PositiveIntegerField()
    held_back = models.PositiveIntegerField()
    metrics = models.JSONField(default=dict)  # candidate's and incumbent's scores on the held-back slice
    weights = models.JSONField(default=dict)  # inbox.triage.LinearModel.to_json()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "version"], name="triagemodel_unique_version"),
            models.UniqueConstraint(fields=["tenant"], condition=Q(status="promoted"), name="triagemodel_one_promoted"),
        ]
        ordering = ["-version"]


__all__ = ["Case", "CaseMention", "CannedReply", "InboxSettings", "Membership", "MentionTriage", "Note", "Notification",
           "PersonalDataPattern",
           "ProtocolSequence", "Reply", "ReplyAttachment", "RoutingRule", "Tag", "TriageCategory", "TriageCorrection",
           "TriageModelVersion"]
