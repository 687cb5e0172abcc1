from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_fsm import FSMField

from csplatform.fsm import Move, transitions
from csplatform.tenancy.models import Role, TenantScopedModel


class Stage(models.TextChoices):
    ONBOARDING = "onboarding", "Onboarding"
    ADOPTION = "adoption", "Adoption"
    USAGE = "usage", "Usage"
    VALUE_REALIZATION = "value_realization", "Value realization"
    ADVOCACY = "advocacy", "Advocacy"
    CHURNED = "churned", "Churned"


ACTIVE_STAGES = [s for s in Stage if s != Stage.CHURNED]
POST_ONBOARDING = [Stage.ADOPTION, Stage.USAGE, Stage.VALUE_REALIZATION, Stage.ADVOCACY]


def exit_criteria_met(account: Account) -> bool:
    """FSM condition: every required achievement of the current stage is done."""
    return not account.missing_achievements()


# The forward journey; each step is guarded by the stage's required achievements.
_FORWARD = [
    ("start_adoption", Stage.ONBOARDING, Stage.ADOPTION),
    ("reach_usage", Stage.ADOPTION, Stage.USAGE),
    ("realize_value", Stage.USAGE, Stage.VALUE_REALIZATION),
    ("become_advocate", Stage.VALUE_REALIZATION, Stage.ADVOCACY),
]

# The one table of stage moves: Account's FSM is generated from it, and the
# service, the account page and the API read those transitions. Each guarded
# move has a `force_` twin without the guard, which the service lets a leader
# take with a reason. `label` names a side move's button.
STAGE_MOVES = (
    *(Move(name, (src,), dst, conditions=(exit_criteria_met,)) for name, src, dst in _FORWARD),
    *(Move(f"force_{name}", (src,), dst, custom={"forced": True}) for name, src, dst in _FORWARD),
    Move(
        "restart_onboarding",  # an upsell or a new product line
        tuple(POST_ONBOARDING),
        Stage.ONBOARDING,
        custom={"label": "Back to Onboarding (upsell)"},
    ),
    Move("churn", tuple(ACTIVE_STAGES), Stage.CHURNED, custom={"label": "Mark churned"}),
    Move("win_back", (Stage.CHURNED,), Stage.ONBOARDING, custom={"label": "Win back"}),
)
# Read from the table: the stage each guarded move leads to.
FORWARD = {m.sources[0]: m.target for m in STAGE_MOVES if m.conditions}
# The transitions change only the row; lifecycle.services records the rest
# (timeline, stage history, domain events).
AccountStageMoves = transitions("AccountStageMoves", "stage", STAGE_MOVES)


class Tier(models.TextChoices):
    STRATEGIC = "strategic", "Strategic"
    ENTERPRISE = "enterprise", "Enterprise"
    MID_MARKET = "mid_market", "Mid-market"
    SMB = "smb", "SMB"


class Account(TenantScopedModel, AccountStageMoves):
    name = models.CharField(max_length=200)
    external_id = models.CharField(
        max_length=100, blank=True, default="", help_text="The id in your CRM; unique per tenant"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_accounts",
        help_text="The CSM who owns the account",
    )
    tier = models.CharField(max_length=20, choices=Tier.choices, default=Tier.MID_MARKET)
    industry = models.CharField(max_length=100, blank=True, default="")
    attributes = models.JSONField(default=dict, blank=True)
    stage = FSMField(default=Stage.ONBOARDING, choices=Stage.choices)
    stage_entered_at = models.DateTimeField(default=timezone.now)
    is_escalated = models.BooleanField(default=False)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "external_id"],
                condition=~Q(external_id=""),
                name="account_external_id_unique",
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "stage"], name="account_stage"),
            models.Index(fields=["tenant", "owner"], name="account_owner"),
            models.Index(fields=["tenant", "name"], name="account_name"),
        ]

    def __str__(self) -> str:
        return self.name

    # -- guards ---------------------------------------------------------------
    def missing_achievements(self) -> list[StageAchievement]:
        done = AccountAchievement.objects.filter(account=self).values("achievement_id")
        return list(
            StageAchievement.objects.filter(stage=self.stage, required=True)
            .exclude(pk__in=done)
            .order_by("position", "id")
        )


class ContactRole(models.TextChoices):
    CHAMPION = "champion", "Champion"
    EXECUTIVE_SPONSOR = "executive_sponsor", "Executive sponsor"
    DECISION_MAKER = "decision_maker", "Decision maker"
    ADMIN = "admin", "Admin"
    END_USER = "end_user", "End user"


