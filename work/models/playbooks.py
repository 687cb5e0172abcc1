"""Playbooks: named protocols with ordered steps, and their runs on accounts."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from csplatform.tenancy.models import TenantScopedModel
from lifecycle.models import Account, Stage
from work.models.limits import (
    DUE_OFFSET_VALIDATORS,
    ESTIMATE_ERRORS,
    ESTIMATE_VALIDATORS,
    POSITION_VALIDATORS,
    PRIORITY_ERRORS,
)


class AssigneeRule(models.TextChoices):
    OWNER = "owner", "Account owner"
    LEAST_LOADED = "least_loaded", "Least-loaded CSM with the skill and free capacity"
    ROUND_ROBIN = "round_robin", "Round-robin in a group"
    USER = "user", "A named person"


class Playbook(TenantScopedModel):
    name = models.CharField(max_length=150, error_messages={"blank": "Name the playbook."})
    # Set for the defaults seeded for a new tenant, so seeding twice adds nothing.
    key = models.SlugField(max_length=60, blank=True, default="")
    description = models.TextField(blank=True, default="")
    stage = models.CharField(
        max_length=20,
        choices=Stage.choices,
        blank=True,
        default="",
        help_text="The stage the playbook is for; blank for a situation (risk, renewal)",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="playbook_name_unique"),
            models.UniqueConstraint(
                fields=["tenant", "key"], condition=~Q(key=""), name="playbook_key_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Priority(models.IntegerChoices):
    # Lower sorts first in the queue.
    URGENT = 1, "Urgent"
    HIGH = 2, "High"
    NORMAL = 3, "Normal"
    LOW = 4, "Low"


class PlaybookStep(TenantScopedModel):
    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField(default=0, validators=POSITION_VALIDATORS)
    title = models.CharField(max_length=200, error_messages={"blank": "Give the step a title."})
    instructions = models.TextField(blank=True, default="")
    required_skill = models.SlugField(max_length=50, blank=True, default="")
    estimated_minutes = models.PositiveIntegerField(
        default=30, validators=ESTIMATE_VALIDATORS, error_messages=ESTIMATE_ERRORS
    )
    due_offset_days = models.PositiveIntegerField(
        default=0, validators=DUE_OFFSET_VALIDATORS, help_text="Days after the task is created"
    )
    priority = models.PositiveSmallIntegerField(
        choices=Priority.choices, default=Priority.NORMAL, error_messages=PRIORITY_ERRORS
    )
    assignee_rule = models.CharField(
        max_length=20, choices=AssigneeRule.choices, default=AssigneeRule.OWNER
    )
    assignee_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assignee_group = models.ForeignKey(
        "work.CsmGroup", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    depends_on = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="dependents",
        help_text="An earlier step whose task must be done before this one is created",
    )

    class Meta:
        ordering = ["playbook_id", "position", "id"]

    def __str__(self) -> str:
        return self.title


class RunStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class PlaybookRun(TenantScopedModel):
    """One start of a playbook on an account. `occurrence_key` names what
    started it (a rule firing, a stage change, a person's click), and is
    unique per playbook and account, so a duplicate delivery adds nothing."""

    playbook = models.ForeignKey(Playbook, on_delete=models.PROTECT, related_name="runs")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="playbook_runs")
    occurrence_key = models.CharField(max_length=200)
    status = models.CharField(max_length=12, choices=RunStatus.choices, default=RunStatus.ACTIVE)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=300, blank=True, default="")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["playbook", "account", "occurrence_key"], name="playbookrun_once"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "account"], name="playbookrun_account")]

    def __str__(self) -> str:
        return f"{self.playbook} on {self.account}"
