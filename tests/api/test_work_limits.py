"""The tasks API takes its limits from the model fields: a due date, a
snooze or a time entry's day outside 2000-01-01 .. five years ahead is a
400 at that field, and a bulk reassignment naming a task that is not this
tenant's is a 400 at `task_ids` naming it, with nothing moved. Field errors
are read with tests.errors.error_fields, the core's one error body."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Role
from tests import factories
from tests.conftest import make_user
from tests.errors import error_fields
from work import services
from work.models import Task, TimeEntry
from work.models.limits import latest_day

pytestmark = pytest.mark.django_db

TASKS = "/api/v1/tasks/"


@pytest.fixture
def task(inside, users):
    with inside():
        account = factories.account(owner=users[Role.CSM])
        return services.task_create(
            account=account,
            title="Kickoff",
            due_date=timezone.localdate(),
            actor=None,
            assignee=users[Role.CSM],
        )


def test_days_out_of_bounds_are_400_at_their_field(leader_api, inside, task):
    too_far = (latest_day() + dt.timedelta(days=1)).isoformat()
    created = leader_api.post(
        TASKS,
        {"account": task.account_id, "title": "x", "due_date": "1999-12-31"},
        format="json",
    )
    snoozed = leader_api.post(f"{TASKS}{task.pk}/snooze/", {"until": too_far}, format="json")
    logged = leader_api.post(
        f"{TASKS}{task.pk}/time-entries/",
        {"minutes": 5, "logged_on": "1999-12-31"},
        format="json",
    )
    for response in (created, snoozed, logged):
        assert response.status_code == 400
    with inside():
        assert Task.objects.count() == 1 and TimeEntry.objects.count() == 0
        assert Task.objects.get().due_date == timezone.localdate()
    assert "due_date" in error_fields(created)  # these wait for the core's error handler
    assert "until" in error_fields(snoozed)
    assert "logged_on" in error_fields(logged)


def test_reassigning_a_task_that_is_not_ours_is_400_and_moves_nothing(
    leader_api, inside, tenant, other_tenant, task, users
):
    with tenant_context(other_tenant):
        theirs = services.task_create(
            account=factories.account(),
            title="Theirs",
            due_date=timezone.localdate(),
            actor=None,
            assignee=make_user(other_tenant),
        )
    res = leader_api.post(
        f"{TASKS}reassign/",
        {"task_ids": [task.pk, theirs.pk, 2**62], "assignee_id": users[Role.LEADER].pk},
        format="json",
    )
    assert res.status_code == 400
    with inside():
        assert Task.objects.get(pk=task.pk).assignee == users[Role.CSM]
    assert error_fields(res)["task_ids"] == [
        f"No such task in this workspace: {theirs.pk}, {2**62}."
    ]


def test_an_id_past_a_bigint_is_400_not_a_database_error(leader_api, users):
    res = leader_api.post(
        f"{TASKS}reassign/",
        {"task_ids": [2**70], "assignee_id": users[Role.LEADER].pk},
        format="json",
    )
    assert res.status_code == 400
