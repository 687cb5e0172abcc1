"""Reads that pages and the API share; callers import from `work.selectors`,
the modules below only split it by concern."""

from work.selectors.capacity import (
    CapacityReport,
    CsmCapacity,
    PastWeek,
    StepAccuracy,
    Suggestion,
    WeekLoad,
    capacity_plan,
    capacity_report,
    estimate_accuracy,
    rebalance_suggestions,
    unplanned_share_percent,
)
from work.selectors.people import csm_group_list, skill_list, team_profiles, working_members
from work.selectors.playbooks import (
    account_active_runs,
    account_open_tasks,
    playbook_list,
    playbook_list_with_steps,
    playbook_runs,
    playbook_steps,
    run_with_tasks,
    step_values,
)
from work.selectors.queue import *  # noqa: F403  (the CSM's queue; listed in its __all__)
from work.selectors.rules import rule_firings, rule_list, rule_names, rule_summary

__all__ = [
    "CapacityReport",
    "CsmCapacity",
    "PastWeek",
    "StepAccuracy",
    "Suggestion",
    "WeekLoad",
    "account_active_runs",
    "account_open_tasks",
    "capacity_plan",
    "capacity_report",
    "csm_group_list",
    "estimate_accuracy",
    "playbook_list",
    "playbook_list_with_steps",
    "playbook_runs",
    "playbook_steps",
    "rebalance_suggestions",
    "rule_firings",
    "rule_list",
    "rule_names",
    "rule_summary",
    "run_with_tasks",
    "skill_list",
    "step_values",
    "team_profiles",
    "unplanned_share_percent",
    "working_members",
]