class Contact(TenantScopedModel):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="contacts")
    external_id = models.CharField(max_length=100, blank=True, default="")
    name = models.CharField(max_length=200)
    email = models.EmailField()
    title = models.CharField(max_length=200, blank=True, default="")
    role = models.CharField(
        max_length=20, choices=ContactRole.choices, default=ContactRole.END_USER
    )

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "external_id"],
                condition=~Q(external_id=""),
                name="contact_external_id_unique",
            ),
            models.UniqueConstraint(fields=["account", "email"], name="contact_email_per_account"),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class ContractStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PENDING = "pending", "Pending"
    RENEWED = "renewed", "Renewed"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"


class Contract(TenantScopedModel):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="contracts")
    external_id = models.CharField(max_length=100, blank=True, default="")
    arr = models.DecimalField(
        "ARR", max_digits=14, decimal_places=2, validators=[MinValueValidator(0)]
    )
    seats = models.PositiveIntegerField(default=0)
    start_date = models.DateField()
    renewal_date = models.DateField()
    status = models.CharField(
        max_length=12, choices=ContractStatus.choices, default=ContractStatus.ACTIVE
    )

    class Meta:
        ordering = ["renewal_date", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "external_id"],
                condition=~Q(external_id=""),
                name="contract_external_id_unique",
            ),
            models.CheckConstraint(
                condition=Q(renewal_date__gte=models.F("start_date")),
                name="contract_renewal_after_start",
            ),
            models.CheckConstraint(condition=Q(arr__gte=0), name="contract_arr_not_negative"),
        ]
        indexes = [models.Index(fields=["tenant", "renewal_date"], name="contract_renewal")]

    def __str__(self) -> str:
        return f"{self.account} {self.start_date} to {self.renewal_date}"


class Segment(TenantScopedModel):
    """A saved filter over account fields; health, campaigns and rules target it."""

    name = models.CharField(max_length=100)
    description = models.CharField(max_length=300, blank=True, default="")
    # {"stage": [...], "tier": [...], "industry": [...], "owner": [ids],
    #  "arr_min": n, "arr_max": n, "renewal_within_days": n, "escalated": bool,
    #  "attributes": {key: value}}
    filters = models.JSONField(default=dict)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="segment_name_unique")
        ]

    def __str__(self) -> str:
        return self.name


class StageAchievement(TenantScopedModel):
    """One item of a stage's checklist, configured per tenant."""

    stage = models.CharField(max_length=20, choices=Stage.choices)
    key = models.SlugField(max_length=60)
    title = models.CharField(max_length=200)
    required = models.BooleanField(
        default=True, help_text="Required achievements gate the move to the next stage"
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["stage", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "stage", "key"], name="achievement_key_unique"
            )
        ]

    def __str__(self) -> str:
        return self.title


class AccountAchievement(TenantScopedModel):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="achievements")
    achievement = models.ForeignKey(StageAchievement, on_delete=models.CASCADE, related_name="+")
    completed_at = models.DateTimeField(default=timezone.now)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "achievement"], name="achievement_done_once")
        ]


class StageHistory(TenantScopedModel):
    """One row per stay in a stage: time in stage, time to onboard, time to value."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="stage_history")
    stage = models.CharField(max_length=20, choices=Stage.choices)
    entered_at = models.DateTimeField()
    exited_at = models.DateTimeField(null=True, blank=True)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    forced = models.BooleanField(default=False)
    reason = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["entered_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account"], condition=Q(exited_at__isnull=True), name="one_open_stage_stay"
            )
        ]

    @property
    def duration(self):
        return (self.exited_at or timezone.now()) - self.entered_at


class Escalation(TenantScopedModel):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="escalations")
    reason = models.TextField()
    opened_at = models.DateTimeField(default=timezone.now)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(resolved_at__isnull=True),
                name="one_open_escalation",
            )
        ]

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class NoteKind(models.TextChoices):
    """What a CSM writes on the timeline by hand; each value is the entry's
    kind. Meetings and calls are customer contact (health's engagement)."""

    NOTE = "note", "Note"
    MEETING = "meeting_logged", "Meeting"
    CALL = "call_logged", "Call"


# Who may own an account: the people who work accounts. A viewer (another
# department reading shared data) never does.
OWNER_ROLES = (Role.CSM, Role.LEADER, Role.ADMIN)

# The longest note, meeting or call write-up a person may add (a pasted
# email thread fits; a pasted log file does not).
NOTE_MAX_LENGTH = 10_000


class TimelineEntry(TenantScopedModel):
    """The shared account timeline every app writes through `timeline_record`."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="timeline")
    kind = models.CharField(max_length=40)
    occurred_at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True, default="")
    payload = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "account", "-occurred_at"], name="timeline_account"),
            models.Index(fields=["tenant", "kind"], name="timeline_kind"),
        ]

    def __str__(self) -> str:
        return self.title
