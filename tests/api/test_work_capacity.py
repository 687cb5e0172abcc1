"""GET /api/v1/capacity/: the page's figures as JSON, for leaders and admins
only, never another tenant's, at a flat query count."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Role
from tests import factories
from tests.api.conftest import key_client, session_client
from tests.conftest import make_user
from tests.work.capacity_data import UTC, busy_team, member, task
from work.models import Playbook, PlaybookStep, TaskStatus

pytestmark = pytest.mark.django_db

URL = "/api/v1/capacity/"


@pytest.fixture
def plan(inside, tenant):
    """Olga (20 h) is over this week by 25 h of tasks + 4 h; Pete has room."""
    today = timezone.localdate()
    with inside():
        acct = factories.account(name="Initech")
        olga = member(tenant, "Olga", hours=20)
        pete = member(tenant, "Pete", hours=40)
        big = task(acct, olga, today, 900, priority=4, title="Data migration")
        task(acct, olga, today, 600, title="Training")
        task(acct, olga, today - dt.timedelta(days=7), 1, title="Old follow-up")
        step = PlaybookStep.objects.create(
            playbook=Playbook.objects.create(name="Onboarding"),
            title="Kickoff",
            estimated_minutes=60,
        )
        closed = dt.datetime.combine(today - dt.timedelta(days=3), dt.time(12), tzinfo=UTC)
        for _ in range(3):
            task(
                acct,
                pete,
                today,
                60,
                step=step,
                logged=90,
                status=TaskStatus.DONE,
                closed_at=closed,
            )
    return {"olga": olga, "pete": pete, "big": big, "step": step}


def test_a_leader_key_reads_the_figures(tenant, plan):
    response = key_client(tenant, Role.LEADER).get(URL)
    assert response.status_code == 200
    body = response.json()
    monday = timezone.localdate() - dt.timedelta(days=timezone.localdate().weekday())
    assert body["weeks"][0] == monday.isoformat() and len(body["weeks"]) == 6
    assert len(body["past_weeks"]) == 4
    assert body["unplanned_share_percent"] == 20 and body["overdue"] == 1
    olga, pete = body["members"]
    assert (olga["name"], olga["user"], olga["overdue"]) == ("Olga", plan["olga"].pk, 1)
    week = olga["weeks"][0]
    assert week["capacity_hours"] == "20.0" and week["load_hours"] == "29.0"
    assert week["task_minutes"] == 1501 and week["over"] is True and week["utilization"] == 145
    assert pete["weeks"][0]["load_hours"] == "8.0" and pete["weeks"][0]["over"] is False
    assert body["team"][0]["capacity_hours"] == "60.0"
    (move,) = body["suggestions"]
    assert (move["task"], move["from_user"], move["to_user"], move["minutes"]) == (
        plan["big"].pk,
        plan["olga"].pk,
        plan["pete"].pk,
        900,
    )
    (step,) = body["accuracy"]
    assert step["step"] == plan["step"].pk and step["samples"] == 3
    assert step["median_ratio"] == 1.5 and step["suggested_estimate"] == 90 and step["reliable"]


def test_a_signed_in_admin_reads_it_too(tenant, users, plan):
    assert session_client(users[Role.ADMIN], tenant).get(URL).status_code == 200


@pytest.mark.parametrize("role", [Role.CSM, Role.VIEWER])
def test_csm_and_viewer_keys_are_refused(tenant, plan, role):
    assert key_client(tenant, role).get(URL).status_code == 403


def test_writes_are_not_offered(tenant, plan):
    assert key_client(tenant, Role.ADMIN).post(URL, {}).status_code == 405


def test_another_tenant_sees_only_its_own(other_api, plan, other_tenant):
    with tenant_context(other_tenant):
        member(other_tenant, "Their CSM", hours=10)
    body = other_api.get(URL).json()
    assert [m["name"] for m in body["members"]] == ["Their CSM"]
    assert body["suggestions"] == [] and body["accuracy"] == []
    assert body["overdue"] == 0


def test_a_leader_of_another_tenant_cannot_ask_for_ours(tenant, other_tenant, plan):
    stranger = make_user(other_tenant, Role.LEADER)
    assert session_client(stranger, tenant).get(URL).status_code == 401


# Key lookup, tenant context, last-used stamp and savepoints (10), then the
# nine statements of the report.
QUERIES = 19


@pytest.mark.parametrize(("csms", "tasks"), [(3, 30), (30, 30), (3, 300), (30, 300)])
def test_the_query_count_does_not_grow(
    csms, tasks, tenant, inside, django_assert_num_queries, leader_api
):
    with inside():
        busy_team(tenant, factories.account(), csms=csms, tasks=tasks)
    with django_assert_num_queries(QUERIES):
        response = leader_api.get(URL)
    assert response.status_code == 200
    assert len(response.json()["members"]) == csms
    assert response.json()["suggestions"]
