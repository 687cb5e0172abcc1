"""Work management: who does the work (CSM profiles, skills, groups), what the
work is (playbooks and their steps, tasks, time logged), and the automation
rules that start it."""

from work.models.people import (
    CsmGroup,
    CsmGroupMember,
    CsmProfile,
    OutOfOffice,
    Skill,
    WorkSettings,
)
from work.models.playbooks import AssigneeRule, Playbook, PlaybookRun, PlaybookStep, RunStatus
from work.models.rules import (
    ActionRun,
    ActionStatus,
    FiringStatus,
    Rule,
    RuleAction,
    RuleFiring,
    Trigger,
)
from work.models.tasks import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    TASK_ACTIONS,
    TASK_MOVES,
    Priority,
    Task,
    TaskStatus,
    TimeEntry,
)

__all__ = [
    "CLOSED_STATUSES",
    "OPEN_STATUSES",
    "TASK_ACTIONS",
    "TASK_MOVES",
    "ActionRun",
    "ActionStatus",
    "AssigneeRule",
    "CsmGroup",
    "CsmGroupMember",
    "CsmProfile",
    "FiringStatus",
    "OutOfOffice",
    "Playbook",
    "PlaybookRun",
    "PlaybookStep",
    "Priority",
    "Rule",
    "RuleAction",
    "RuleFiring",
    "RunStatus",
    "Skill",
    "Task",
    "TaskStatus",
    "TimeEntry",
    "Trigger",
    "WorkSettings",
]
