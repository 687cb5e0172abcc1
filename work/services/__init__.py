"""Every change to work management goes through these functions. Each runs in
a transaction, writes the account timeline in it and records domain events
that are dispatched after commit. Callers import from `work.services`."""

from work.services.assignment import least_loaded_user, step_assignee, step_assignment
from work.services.defaults import work_defaults_ensure
from work.services.people import (
    csm_group_delete,
    csm_group_save,
    csm_profile_ensure,
    csm_profile_update,
    csm_profiles_ensure,
    out_of_office_add,
    out_of_office_remove,
    skill_delete,
    skill_save,
    work_settings_get,
    work_settings_update,
)
from work.services.playbooks import (
    playbook_delete,
    playbook_run_advance,
    playbook_run_cancel,
    playbook_save,
    playbook_start,
    playbook_step_delete,
    playbook_step_estimate_set,
    playbook_step_save,
)
from work.services.tasks import (
    TASK_ACTIONS,
    assignable_user,
    task_create,
    task_create_once,
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
    "csm_group_delete",
    "csm_group_save",
    "csm_profile_ensure",
    "csm_profile_update",
    "csm_profiles_ensure",
    "least_loaded_user",
    "out_of_office_add",
    "out_of_office_remove",
    "playbook_delete",
    "playbook_run_advance",
    "playbook_run_cancel",
    "playbook_save",
    "playbook_start",
    "playbook_step_delete",
    "playbook_step_estimate_set",
    "playbook_step_save",
    "skill_delete",
    "skill_save",
    "step_assignee",
    "step_assignment",
    "task_create",
    "task_create_once",
    "task_outcome_set",
    "task_snooze",
    "task_time_log",
    "task_transition",
    "task_update",
    "tasks_reassign",
    "work_defaults_ensure",
    "work_settings_get",
    "work_settings_update",
]
