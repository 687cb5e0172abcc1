"""The capacity page: what a leader sees, who may see and change it, the
rebalance and estimate buttons, bad input, another tenant's ids, and a query
count that does not grow with CSMs or tasks."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Role
from tests import factories
from tests.conftest import make_user
from tests.pages.conftest import signed_in, text, url
from tests.work.capacity_data import UTC, busy_team, member, task, time_entry
from work.models import Playbook, PlaybookStep, Task, TaskStatus

pytestmark = pytest.mark.django_db


def _monday() -> dt.date:
    today = timezone.localdate()
    return today - dt.timedelta(days=today.weekday())


@pytest.fixture
def plan(inside, tenant):
    """Olga (20 h) is over this week: 1500 min (25 h) + 4 h unplanned; Pete
    (40 h) has room; an onboarding step with three logged tasks (90 min each
    against 60)."""
    today = timezone.localdate()
    with inside():
        acct = factories.account(name="Initech")
        olga = member(tenant, "Olga", hours=20, skills=("onboarding",))
        pete = member(tenant, "Pete", hours=40, skills=("onboarding",))
        big = task(acct, olga, today, 900, priority=4, title="Data migration")
        small = task(acct, olga, today, 600, priority=3, title="Training")
        late = task(acct, olga, today - dt.timedelta(days=7), 1, title="Old follow-up")
        step = PlaybookStep.objects.create(
            playbook=Playbook.objects.create(name="Onboarding"),
            title="Kickoff call",
            estimated_minutes=60,
        )
        # last week: planned and done, 45 min logged
        friday = _monday() - dt.timedelta(days=3)
        done = task(
            acct,
            olga,
            friday,
            30,
            status=TaskStatus.DONE,
            closed_at=dt.datetime.combine(friday, dt.time(12), tzinfo=UTC),
        )
        time_entry(done, olga, friday, 45)
        # before the last four weeks, inside the 180 days of estimate accuracy
        closed = dt.datetime.combine(_monday() - dt.timedelta(days=40), dt.time(12), tzinfo=UTC)
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
    return {"olga": olga, "pete": pete, "big": big, "small": small, "late": late, "step": step}


def test_a_leader_sees_load_overdue_suggestions_and_accuracy(page, tenant, plan):
    response = page(Role.LEADER).get(url("work_capacity", tenant))
    assert response.status_code == 200
    html = response.content.decode()
    olga, pete = plan["olga"].pk, plan["pete"].pk
    # 900 + 600 + 1 min = 25.0 h of tasks + 4 h unplanned, of 20 h: 145 %
    assert text(html, f"load-{olga}-0").startswith("29 / 20 h 145 % · over")
    assert text(html, f"load-{pete}-0").startswith("8 / 40 h 20 %")
    assert text(html, f"overdue-{olga}") == "1"
    assert text(html, "overdue-total") == "1"
    # the low-priority 900 min task goes to Pete; Olga is then under
    move = text(html, f"move-{plan['big'].pk}")
    assert "Data migration Initech Low" in move and "900 Olga Pete Apply" in move
    assert f'id="move-{plan["small"].pk}"' not in html
    step = text(html, f"step-{plan['step'].pk}")
    assert "Onboarding · Kickoff call 3 1.50\u00d7 90 min 60 min Use 90 min" in step
    # last week: the 30 min task done on Friday and the 1 min one still open (31 min)
    assert text(html, f"past-{olga}-3") == "planned 2 · 0.5 h done 1 · 0.5 h logged 0.8 h"
    assert text(html, "past-team-3") == "planned 2 · 0.5 h done 1 · 0.5 h logged 0.8 h"
    assert "How this is computed" in html
    assert html.count("<svg") == 3  # the team and one per member


def test_the_nav_links_the_page_for_leaders_only(page, tenant):
    assert "Capacity</a>" in page(Role.LEADER).get(url("accounts", tenant)).content.decode()
    assert "Capacity</a>" not in page(Role.CSM).get(url("accounts", tenant)).content.decode()


@pytest.mark.parametrize("role", [Role.LEADER, Role.ADMIN])
def test_leaders_and_admins_may_open_it(page, tenant, plan, role):
    assert page(role).get(url("work_capacity", tenant)).status_code == 200


@pytest.mark.parametrize("role", [Role.CSM, Role.VIEWER])
def test_csms_and_viewers_are_refused_and_change_nothing(page, tenant, inside, plan, role):
    client = page(role)
    assert client.get(url("work_capacity", tenant)).status_code == 403
    move = f"{plan['big'].pk}:{plan['pete'].pk}"
    assert client.post(url("work_capacity_rebalance", tenant), {"move": move}).status_code == 403
    estimate = url("work_capacity_step_estimate", tenant, plan["step"].pk)
    assert client.post(estimate, {"estimated_minutes": "90"}).status_code == 403
    with inside():
        assert Task.objects.get(pk=plan["big"].pk).assignee_id == plan["olga"].pk
        assert PlaybookStep.objects.get(pk=plan["step"].pk).estimated_minutes == 60


def test_apply_one_suggestion(page, tenant, inside, plan):
    client = page(Role.LEADER)
    move = f"{plan['big'].pk}:{plan['pete'].pk}"
    response = client.post(url("work_capacity_rebalance", tenant), {"move": move})
    assert response.status_code == 302
    with inside():
        assert Task.objects.get(pk=plan["big"].pk).assignee_id == plan["pete"].pk
        assert Task.objects.get(pk=plan["small"].pk).assignee_id == plan["olga"].pk
    html = client.get(response.url).content.decode()
    assert "Moved 1 task." in html
    # Olga is now under: 10 h + 4 h of 20 h, nothing left to suggest
    assert text(html, f"load-{plan['olga'].pk}-0").startswith("14 / 20 h 70 %")
    assert "Nothing to move" in html


def test_apply_all_moves_every_posted_task_at_once(page, tenant, inside, plan):
    moves = [f"{plan[name].pk}:{plan['pete'].pk}" for name in ("big", "small", "late")]
    response = page(Role.LEADER).post(url("work_capacity_rebalance", tenant), {"move": moves})
    assert response.status_code == 302
    with inside():
        owners = set(
            Task.objects.filter(pk__in=[plan[n].pk for n in ("big", "small", "late")]).values_list(
                "assignee_id", flat=True
            )
        )
    assert owners == {plan["pete"].pk}


@pytest.mark.parametrize("moves", [[], ["abc"], ["12"], ["1:x"]])
def test_a_malformed_move_is_422_with_the_reason(page, tenant, plan, moves):
    response = page(Role.LEADER).post(url("work_capacity_rebalance", tenant), {"move": moves})
    assert response.status_code == 422
    assert text(response.content.decode(), "move-errors")


def test_a_move_to_someone_who_cannot_take_work_is_422_and_moves_nothing(
    page, tenant, inside, users, plan
):
    moves = [
        f"{plan['small'].pk}:{plan['pete'].pk}",
        f"{plan['big'].pk}:{users[Role.VIEWER].pk}",
    ]
    response = page(Role.LEADER).post(url("work_capacity_rebalance", tenant), {"move": moves})
    assert response.status_code == 422
    assert "Choose a CSM, leader or admin" in text(response.content.decode(), "move-errors")
    with inside():
        assert Task.objects.get(pk=plan["small"].pk).assignee_id == plan["olga"].pk
        assert Task.objects.get(pk=plan["big"].pk).assignee_id == plan["olga"].pk


def test_the_use_estimate_button_sets_the_step_estimate(page, tenant, inside, plan):
    client = page(Role.LEADER)
    estimate = url("work_capacity_step_estimate", tenant, plan["step"].pk)
    response = client.post(estimate, {"estimated_minutes": "90"})
    assert response.status_code == 302
    with inside():
        assert PlaybookStep.objects.get(pk=plan["step"].pk).estimated_minutes == 90
    html = client.get(response.url).content.decode()
    assert "is now estimated at 90 min" in html
    assert "on target" in text(html, f"step-{plan['step'].pk}")


@pytest.mark.parametrize("value", ["0", "10001", "abc", ""])
def test_a_bad_estimate_is_422_with_the_reason(page, tenant, inside, plan, value):
    estimate = url("work_capacity_step_estimate", tenant, plan["step"].pk)
    response = page(Role.LEADER).post(estimate, {"estimated_minutes": value})
    assert response.status_code == 422
    assert "minutes" in text(response.content.decode(), "estimate-errors")
    with inside():
        assert PlaybookStep.objects.get(pk=plan["step"].pk).estimated_minutes == 60


@pytest.fixture
def theirs(other_tenant):
    with tenant_context(other_tenant):
        acct = factories.account(name="Globex Secret")
        who = member(other_tenant, "Their CSM", hours=10)
        their_task = task(acct, who, timezone.localdate(), 6000, title="Their secret task")
        step = PlaybookStep.objects.create(
            playbook=Playbook.objects.create(name="Theirs"), title="Their step"
        )
    return {"user": who, "task": their_task, "step": step}


def test_another_tenants_ids_are_refused_and_their_people_never_show(
    page, tenant, other_tenant, inside, plan, theirs
):
    client = page(Role.LEADER)
    html = client.get(url("work_capacity", tenant)).content.decode()
    assert "Their CSM" not in html and "Their secret task" not in html
    # Their task's id inside the form is a 422 naming it, never a silent skip.
    their_move = f"{theirs['task'].pk}:{plan['pete'].pk}"
    response = client.post(url("work_capacity_rebalance", tenant), {"move": their_move})
    assert response.status_code == 422
    assert f"No such task in this workspace: {theirs['task'].pk}." in text(
        response.content.decode(), "move-errors"
    )
    mixed = [f"{plan['big'].pk}:{plan['pete'].pk}", their_move]
    assert client.post(url("work_capacity_rebalance", tenant), {"move": mixed}).status_code == 422
    estimate = url("work_capacity_step_estimate", tenant, theirs["step"].pk)
    assert client.post(estimate, {"estimated_minutes": "5"}).status_code == 404
    # their person is not a member here: refused with a reason
    to_them = f"{plan['big'].pk}:{theirs['user'].pk}"
    assert client.post(url("work_capacity_rebalance", tenant), {"move": to_them}).status_code == 422
    with inside():
        assert Task.objects.get(pk=plan["big"].pk).assignee_id == plan["olga"].pk
    with tenant_context(other_tenant):
        assert Task.objects.get(pk=theirs["task"].pk).assignee_id == theirs["user"].pk
        assert PlaybookStep.objects.get(pk=theirs["step"].pk).estimated_minutes == 30
    # and a leader of theirs cannot open ours
    stranger = make_user(other_tenant, Role.LEADER)
    assert signed_in(stranger).get(url("work_capacity", tenant)).status_code == 404


# The shell: session, user, the membership lookups and the tenant context with
# their savepoints (18, as on every tenant page); the report: settings,
# members, absences, open load, planned, completed and logged in the last four
# weeks, estimate accuracy and rebalance candidates (9); the nav's task count (1);
# saving the session (1).
QUERIES = 29


@pytest.mark.parametrize(("csms", "tasks"), [(3, 30), (30, 30), (3, 300), (30, 300)])
def test_the_page_costs_the_same_queries_whatever_the_csms_and_tasks(
    csms, tasks, page, tenant, inside, django_assert_num_queries
):
    with inside():
        people = busy_team(tenant, factories.account(), csms=csms, tasks=tasks)
    client = page(Role.LEADER)
    with django_assert_num_queries(QUERIES):
        response = client.get(url("work_capacity", tenant))
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('id="csm-') == csms
    assert f'id="load-{people[0].pk}-0"' in html and "· over" in html
    assert 'id="move-' in html  # the rebalance query ran
    assert 'id="step-' in html
