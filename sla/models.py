from django.conf import settings
from django.db import models
from django.db.models import Q

from channels_ingest.models import ChannelAccount
from inbox.models import Case
from sac.models import Tenant


class BusinessCalendar(models.Model):
    """When the brand works: windows per weekday in the tenant's time zone, minus holidays.

    `windows` maps a weekday ("0" = Monday … "6" = Sunday) to a list of ["HH:MM", "HH:MM"] pairs; a pair
    whose end is not after its start runs past midnight into the next day (a night shift). Holidays are the
    `holidays` package's for `country` (and `subdivision`, e.g. BR + SP) plus `extra_holidays` (ISO dates).
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="business_calendars")
    name = models.CharField(max_length=80)
    windows = models.JSONField(default=dict)
    country = models.CharField(max_length=2, blank=True, help_text="BR, PT … (empty = no public holidays)")
    subdivision = models.CharField(max_length=10, blank=True, help_text="State or region, e.g. SP")
    extra_holidays = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="businesscalendar_unique_name")]

    def __str__(self) -> str:
        return self.name


class SLAPolicy(models.Model):
    """Targets a case is held to. The first policy (by `position`, the admin's order) whose conditions all
    match the case applies; the default policy applies when none does."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="sla_policies")
    name = models.CharField(max_length=80)
    position = models.PositiveIntegerField(default=0)
    # Conditions: empty = any.
    min_priority = models.PositiveSmallIntegerField(null=True, blank=True)
    channel = models.ForeignKey(ChannelAccount, null=True, blank=True, on_delete=models.CASCADE)
    category = models.CharField(max_length=30, blank=True)
    # Targets in minutes (business minutes when `calendar` is set, calendar minutes otherwise).
    first_response_minutes = models.PositiveIntegerField(default=60)
    next_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    resolution_minutes = models.PositiveIntegerField(default=24 * 60)
    calendar = models.ForeignKey(BusinessCalendar, null=True, blank=True, on_delete=models.PROTECT,
                                 help_text="Business hours; empty = calendar hours (24/7)")
    warn_percent = models.PositiveSmallIntegerField(default=80, help_text="Near-breach at this share of a target")
    is_default = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="slapolicy_unique_name"),
            models.UniqueConstraint(fields=["tenant"], condition=Q(is_default=True), name="slapolicy_one_default"),
        ]
        ordering = ["position", "pk"]
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"

    def __str__(self) -> str:
        return f"{self.name} ({self.first_response_minutes} min / {self.resolution_minutes} min)"


class Target(models.TextChoices):
    FIRST_RESPONSE = "first_response", "First response"
    NEXT_RESPONSE = "next_response", "Next response"
    RESOLUTION = "resolution", "Resolution"
    PROMISE = "promise", "Promise"


class CaseClock(models.Model):
    """SLA state of one case beyond the due columns on Case: which policy, pauses, the next-response clock
    and the near-breach instants. Written only by sla.services, inside the transactions that change the case."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE)
    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="sla_clock")
    policy = models.ForeignKey(SLAPolicy, null=True, blank=True, on_delete=models.SET_NULL)
    first_response_warn_at = models.DateTimeField(null=True, blank=True)
    resolution_warn_at = models.DateTimeField(null=True, blank=True)
    # While waiting on the customer the resolution clock stops: Case.resolution_due is empty and the
    # remaining time (negative when already overdue) is kept here.
    paused_at = models.DateTimeField(null=True, blank=True)
    resolution_remaining_seconds = models.FloatField(null=True, blank=True)
    paused_seconds = models.FloatField(default=0)
    next_response_since = models.DateTimeField(null=True, blank=True)
    next_response_due = models.DateTimeField(null=True, blank=True)
    next_response_warn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "case"], name="caseclock_unique_case")]
        indexes = [
            models.Index(fields=["tenant", "next_response_due"], name="caseclock_next_due",
                         condition=Q(next_response_due__isnull=False)),
            models.Index(fields=["first_response_warn_at"], name="caseclock_fr_warn",
                         condition=Q(first_response_warn_at__isnull=False)),
            models.Index(fields=["resolution_warn_at"], name="caseclock_res_warn",
                         condition=Q(resolution_warn_at__isnull=False)),
        ]


class SLAEvent(models.Model):
    """A target met or missed. Compliance = met ÷ (met + missed) over the events of a period."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="sla_events")
    target = models.CharField(max_length=20, choices=Target.choices)
    due_at = models.DateTimeField()
    at = models.DateTimeField(help_text="When the target was met, or when it was found missed")
    met = models.BooleanField()
    # Copied so compliance by channel/team/agent/category is one indexed scan of this table.
    channel_id_copy = models.BigIntegerField(null=True)
    team_id_copy = models.BigIntegerField(null=True)
    assignee_id_copy = models.BigIntegerField(null=True)
    category = models.CharField(max_length=30, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "case", "target", "due_at"],
                                               name="slaevent_unique_target_due")]
        indexes = [models.Index(fields=["tenant", "at"])]


class SLAAlert(models.Model):
    """A near-breach or breach the sweep found; one per case, target, level and due time."""

    class Level(models.TextChoices):
        WARNING = "warning", "About to breach"
        BREACH = "breach", "Breached"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="sla_alerts")
    target = models.CharField(max_length=20, choices=Target.choices)
    level = models.CharField(max_length=10, choices=Level.choices)
    due_at = models.DateTimeField()
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "case", "target", "level", "due_at"],
                                               name="slaalert_unique")]
        indexes = [models.Index(fields=["tenant", "-created_at"])]


