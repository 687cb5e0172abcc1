"""The task page offers exactly the moves the task's status allows, read
from the one table of task moves (work.models.TASK_MOVES)."""

from __future__ import annotations

import datetime as dt

import pytest

from csplatform.tenancy.models import Role
from tests import factories
from tests.pages.conftest import url
from work import services
from work.models import Task, TaskStatus

pytestmark = pytest.mark.django_db

MOVES = ["start", "complete", "skip", "cancel", "reopen"]


@pytest.mark.parametrize(
    ("status", "offered"),
    [
        (TaskStatus.OPEN, {"start", "complete", "skip", "cancel"}),
        (TaskStatus.IN_PROGRESS, {"complete", "skip", "cancel"}),
        (TaskStatus.DONE, {"reopen"}),
        (TaskStatus.CANCELLED, {"reopen"}),
    ],
)
def test_the_task_page_offers_the_moves_its_status_allows(
    page, tenant, inside, users, status, offered
):
    with inside():
        csm = users[Role.CSM]
        task = services.task_create(
            account=factories.account(owner=csm),
            title="Kickoff call",
            due_date=dt.date.today(),
            actor=None,
            assignee=csm,
        )
        Task.objects.filter(pk=task.pk).update(status=status)
    html = page(Role.CSM).get(url("work_task", tenant, task.pk)).content.decode()
    shown = {move for move in MOVES if f'name="action" value="{move}"' in html}
    assert shown == offered
