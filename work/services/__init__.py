"""Every change to work management goes through these functions. Each runs in
a transaction, writes the account timeline in it and records domain events
that are dispatched after commit. Callers import from `work.services`."""

from work.services.assignment import step_assignee
from work.services.capacity import step_estimate_set
from work.services.playbooks import playbook_run_advance, playbook_start
from work.services.tasks import (
    TASK_ACTIONS,
    assignable_user,
    task_create,
    task_outcome_set,
    task_snooze,
    task_time_log,
    task_transition,
    task_update,
    tasks_reassign,
)

__all__ = [
    "TASK_ACTIONS",
    "assignable_user",
    "playbook_run_advance",
    "playbook_start",
    "step_assignee",
    "step_estimate_set",
    "task_create",
    "task_outcome_set",
    "task_snooze",
    "task_time_log",
    "task_transition",
    "task_update",
    "tasks_reassign",
]
