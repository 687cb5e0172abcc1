"""The task FSM is one table (work.models.TASK_MOVES): the model's
transitions, the API's status -> action map and the buttons a task shows
all come from it."""

from __future__ import annotations

import pytest

from tests.work.test_task_services import TRANSITIONS
from work.api.tasks import ACTION_FOR_STATUS
from work.models import TASK_MOVES, Task, TaskStatus
from work.services import TASK_ACTIONS


def test_the_task_machine_is_exactly_the_documented_moves():
    moves = {(t.name, t.source, t.target) for t in Task().get_all_status_transitions()}
    assert moves == set(TRANSITIONS)
    assert list(TASK_ACTIONS) == [m.name for m in TASK_MOVES]


def test_each_status_is_reached_by_one_move():
    assert ACTION_FOR_STATUS == {
        TaskStatus.IN_PROGRESS: "start",
        TaskStatus.DONE: "complete",
        TaskStatus.SKIPPED: "skip",
        TaskStatus.CANCELLED: "cancel",
        TaskStatus.OPEN: "reopen",
    }


@pytest.mark.parametrize(
    ("status", "actions"),
    [
        (TaskStatus.OPEN, ["start", "complete", "skip", "cancel"]),
        (TaskStatus.IN_PROGRESS, ["complete", "skip", "cancel"]),
        (TaskStatus.DONE, ["reopen"]),
        (TaskStatus.SKIPPED, ["reopen"]),
        (TaskStatus.CANCELLED, ["reopen"]),
    ],
)
def test_a_task_offers_the_moves_its_status_allows(status, actions):
    task = Task(status=status)
    assert task.actions == actions
    assert task.is_open == (status in (TaskStatus.OPEN, TaskStatus.IN_PROGRESS))
