"""Reads that pages and the API share; callers import from `work.selectors`,
the modules below only split it by concern."""

from work.selectors.people import csm_group_list, skill_list, team_profiles, working_members
from work.selectors.playbooks import (
    account_active_runs,
    account_open_tasks,
    playbook_list,
    playbook_list_with_steps,
    playbook_runs,
    playbook_steps,
    run_with_tasks,
)
from work.selectors.queue import *  # noqa: F403  (the CSM's queue; listed in its __all__)
from work.selectors.rules import rule_firings, rule_list, rule_names, rule_summary

__all__ = [
    "account_active_runs",
    "account_open_tasks",
    "csm_group_list",
    "playbook_list",
    "playbook_list_with_steps",
    "playbook_runs",
    "playbook_steps",
    "rule_firings",
    "rule_list",
    "rule_names",
    "rule_summary",
    "run_with_tasks",
    "skill_list",
    "team_profiles",
    "working_members",
]
