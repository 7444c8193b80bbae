from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from sac.crypto import EncryptedJSONField
from sac.models import Tenant

from .errors import QUOTA_CREDITS


class Platform(models.TextChoices):
    X = "x", "X / Twitter"
    FACEBOOK = "facebook", "Facebook"
    INSTAGRAM = "instagram", "Instagram"
    SIMULATOR = "simulator", _("Simulator (X API shapes, loopback)")


class ChannelAccount(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        PAUSED = "paused", _("Paused")
        NEEDS_REAUTH = "needs_reauth", _("Needs re-authorisation")
        ERROR = "error", _("Error")

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="channels")
    platform = models.CharField(max_length=20, choices=Platform.choices)
    name = models.CharField(max_length=120)
    # The brand's own account id on the network (X user id, Page id, IG user id).
    external_account_id = models.CharField(max_length=64)
    handle = models.CharField(max_length=120, blank=True)
    # X: the brand's terms (product names, misspellings) searched besides @mentions; space-separated, any matches.
    search_terms = models.CharField(max_length=400, blank=True)
    # X pay-per-use: the tenant admin's monthly ceiling for this channel's API spend (USD); null = no ceiling.
    monthly_budget_usd = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True)
    # Overrides the network's API host: the simulator, or a test server on loopback.
    api_base_url = models.URLField(blank=True)
    credentials = EncryptedJSONField(blank=True, default=dict)
    cursor = models.JSONField(default=dict, blank=True)
    poll_interval_seconds = models.PositiveIntegerField(default=60)
    next_poll_at = models.DateTimeField(null=True, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    # Held while a worker polls this channel (see services._lease_take); expires if the worker dies.
    poll_lease_until = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    status_detail = models.TextField(blank=True)
    # Why the network refuses this channel's requests for its app's own allowance (X's pay-per-use credits or usage
    # cap: x/client.py QuotaExhausted), and since when: set by a poll it refuses, cleared by one that reads. The
    # channel stays active (it carries on by itself); the channel pages and the reply composer say it meanwhile.
    quota_refusal = models.CharField(max_length=300, blank=True)
    quota_refused_since = models.DateTimeField(null=True, blank=True)
    # The unguessable part of this channel's webhook URL (/hooks/<platform>/<webhook_key>/); not an id to enumerate.
    webhook_key = models.CharField(max_length=43, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "platform", "external_account_id"], name="channel_unique_account")
        ]
        indexes = [
            # schedule_due_polls reads only active channels by due time.
            models.Index(fields=["next_poll_at"], name="channel_due_active", condition=Q(status="active")),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_platform_display()})"

    @property
    def quota_blocks_sends(self) -> bool:
        """Whether replies fail too while the network refuses the channel so: X's credits pay for posts as well,
        its usage cap counts only the posts read."""
        return self.quota_refusal == QUOTA_CREDITS


