"""Who gets a playbook step's task, decided when the task is created."""

from __future__ import annotations

import datetime as dt

from csplatform.tenancy.models import User
from lifecycle.models import Account
from work.models import AssigneeRule, PlaybookStep


def step_assignee(*, step: PlaybookStep, account: Account, due_date: dt.date) -> User | None:
    """The assignee of `step`'s task on `account` due on `due_date`."""
    if step.assignee_rule == AssigneeRule.USER and step.assignee_user_id:
        return step.assignee_user
    # TODO(issue 5): least-loaded with skill and capacity, round-robin, out of office.
    return account.owner
