"""Usage signals. Raw events live in a monthly-partitioned table created by
raw SQL (Django cannot declare partitioned tables); the model below is
unmanaged and serves reads. Idempotency is a separate, unpartitioned table
because a unique constraint on a partitioned table must include the
partition key, and a message id must be unique whatever its timestamp."""

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from csplatform.tenancy.models import TenantScopedModel


class UsageEvent(TenantScopedModel):
    id = models.BigIntegerField(primary_key=True)
    account = models.ForeignKey(
        "lifecycle.Account", null=True, on_delete=models.DO_NOTHING, related_name="+"
    )
    account_external_id = models.CharField(max_length=100)
    user_id = models.CharField(max_length=200, blank=True, default="")
    event = models.CharField(max_length=200)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField()
    properties = models.JSONField(default=dict)
    message_id = models.CharField(max_length=200)

    class Meta:
        db_table = "health_usageevent"
        ordering = ["-occurred_at", "-id"]


class UsageMessage(TenantScopedModel):
    """One row per accepted message id: a retried event finds it and is skipped.
    Kept for USAGE_DEDUPE_DAYS (stock clients retry for up to 12 hours)."""

    message_id = models.CharField(max_length=200)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "message_id"], name="usage_message_once")
        ]


class UsagePending(TenantScopedModel):
    """Stored events of one batch that the daily rollups have not yet counted.

    Written by the ingest statement in the same transaction as the raw events
    (so nothing accepted can miss the rollups) and deleted by the fold that
    counts it (so nothing is counted twice). One row per batch, grouped by
    account x event x user x day, keeps the request path to a single insert.
    """

    account_ids = ArrayField(models.BigIntegerField())
    events = ArrayField(models.CharField(max_length=200))
    user_ids = ArrayField(models.CharField(max_length=200))
    days = ArrayField(models.DateField())
    counts = ArrayField(models.IntegerField())

    class Meta:
        indexes = [models.Index(fields=["tenant", "id"], name="usage_pending_fifo")]


class UsageUnattached(TenantScopedModel):
    """External ids that a batch stored events under without an account.

    The ingest statement resolves accounts in its own snapshot: an account
    created while it runs is invisible to it, and the `account_identified`
    handler cannot see the batch's rows until it commits. Written in the
    batch's transaction, so whatever order the commits land in, the next
    fold looks these ids up again and attaches what now resolves.
    """

    external_ids = ArrayField(models.CharField(max_length=100))

    class Meta:
        indexes = [models.Index(fields=["tenant", "id"], name="usage_unattached_fifo")]


class UsageDailyEvent(TenantScopedModel):
    """Per account x event name x day: events and distinct users. Kept up to
    date by the ingest statement itself, so nothing reads raw events."""

    account = models.ForeignKey("lifecycle.Account", on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=200)
    day = models.DateField()
    events = models.PositiveIntegerField(default=0)
    users = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "event", "day"], name="daily_event_once")
        ]


class UsageDailyAccount(TenantScopedModel):
    """Per account x day: events and active (distinct, identified) users."""

    account = models.ForeignKey("lifecycle.Account", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    events = models.PositiveIntegerField(default=0)
    active_users = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "day"], name="daily_account_once")
        ]


class UsageDailyEventUser(TenantScopedModel):
    """Which users did an event on a day: makes the distinct count incremental."""

    account = models.ForeignKey("lifecycle.Account", on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=200)
    day = models.DateField()
    user_id = models.CharField(max_length=200)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "event", "day", "user_id"], name="daily_event_user_once"
            )
        ]


class UsageDailyAccountUser(TenantScopedModel):
    account = models.ForeignKey("lifecycle.Account", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    user_id = models.CharField(max_length=200)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "day", "user_id"], name="daily_account_user_once"
            )
        ]


class EndUser(TenantScopedModel):
    """A person using the vendor's product, as integrations identify them
    (Segment `identify`) and place them in an account (`group`)."""

    user_id = models.CharField(max_length=200)
    account_external_id = models.CharField(max_length=100, blank=True, default="")
    email = models.CharField(max_length=254, blank=True, default="")
    traits = models.JSONField(default=dict, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "user_id"], name="end_user_once")]
        indexes = [models.Index(fields=["tenant", "account_external_id"], name="end_user_account")]


class Feature(TenantScopedModel):
    """A product capability, made of one or more event names."""

    name = models.CharField(max_length=100)
    description = models.CharField(max_length=300, blank=True, default="")
    counts_for_adoption = models.BooleanField(
        default=False, help_text="Adoption measures look at these features"
    )

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="feature_name_once")]

    def __str__(self) -> str:
        return self.name


class EventName(TenantScopedModel):
    """Every event name ingestion has seen, listed automatically; an admin
    gives it a readable name and a feature."""

    name = models.CharField(max_length=200)
    display_name = models.CharField(max_length=200, blank=True, default="")
    feature = models.ForeignKey(
        Feature, null=True, blank=True, on_delete=models.SET_NULL, related_name="event_names"
    )

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="event_name_once")]

    def __str__(self) -> str:
        return self.display_name or self.name


class IngestionSource(models.TextChoices):
    EVENTS = "events", "Events API"
    SEGMENT = "segment", "Segment"


# Rejections kept per request: enough to diagnose, bounded whatever the batch size.
INGESTION_SAMPLE = 20


class IngestionLog(TenantScopedModel):
    """One row per ingestion request the tenant can be told about, written by
    a plain INSERT in the request's own transaction (or, when that rolled
    back, in one of its own right after): append-only, so concurrent
    requests of one key never wait on a shared counter row.
    Rate-limited (429) requests are counted in Redis instead, and a bad key
    (401) has no tenant to be logged under."""

    api_key = models.ForeignKey(
        "tenancy.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=10, choices=IngestionSource.choices)
    received_at = models.DateTimeField(default=timezone.now)
    status = models.PositiveSmallIntegerField()
    accepted = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    # The first INGESTION_SAMPLE rejected events as {index, reason}.
    errors = models.JSONField(default=list, blank=True)
    # Why a whole request was refused (400, 403, 413) or failed (5xx).
    detail = models.CharField(max_length=500, blank=True, default="")
    # The X-Request-ID the response carried: what the server log shows.
    request_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "received_at"], name="ingestion_log_recent"),
            # "Last errors" reads only failed requests; most requests are clean.
            models.Index(
                fields=["tenant", "-received_at"],
                name="ingestion_log_errors",
                condition=models.Q(status__gte=400) | models.Q(rejected__gt=0),
            ),
        ]

    @property
    def has_errors(self) -> bool:
        return self.status >= 400 or self.rejected > 0
