"""Tasks: a unit of CSM work on an account, with an FSM status, and the time
logged against it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_fsm import FSMField

from csplatform.fsm import Move, transitions
from csplatform.tenancy.models import TenantScopedModel
from lifecycle.models import Account
from work.models.limits import (
    ESTIMATE_ERRORS,
    ESTIMATE_VALIDATORS,
    PRIORITY_ERRORS,
    TIME_ENTRY_MINUTES_VALIDATORS,
    work_day,
)
from work.models.playbooks import PlaybookRun, PlaybookStep, Priority


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    SKIPPED = "skipped", "Skipped"
    CANCELLED = "cancelled", "Cancelled"


OPEN_STATUSES = [TaskStatus.OPEN, TaskStatus.IN_PROGRESS]
CLOSED_STATUSES = [TaskStatus.DONE, TaskStatus.SKIPPED, TaskStatus.CANCELLED]


# The one table of task moves: Task's FSM is generated from it; the service,
# the API (status -> action), the forms and the queue's buttons read it. A
# move's name is its action; `kind` names its timeline entry and domain event,
# `verb` how the timeline says it, `notice` what the queue row says after it.
TASK_MOVES = (
    Move(
        "start",
        (TaskStatus.OPEN,),
        TaskStatus.IN_PROGRESS,
        custom={"kind": "task_started", "verb": "Started", "notice": "Started"},
    ),
    Move(
        "complete",
        tuple(OPEN_STATUSES),
        TaskStatus.DONE,
        custom={"kind": "task_completed", "verb": "Completed", "notice": "Done ✓"},
    ),
    Move(
        "skip",
        tuple(OPEN_STATUSES),
        TaskStatus.SKIPPED,
        custom={"kind": "task_skipped", "verb": "Skipped", "notice": "Skipped"},
    ),
    Move(
        "cancel",
        tuple(OPEN_STATUSES),
        TaskStatus.CANCELLED,
        custom={"kind": "task_cancelled", "verb": "Cancelled", "notice": "Cancelled"},
    ),
    Move(
        "reopen",
        tuple(CLOSED_STATUSES),
        TaskStatus.OPEN,
        custom={"kind": "task_reopened", "verb": "Reopened", "notice": "Reopened"},
    ),
)
TASK_ACTIONS = {m.name: m for m in TASK_MOVES}
# The transitions change only the row; work.services records and notifies.
TaskStatusMoves = transitions("TaskStatusMoves", "status", TASK_MOVES)


class Task(TenantScopedModel, TaskStatusMoves):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="tasks")
    run = models.ForeignKey(
        PlaybookRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    step = models.ForeignKey(
        PlaybookStep, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    title = models.CharField(max_length=200, error_messages={"blank": "Give the task a title."})
    instructions = models.TextField(blank=True, default="")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tasks",
    )
    due_date = models.DateField(validators=[work_day])
    # The due date it was created with; snoozing moves only `due_date`.
    original_due_date = models.DateField()
    priority = models.PositiveSmallIntegerField(
        choices=Priority.choices, default=Priority.NORMAL, error_messages=PRIORITY_ERRORS
    )
    required_skill = models.SlugField(max_length=50, blank=True, default="")
    estimated_minutes = models.PositiveIntegerField(
        default=30, validators=ESTIMATE_VALIDATORS, error_messages=ESTIMATE_ERRORS
    )
    status = FSMField(default=TaskStatus.OPEN, choices=TaskStatus.choices, protected=False)
    outcome = models.TextField(blank=True, default="")
    logged_minutes = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Names the request that created a task by hand (a form's nonce, an API
    # Idempotency-Key), so a double submit or a retry creates it once.
    request_key = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["due_date", "priority", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "request_key"],
                condition=~Q(request_key=""),
                name="task_once_per_request",
            ),
            # A playbook run creates each step's task once.
            models.UniqueConstraint(
                fields=["run", "step"],
                condition=Q(run__isnull=False, step__isnull=False),
                name="task_once_per_run_step",
            ),
        ]
        indexes = [
            # The queue: my open tasks by due date.
            models.Index(
                fields=["tenant", "assignee", "due_date"],
                condition=Q(status__in=["open", "in_progress"]),
                name="task_open_by_assignee",
            ),
            models.Index(fields=["tenant", "account"], name="task_account"),
            models.Index(
                fields=["tenant", "due_date"],
                condition=Q(status__in=["open", "in_progress"]),
                name="task_open_by_due",
            ),
            models.Index(fields=["tenant", "closed_at"], name="task_closed"),
            # Capacity: estimate accuracy per playbook step.
            models.Index(
                fields=["tenant", "step", "closed_at"],
                include=["logged_minutes", "estimated_minutes"],
                condition=Q(status="done", logged_minutes__gt=0, step__isnull=False),
                name="task_step_accuracy",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_snoozed(self) -> bool:
        """Moved to a later day than it was first due."""
        return self.due_date > self.original_due_date

    @property
    def is_late(self) -> bool:
        """Open and past its original due date: overdue in the leader's
        figures even when snoozed to a later day."""
        return self.is_open and self.original_due_date < timezone.localdate()

    @property
    def actions(self) -> list[str]:
        """The moves the task's status allows now (the buttons it shows)."""
        return [m.name for m in TASK_MOVES if self.status in m.sources]


class TimeEntry(TenantScopedModel):
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="time_entries")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    minutes = models.PositiveIntegerField(validators=TIME_ENTRY_MINUTES_VALIDATORS)
    logged_on = models.DateField(validators=[work_day])
    note = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["logged_on", "id"]
        indexes = [models.Index(fields=["tenant", "logged_on"], name="timeentry_day")]