class SocialProfile(models.Model):
    """A customer (or anyone) as the network shows them."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="profiles")
    platform = models.CharField(max_length=20, choices=Platform.choices)
    external_id = models.CharField(max_length=64)
    handle = models.CharField(max_length=120, blank=True)
    name = models.CharField(max_length=200, blank=True)
    followers_count = models.PositiveIntegerField(default=0)
    verified = models.BooleanField(default=False)
    profile_url = models.URLField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # When the network last refused a private message to this person (X: DMs not open to the brand). The
    # inbox then offers a public invitation instead of a DM; cleared when they write to the brand privately.
    dms_closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "platform", "external_id"], name="profile_unique_external")
        ]

    def __str__(self) -> str:
        return f"@{self.handle}" if self.handle else self.external_id

    @property
    def first_name(self) -> str:
        return (self.name or self.handle).split(" ")[0]


class PollRun(models.Model):
    """One poll (or one webhook batch) of one channel: what came in and how it ended."""

    class Outcome(models.TextChoices):
        RUNNING = "running", _("Running")
        OK = "ok", "OK"
        FAILED = "failed", _("Failed")

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="poll_runs")
    channel = models.ForeignKey(ChannelAccount, on_delete=models.CASCADE, related_name="poll_runs")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.RUNNING)
    source = models.CharField(max_length=10, default="poll")  # poll | reconcile | webhook | replay
    fetched = models.PositiveIntegerField(default=0)
    stored = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)  # edits and removals applied to stored mentions
    dead_lettered = models.PositiveIntegerField(default=0)
    # Why the next poll was pushed back, when the network asked us to slow down (rate limit, app usage).
    rate_note = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "channel", "-started_at"])]


class Mention(models.Model):
    class Kind(models.TextChoices):
        POST = "post", _("Public post")
        COMMENT = "comment", _("Comment")
        DIRECT = "direct", _("Private message")

    class Direction(models.TextChoices):
        INBOUND = "in", _("From the customer")
        OUTBOUND = "out", _("From the brand")

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="mentions")
    channel = models.ForeignKey(ChannelAccount, on_delete=models.CASCADE, related_name="mentions")
    # Messenger message ids run to ~100 characters.
    external_id = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.POST)
    direction = models.CharField(max_length=3, choices=Direction.choices, default=Direction.INBOUND)
    author = models.ForeignKey(SocialProfile, null=True, on_delete=models.SET_NULL, related_name="mentions")
    text = models.TextField()
    language = models.CharField(max_length=8, blank=True)
    conversation_id = models.CharField(max_length=200, blank=True)
    in_reply_to_external_id = models.CharField(max_length=200, blank=True)
    posted_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    raw = models.JSONField(default=dict)
    ingest_run = models.ForeignKey(PollRun, null=True, on_delete=models.SET_NULL, related_name="mentions")
    # Set by the inbox once triage has looked at it; the sweep finds rows a crash left null.
    triaged_at = models.DateTimeField(null=True, blank=True)
    permalink = models.URLField(max_length=500, blank=True)
    # When the network last reported an edit (its time, not ours), so an older edit arriving late is ignored.
    edited_at = models.DateTimeField(null=True, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "channel", "external_id"], name="mention_unique_external")
        ]
        indexes = [
            models.Index(fields=["tenant", "received_at"], name="mention_untriaged",
                         condition=Q(triaged_at__isnull=True)),
            models.Index(fields=["tenant", "channel", "conversation_id"]),
            # The dashboard's crisis rule counts a tenant's mentions per hour window.
            models.Index(fields=["tenant", "posted_at"], name="mention_posted"),
        ]
        ordering = ["posted_at", "id"]

    def __str__(self) -> str:
        return f"{self.external_id}: {self.text[:40]}"


class DeadLetter(models.Model):
    """A payload we could not use, kept whole with the reason, for a human to look at."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="dead_letters")
    channel = models.ForeignKey(ChannelAccount, null=True, blank=True, on_delete=models.SET_NULL)
    source = models.CharField(max_length=20)  # poll | webhook | outbound
    reason = models.TextField()
    payload = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "-created_at"])]


class MentionRevision(models.Model):
    """The text a mention had before an edit or removal: the thread shows what the customer first wrote."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    mention = models.ForeignKey(Mention, on_delete=models.CASCADE, related_name="revisions")
    text = models.TextField()
    change = models.CharField(max_length=10)  # edit | remove
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["changed_at", "id"]
        indexes = [models.Index(fields=["tenant", "mention"])]


class WebhookDelivery(models.Model):
    """A verified webhook body exactly as received, stored before anything reads it."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey(ChannelAccount, on_delete=models.CASCADE, related_name="webhook_deliveries")
    body = models.BinaryField()
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["received_at"], name="webhook_unprocessed", condition=Q(processed_at__isnull=True)),
            # A tenant's drain reads its own backlog oldest first without walking another tenant's flood.
            models.Index(fields=["tenant", "received_at"], name="webhook_unprocessed_tenant",
                         condition=Q(processed_at__isnull=True)),
        ]


class SentMessage(models.Model):
    """What the brand sent through a connector: recognises our own posts when they come back, and holds the
    one private reply a Facebook/Instagram comment allows (with the comment's permalink)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey(ChannelAccount, on_delete=models.CASCADE, related_name="sent_messages")
    external_id = models.CharField(max_length=200, blank=True)  # empty while the send is under way
    kind = models.CharField(max_length=20)  # public_reply | private_reply | direct
    in_reply_to_external_id = models.CharField(max_length=200, blank=True)
    private_reply_to_comment = models.CharField(max_length=200, blank=True)
    comment_permalink = models.URLField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "channel", "private_reply_to_comment"],
                                    condition=~Q(private_reply_to_comment=""), name="one_private_reply_per_comment"),
        ]
        indexes = [models.Index(fields=["tenant", "channel", "external_id"])]


class ApiUsage(models.Model):
    """Billable X API use of one channel in one month (X prices reads and writes per item)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey(ChannelAccount, on_delete=models.CASCADE, related_name="usage")
    month = models.DateField()  # the first day of the month
    posts_read = models.PositiveIntegerField(default=0)
    dm_events_read = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)  # posts and DMs sent

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "channel", "month"], name="usage_unique_month")]
