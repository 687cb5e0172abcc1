"""Task status moves, snoozing, time logging and reassignment through
work.services, each leaving its mark on the account timeline."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from csplatform.events.models import DomainEvent
from csplatform.tenancy.models import Role
from lifecycle.models import TimelineEntry
from tests import factories
from tests.conftest import make_user
from work import services
from work.errors import TaskTransitionRejected
from work.models import Playbook, PlaybookRun, PlaybookStep, RunStatus, Task, TaskStatus

pytestmark = pytest.mark.django_db

TODAY = dt.date.today


@pytest.fixture
def task(in_tenant, users):
    account = factories.account(owner=users[Role.CSM])
    return services.task_create(
        account=account,
        title="Kickoff call",
        due_date=TODAY() + dt.timedelta(days=2),
        actor=users[Role.LEADER],
        assignee=users[Role.CSM],
    )


# (action, from status, to status) for every transition of the task FSM.
TRANSITIONS = [
    ("start", TaskStatus.OPEN, TaskStatus.IN_PROGRESS),
    ("complete", TaskStatus.OPEN, TaskStatus.DONE),
    ("complete", TaskStatus.IN_PROGRESS, TaskStatus.DONE),
    ("skip", TaskStatus.OPEN, TaskStatus.SKIPPED),
    ("skip", TaskStatus.IN_PROGRESS, TaskStatus.SKIPPED),
    ("cancel", TaskStatus.OPEN, TaskStatus.CANCELLED),
    ("cancel", TaskStatus.IN_PROGRESS, TaskStatus.CANCELLED),
    ("reopen", TaskStatus.DONE, TaskStatus.OPEN),
    ("reopen", TaskStatus.SKIPPED, TaskStatus.OPEN),
    ("reopen", TaskStatus.CANCELLED, TaskStatus.OPEN),
]


@pytest.mark.parametrize(("action", "source", "target"), TRANSITIONS)
def test_every_transition_moves_the_task_and_writes_the_timeline(
    task, users, action, source, target
):
    Task.objects.filter(pk=task.pk).update(status=source)
    moved = services.task_transition(task=task, action=action, actor=users[Role.CSM])
    assert moved.status == target
    assert Task.objects.get(pk=task.pk).status == target
    assert TimelineEntry.objects.filter(account=task.account, kind=f"task_{_past(action)}").exists()
    closed = target in (TaskStatus.DONE, TaskStatus.SKIPPED, TaskStatus.CANCELLED)
    assert (Task.objects.get(pk=task.pk).closed_at is not None) == closed


def _past(action: str) -> str:
    return {"start": "started", "complete": "completed", "skip": "skipped"}.get(
        action, action + "ed" if not action.endswith("l") else action + "led"
    )


@pytest.mark.parametrize(
    ("action", "source"),
    [
        ("start", TaskStatus.IN_PROGRESS),
        ("start", TaskStatus.DONE),
        ("complete", TaskStatus.DONE),
        ("skip", TaskStatus.CANCELLED),
        ("cancel", TaskStatus.SKIPPED),
        ("reopen", TaskStatus.OPEN),
        ("reopen", TaskStatus.IN_PROGRESS),
    ],
)
def test_a_move_the_status_does_not_allow_is_rejected(task, users, action, source):
    Task.objects.filter(pk=task.pk).update(status=source)
    with pytest.raises(TaskTransitionRejected):
        services.task_transition(task=task, action=action, actor=users[Role.CSM])
    assert Task.objects.get(pk=task.pk).status == source


def test_completing_records_the_outcome_and_a_task_completed_event(task, users):
    services.task_transition(
        task=task, action="complete", actor=users[Role.CSM], outcome="Kickoff held"
    )
    assert Task.objects.get(pk=task.pk).outcome == "Kickoff held"
    event = DomainEvent.objects.get(kind="task_completed")
    assert event.account_id == task.account_id and event.payload["task_id"] == task.pk


def test_snooze_moves_the_due_date_and_keeps_the_original(task, users):
    later = TODAY() + dt.timedelta(days=9)
    services.task_snooze(task=task, until=later, actor=users[Role.CSM])
    task.refresh_from_db()
    assert task.due_date == later
    assert task.original_due_date == TODAY() + dt.timedelta(days=2)
    with pytest.raises(ValidationError) as error:
        services.task_snooze(task=task, until=TODAY(), actor=users[Role.CSM])
    assert "until" in error.value.message_dict


def test_snoozing_an_overdue_task_keeps_it_late_and_its_history_has_the_real_dates(
    in_tenant, users
):
    account = factories.account(owner=users[Role.CSM])
    first_due = TODAY() - dt.timedelta(days=4)
    late = services.task_create(
        account=account,
        title="Late call",
        due_date=first_due,
        actor=None,
        assignee=users[Role.CSM],
    )
    assert late.is_late and not late.is_snoozed
    once = TODAY() + dt.timedelta(days=3)
    twice = TODAY() + dt.timedelta(days=8)
    services.task_snooze(task=late, until=once, actor=users[Role.CSM])
    services.task_snooze(task=late, until=twice, actor=users[Role.CSM])
    late.refresh_from_db()
    assert (late.due_date, late.original_due_date) == (twice, first_due)
    assert late.is_snoozed and late.is_late
    entries = TimelineEntry.objects.filter(kind="task_snoozed").order_by("id")
    assert [e.body for e in entries] == [
        f"Snoozed until {once:%Y-%m-%d} (was due {first_due:%Y-%m-%d}), still overdue.",
        f"Snoozed until {twice:%Y-%m-%d} (was due {once:%Y-%m-%d}); "
        f"first due {first_due:%Y-%m-%d}, still overdue.",
    ]
    assert entries.last().payload["original_due"] == str(first_due)
    assert entries.last().payload["previous_due"] == str(once)


def test_time_entries_add_up(task, users):
    services.task_time_log(task=task, minutes=25, actor=users[Role.CSM])
    services.task_time_log(task=task, minutes=20, actor=users[Role.CSM], note="follow-up")
    assert Task.objects.get(pk=task.pk).logged_minutes == 45
    for bad in (0, -5, 2000, "x"):
        with pytest.raises(ValidationError) as error:
            services.task_time_log(task=task, minutes=bad, actor=users[Role.CSM])
        assert "minutes" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        services.task_time_log(
            task=task, minutes=5, actor=users[Role.CSM], logged_on=TODAY() + dt.timedelta(days=1)
        )
    assert "logged_on" in error.value.message_dict
    assert Task.objects.get(pk=task.pk).logged_minutes == 45


def test_reassign_moves_only_open_tasks_to_a_member_who_works(tenant, task, users):
    done = services.task_create(
        account=task.account, title="Old", due_date=TODAY(), actor=None, assignee=users[Role.CSM]
    )
    services.task_transition(task=done, action="complete", actor=None)
    moved = services.tasks_reassign(
        task_ids=[task.pk, done.pk], assignee_id=users[Role.LEADER].pk, actor=users[Role.LEADER]
    )
    assert [t.pk for t in moved] == [task.pk]
    assert Task.objects.get(pk=task.pk).assignee == users[Role.LEADER]
    assert Task.objects.get(pk=done.pk).assignee == users[Role.CSM]
    outsider = make_user(None)
    for who in (users[Role.VIEWER], outsider):
        with pytest.raises(ValidationError) as error:
            services.tasks_reassign(task_ids=[task.pk], assignee_id=who.pk, actor=None)
        assert "assignee_id" in error.value.message_dict  # the argument's name


def test_playbook_start_is_once_per_occurrence_and_dependent_steps_wait(in_tenant, users):
    account = factories.account(owner=users[Role.CSM])
    playbook = Playbook.objects.create(name="Kickoff")
    first = PlaybookStep.objects.create(
        playbook=playbook, position=1, title="Call", due_offset_days=3
    )
    PlaybookStep.objects.create(
        playbook=playbook, position=2, title="Recap", due_offset_days=1, depends_on=first
    )
    run, created = services.playbook_start(
        playbook=playbook, account=account, occurrence_key="stage:1", actor=None
    )
    again, created_again = services.playbook_start(
        playbook=playbook, account=account, occurrence_key="stage:1", actor=None
    )
    assert created and not created_again and again.pk == run.pk
    tasks = list(Task.objects.filter(run=run))
    assert [t.title for t in tasks] == ["Call"]
    assert tasks[0].due_date == timezone.localdate() + dt.timedelta(days=3)
    assert tasks[0].assignee == users[Role.CSM]
    services.task_transition(task=tasks[0], action="complete", actor=users[Role.CSM])
    assert sorted(Task.objects.filter(run=run).values_list("title", flat=True)) == ["Call", "Recap"]
    recap = Task.objects.get(run=run, title="Recap")
    services.task_transition(task=recap, action="complete", actor=users[Role.CSM])
    assert PlaybookRun.objects.get(pk=run.pk).status == RunStatus.COMPLETED


def test_a_run_finishing_and_resuming_is_on_the_timeline(in_tenant, users):
    account = factories.account(owner=users[Role.CSM])
    playbook = Playbook.objects.create(name="Kickoff")
    PlaybookStep.objects.create(playbook=playbook, position=1, title="Call")
    run, _ = services.playbook_start(
        playbook=playbook, account=account, occurrence_key="k", actor=None
    )
    task = Task.objects.get(run=run)
    services.task_transition(task=task, action="complete", actor=users[Role.CSM])
    services.task_transition(task=task, action="reopen", actor=users[Role.LEADER])
    entries = list(
        TimelineEntry.objects.filter(account=account, kind__startswith="playbook_")
        .order_by("pk")
        .values_list("kind", "title", "actor_id")
    )
    assert entries == [
        ("playbook_started", "Playbook started: Kickoff", None),
        ("playbook_completed", "Playbook completed: Kickoff", users[Role.CSM].pk),
        ("playbook_resumed", "Playbook resumed: Kickoff", users[Role.LEADER].pk),
    ]
    assert PlaybookRun.objects.get(pk=run.pk).status == RunStatus.ACTIVE


def test_skipping_a_step_releases_the_steps_that_wait_for_it_cancelling_does_not(in_tenant, users):
    account = factories.account(owner=users[Role.CSM])
    playbook = Playbook.objects.create(name="Kickoff")
    first = PlaybookStep.objects.create(playbook=playbook, position=1, title="Call")
    PlaybookStep.objects.create(playbook=playbook, position=2, title="Recap", depends_on=first)
    skipped, _ = services.playbook_start(
        playbook=playbook, account=account, occurrence_key="a", actor=None
    )
    services.task_transition(task=Task.objects.get(run=skipped), action="skip", actor=None)
    assert sorted(Task.objects.filter(run=skipped).values_list("title", flat=True)) == [
        "Call",
        "Recap",
    ]
    cancelled, _ = services.playbook_start(
        playbook=playbook, account=account, occurrence_key="b", actor=None
    )
    services.task_transition(task=Task.objects.get(run=cancelled), action="cancel", actor=None)
    assert list(Task.objects.filter(run=cancelled).values_list("title", flat=True)) == ["Call"]
    assert PlaybookRun.objects.get(pk=cancelled.pk).status == RunStatus.COMPLETED
