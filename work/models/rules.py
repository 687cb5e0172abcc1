"""Automation rules: trigger -> conditions -> actions, and the run log of
what each rule did (one firing per account per trigger occurrence, one
action run per action of a firing)."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.db import models

from csplatform.tenancy.models import TenantScopedModel
from lifecycle.models import Account
from work.models.limits import COOLDOWN_ERRORS, COOLDOWN_VALIDATORS, RULE_DESCRIPTION_MAX


class Trigger(models.TextChoices):
    STAGE_ENTERED = "stage_entered", "Account entered a stage"
    STAGE_LEFT = "stage_left", "Account left a stage"
    ESCALATION_OPENED = "escalation_opened", "Escalation opened"
    USAGE_SEEN = "usage_seen", "Usage event seen"
    USAGE_COUNT = "usage_count", "Usage event counted in a window"
    NO_USAGE = "no_usage", "No usage for N days"
    RENEWAL_WITHIN = "renewal_within", "Renewal within N days"
    TASK_OVERDUE = "task_overdue", "Task overdue"
    HEALTH_BAND_CHANGED = "health_band_changed", "Health band changed"
    HEALTH_DROPPED = "health_dropped", "Health dropped by N points"
    NPS_RECEIVED = "nps_received", "NPS response received"


class Rule(TenantScopedModel):
    name = models.CharField(max_length=150, error_messages={"blank": "Give the rule a name."})
    # A TextField's max_length only sizes the widget: the validator checks it.
    description = models.TextField(
        blank=True,
        default="",
        max_length=RULE_DESCRIPTION_MAX,
        validators=[MaxLengthValidator(RULE_DESCRIPTION_MAX)],
    )
    is_active = models.BooleanField(default=True)
    trigger = models.CharField(max_length=30, choices=Trigger.choices)
    # What the trigger listens for, per trigger kind (stage, event name,
    # threshold and window, days, band, points, NPS category).
    trigger_config = models.JSONField(default=dict, blank=True)
    # [{"field": "tier", "op": "in", "value": [...]}, ...]; all must hold.
    conditions = models.JSONField(default=list, blank=True)
    cooldown_hours = models.PositiveIntegerField(
        default=0,
        validators=COOLDOWN_VALIDATORS,
        error_messages=COOLDOWN_ERRORS,
        help_text="After firing for an account, wait this long before firing for it again",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Why the rule could not run the last time it was judged (its stored
    # conditions or trigger settings no longer compile, or a segment it names
    # is broken); shown on the list and the run log, cleared by a save.
    problem = models.TextField(blank=True, default="")
    problem_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="rule_name_unique"),
        ]
        indexes = [models.Index(fields=["tenant", "trigger"], name="rule_trigger")]

    def __str__(self) -> str:
        return self.name


class RuleAction(TenantScopedModel):
    """One action of a rule, run in `position` order; `kind` names an action
    in work's action registry (later apps register more)."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="actions")
    position = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=40)
    config = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["rule_id", "position", "id"]


class FiringStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Some actions failed"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped (cool-down)"


class RuleFiring(TenantScopedModel):
    """A rule firing for one account on one trigger occurrence; the unique
    key is what makes a duplicate delivery fire nothing twice."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="firings")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="rule_firings")
    occurrence_key = models.CharField(max_length=200)
    status = models.CharField(
        max_length=12, choices=FiringStatus.choices, default=FiringStatus.RUNNING
    )
    detail = models.JSONField(default=dict, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "account", "occurrence_key"], name="rulefiring_once"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "rule", "created_at"], name="rulefiring_rule_log"),
            models.Index(fields=["rule", "account", "created_at"], name="rulefiring_cooldown"),
        ]


class ActionStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RETRYING = "retrying", "Retrying"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class ActionRun(TenantScopedModel):
    """One action of one firing: its attempts, the error that made it retry or
    fail, and what it produced. Retries are driven by `next_attempt_at` so a
    worker restart loses none."""

    firing = models.ForeignKey(RuleFiring, on_delete=models.CASCADE, related_name="action_runs")
    position = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=40)
    config = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=10, choices=ActionStatus.choices, default=ActionStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    result = models.JSONField(default=dict, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["firing_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["firing", "position"], name="actionrun_once"),
        ]
        indexes = [
            models.Index(
                fields=["tenant", "next_attempt_at"],
                condition=models.Q(status__in=["pending", "retrying"]),
                name="actionrun_due",
            ),
        ]
