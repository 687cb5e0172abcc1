"""Health scores that show their working: profiles of weighted measures,
the current score per account with its breakdown, daily and band-change
snapshots, and the signals only health owns (NPS responses, CSM sentiment)."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from csplatform.tenancy.models import TenantScopedModel
from health.measures import MEASURES
from lifecycle.models import Stage

# Measure.USAGE_FREQUENCY == "usage_frequency", ...: one member per spec of
# health.measures, in its order.
Measure = models.TextChoices(
    "Measure", [(spec.name.upper(), (spec.name, spec.label)) for spec in MEASURES]
)

# Bands and alerts are on the 0-100 scale of the score.
PERCENT = [MaxValueValidator(100)]
WEIGHT_MIN, WEIGHT_MAX = 1, 100
WEIGHT = [MinValueValidator(WEIGHT_MIN), MaxValueValidator(WEIGHT_MAX)]
# A threshold is a raw value: days, counts, ratios, NPS. Far beyond any of
# them is a typo, and keeps every threshold a finite float.
THRESHOLD = [MinValueValidator(-1e9), MaxValueValidator(1e9)]


class Band(models.TextChoices):
    RED = "red", "Red"
    YELLOW = "yellow", "Yellow"
    GREEN = "green", "Green"


class HealthProfile(TenantScopedModel):
    """Which measures judge an account, with what weights and thresholds.
    Chosen per account by segment and stage: lowest position first, the first
    that matches wins, the default profile catches the rest."""

    name = models.CharField(max_length=100)
    segment = models.ForeignKey(
        "lifecycle.Segment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    stage = models.CharField(max_length=20, choices=Stage.choices, blank=True, default="")
    position = models.PositiveSmallIntegerField(default=100)
    is_default = models.BooleanField(default=False)
    red_below = models.PositiveSmallIntegerField(default=40, validators=PERCENT)
    green_from = models.PositiveSmallIntegerField(default=70, validators=PERCENT)
    # Early warning: a fall of this many points within 7 days alerts even
    # without a band change.
    drop_alert_points = models.PositiveSmallIntegerField(default=15, validators=PERCENT)
    # Why the last re-score had to leave this profile out (its segment's
    # filter cannot run), and when; cleared once it scores cleanly again.
    last_error = models.TextField(blank=True, default="")
    last_error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="health_profile_name_once"),
            models.UniqueConstraint(
                fields=["tenant"], condition=Q(is_default=True), name="one_default_profile"
            ),
            models.CheckConstraint(
                condition=Q(red_below__lte=models.F("green_from")) & Q(green_from__lte=100),
                name="profile_bands_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ProfileMeasure(TenantScopedModel):
    """One measure in a profile. The raw value maps linearly to 0-100
    between `bad` (0 points) and `good` (100 points); `bad` above `good`
    means lower is better (support load, days since contact)."""

    profile = models.ForeignKey(HealthProfile, on_delete=models.CASCADE, related_name="measures")
    measure = models.CharField(max_length=30, choices=Measure.choices)
    weight = models.PositiveSmallIntegerField(default=10, validators=WEIGHT)
    bad = models.FloatField(validators=THRESHOLD)
    good = models.FloatField(validators=THRESHOLD)

    class Meta:
        ordering = ["profile", "measure"]
        constraints = [
            models.UniqueConstraint(fields=["profile", "measure"], name="profile_measure_once"),
            models.CheckConstraint(condition=~Q(bad=models.F("good")), name="measure_bad_not_good"),
            models.CheckConstraint(
                condition=Q(weight__gte=WEIGHT_MIN, weight__lte=WEIGHT_MAX),
                name="measure_weight_in_range",
            ),
        ]


class HealthScore(TenantScopedModel):
    """The current score of an account. `breakdown` keeps the working: per
    measure its raw value, points, weight, contribution and whether it was
    missing (then left out and the rest re-weighted)."""

    account = models.OneToOneField(
        "lifecycle.Account", on_delete=models.CASCADE, related_name="health"
    )
    profile = models.ForeignKey(HealthProfile, null=True, on_delete=models.SET_NULL)
    score = models.SmallIntegerField(null=True)  # null: no measure had data
    band = models.CharField(max_length=10, choices=Band.choices, blank=True, default="")
    breakdown = models.JSONField(default=list)
    # Every figure the measures were computed from, once per account.
    inputs = models.JSONField(default=dict)
    scored_at = models.DateTimeField(default=timezone.now)
    # md5 of the working as text: a re-score compares it and builds the JSON
    # only for accounts whose working changed.
    working_hash = models.CharField(max_length=32, blank=True, default="")
    # When the last drop alert fired, so one fall alerts once.
    drop_alerted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "band"], name="health_score_band")]


class SnapshotReason(models.TextChoices):
    DAILY = "daily", "Daily"
    BAND_CHANGE = "band_change", "Band change"


class HealthSnapshot(TenantScopedModel):
    """History for the trend line and "what changed since last week"."""

    account = models.ForeignKey("lifecycle.Account", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    taken_at = models.DateTimeField(default=timezone.now)
    reason = models.CharField(max_length=20, choices=SnapshotReason.choices)
    score = models.SmallIntegerField(null=True)
    band = models.CharField(max_length=10, blank=True, default="")
    points = models.JSONField(default=dict)  # measure -> points (null when missing)

    class Meta:
        ordering = ["-taken_at"]
        indexes = [models.Index(fields=["tenant", "account", "day"], name="health_snapshot_day")]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "day"],
                condition=Q(reason="daily"),
                name="one_daily_snapshot",
            )
        ]


class RescoreRequest(TenantScopedModel):
    """Accounts whose inputs changed since their last score: the set the
    debounced re-score drains, so many signals for one account cost one
    re-score."""

    account = models.OneToOneField("lifecycle.Account", on_delete=models.CASCADE, related_name="+")


class NpsResponse(TenantScopedModel):
    account = models.ForeignKey("lifecycle.Account", on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(
        "lifecycle.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Who answered, for "latest response per respondent": a contact, an email
    # or an end-user id, whatever the source knows.
    respondent = models.CharField(max_length=254)
    score = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True, default="")
    responded_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=40, blank=True, default="api")
    external_id = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        ordering = ["-responded_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "account", "responded_at"], name="nps_account_time")
        ]
        constraints = [
            models.CheckConstraint(condition=Q(score__lte=10), name="nps_score_0_10"),
            models.UniqueConstraint(
                fields=["tenant", "external_id"],
                condition=~Q(external_id=""),
                name="nps_external_id_once",
            ),
        ]

    @property
    def category(self) -> str:
        return "promoter" if self.score >= 9 else "passive" if self.score >= 7 else "detractor"


class CsmSentiment(TenantScopedModel):
    """The CSM's own red / yellow / green judgement, with why."""

    account = models.ForeignKey("lifecycle.Account", on_delete=models.CASCADE, related_name="+")
    value = models.CharField(max_length=10, choices=Band.choices)
    comment = models.TextField()
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "account", "created_at"], name="sentiment_time")]


class HealthSettings(TenantScopedModel):
    """Per-tenant inputs of the measures that are not per profile."""

    support_event_name = models.CharField(max_length=200, default="ticket_created")
    engagement_kinds = models.JSONField(default=list)  # timeline kinds that count as contact
    nps_window_days = models.PositiveSmallIntegerField(default=180)
    renewal_horizon_days = models.PositiveSmallIntegerField(default=180)
    # A stage's required outcomes fall due this many days after entering it.
    outcome_due_days = models.PositiveSmallIntegerField(default=30)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant"], name="health_settings_once")]