class SLANotification(models.Model):
    """An alert shown in the product to one person (assignee or supervisor), and later e-mailed in a digest."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sla_notifications")
    # Either an SLA alert on a case, or a crisis of the whole tenant (a spike of negative mentions).
    alert = models.ForeignKey(SLAAlert, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications")
    crisis = models.ForeignKey("SLACrisis", null=True, blank=True, on_delete=models.CASCADE,
                               related_name="notifications")
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "alert", "user"], name="slanotification_unique"),
            models.UniqueConstraint(fields=["tenant", "crisis", "user"], condition=Q(crisis__isnull=False),
                                    name="slanotification_unique_crisis"),
            models.CheckConstraint(condition=Q(alert__isnull=False, crisis__isnull=True)
                                   | Q(alert__isnull=True, crisis__isnull=False),
                                   name="slanotification_alert_or_crisis"),
        ]
        indexes = [models.Index(fields=["user"], name="slanotification_to_email",
                                condition=Q(emailed_at__isnull=True))]


class SLARollupHour(models.Model):
    """Counts per tenant, channel and UTC hour, kept current inside the transactions that open cases and record
    SLA events (a day in the tenant's zone is a sum of hours). `manage.py sla_rollups --check` compares them
    with the raw rows, `--rebuild` recomputes them."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE)
    hour = models.DateTimeField()
    channel_id_copy = models.BigIntegerField()
    inbound = models.PositiveIntegerField(default=0)
    met = models.PositiveIntegerField(default=0)
    missed = models.PositiveIntegerField(default=0)
    # Cases whose resolved_at falls in this hour (the surveys panel's deflection counts them), kept by
    # sla.histograms.durations_sync from the resolution durations; PostgreSQL only, like the histograms.
    # db_default: the upserts that count inbound and met/missed name only their own columns.
    resolved = models.PositiveIntegerField(default=0, db_default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "hour", "channel_id_copy"],
                                               name="slarolluphour_unique")]


class CasePromise(models.Model):
    """A window the agent promised the customer ("usually between 2 and 6 hours"), tracked like a target: it is
    kept when the case is resolved by `due_at` (the end of the window), missed otherwise."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="sla_promises")
    min_minutes = models.PositiveIntegerField()
    max_minutes = models.PositiveIntegerField()
    promised_at = models.DateTimeField()
    due_at = models.DateTimeField()
    promised_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "case"], condition=Q(is_active=True),
                                               name="casepromise_one_active")]
        indexes = [models.Index(fields=["due_at"], name="casepromise_due", condition=Q(is_active=True))]

    def __str__(self) -> str:
        return f"between {self.min_minutes // 60} and {self.max_minutes // 60} hours"


class Measure(models.IntegerChoices):
    FIRST_RESPONSE = 1, "First response"
    RESOLUTION = 2, "Resolution"


class SLADuration(models.Model):
    """One measured duration of a case (first response, resolution) in whole seconds (floored), filed under the
    case's first message like every period figure. Exactly the raw `first_response_at - first_message_at` (and
    `resolved_at - …`) of the case, kept by sla.histograms inside the transactions that set those columns;
    `manage.py sla_rollups --check` compares them. With `SLADurationBlock` it gives exact percentiles over any
    period without sorting a year of cases: the block counts find the bucket that holds the wanted rank, and
    this table's (tenant, measure, bucket, started_at) index reads the few values inside that bucket."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="sla_durations")
    measure = models.PositiveSmallIntegerField(choices=Measure.choices)
    started_at = models.DateTimeField(help_text="The case's first_message_at")
    ended_at = models.DateTimeField(help_text="The case's first_response_at or resolved_at")
    channel_id_copy = models.BigIntegerField()
    seconds = models.IntegerField()
    bucket = models.IntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "case", "measure"], name="sladuration_unique")]
        indexes = [models.Index(fields=["tenant", "measure", "bucket", "started_at"], name="sladuration_rank",
                                include=["seconds", "channel_id_copy"])]


class SLADurationBlock(models.Model):
    """Exact histogram of SLADuration counts per bucket over aligned blocks of 2^grain UTC hours (grain 0 = one
    hour … 14 = 682 days), per channel and for all channels (channel_id_copy = 0). Any period of whole hours is
    the sum of at most ~2 blocks per grain, so a year reads a few thousand rows whatever the case volume."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE)
    measure = models.PositiveSmallIntegerField(choices=Measure.choices)
    grain = models.PositiveSmallIntegerField()
    start = models.DateTimeField()
    channel_id_copy = models.BigIntegerField()
    bucket = models.IntegerField()
    n = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "measure", "grain", "start", "channel_id_copy",
                                                       "bucket"], name="sladurationblock_unique")]


class SLACrisis(models.Model):
    """A spike of negative mentions found by the digest run (sla.selectors.crisis), recorded once per tenant and
    hour so the supervisors get it in their next e-mail digest and in the product; the posts are a snapshot."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE)
    detected_at = models.DateTimeField()
    count = models.PositiveIntegerField()
    baseline = models.FloatField()
    posts = models.JSONField(default=list)  # [{"handle", "text", "posted_at"}], newest first

    class Meta:
        indexes = [models.Index(fields=["tenant", "-detected_at"])]


class SLACategoryBlock(models.Model):
    """Cases per category (by their first message) over the same aligned blocks as SLADurationBlock, per channel
    and for all channels (0): the dashboard's top categories for any period read a few hundred rows. Kept when a
    case opens and when an agent corrects its category (inbox.events.case_recategorized)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE)
    grain = models.PositiveSmallIntegerField()
    start = models.DateTimeField()
    channel_id_copy = models.BigIntegerField()
    category = models.CharField(max_length=30)
    n = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "grain", "start", "channel_id_copy", "category"],
                                               name="slacategoryblock_unique")]
