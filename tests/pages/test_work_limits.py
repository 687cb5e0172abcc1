"""The queue's forms take their limits from the model: a new task due
outside 2000-01-01 .. five years ahead is a 422 at its due date, and a
bulk reassignment with a task id that is not this tenant's is a 422
naming it, with nothing moved."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Role
from tests import factories
from tests.conftest import make_user
from tests.pages.conftest import url
from work import services
from work.models import Task
from work.models.limits import latest_day

pytestmark = pytest.mark.django_db


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


def test_a_new_task_due_too_far_ahead_is_422_at_its_due_date(page, tenant, inside, task):
    too_far = latest_day() + dt.timedelta(days=1)
    response = page(Role.CSM).post(
        url("work_task_new", tenant),
        {
            "account": task.account_id,
            "title": "Far away",
            "due_date": too_far.isoformat(),
            "priority": "3",
            "estimated_minutes": "30",
        },
    )
    assert response.status_code == 422
    assert f"Choose a day from 2000-01-01 to {latest_day():%Y-%m-%d}." in response.content.decode()
    with inside():
        assert not Task.objects.filter(title="Far away").exists()


def test_bulk_reassigning_another_tenants_task_is_422_and_moves_nothing(
    page, tenant, other_tenant, inside, task, users
):
    with tenant_context(other_tenant):
        theirs = services.task_create(
            account=factories.account(),
            title="Theirs",
            due_date=timezone.localdate(),
            actor=None,
            assignee=make_user(other_tenant),
        )
    response = page(Role.LEADER).post(
        url("work_tasks_reassign", tenant),
        {"task_ids": [task.pk, theirs.pk], "assignee": users[Role.LEADER].pk},
    )
    assert response.status_code == 422
    assert f"No such task in this workspace: {theirs.pk}." in response.content.decode()
    with inside():
        assert Task.objects.get(pk=task.pk).assignee == users[Role.CSM]
