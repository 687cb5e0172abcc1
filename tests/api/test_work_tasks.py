"""The tasks API: list with filters, read, create, edit with a status move
through the FSM (409 when not allowed), every transition, time entries,
snooze, reassignment; roles (viewers read only, a CSM's session changes only
their own tasks, reassignment for leaders), other tenants' ids, bad input
named by field, and flat query counts for the lists."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Role
from lifecycle.models import TimelineEntry
from tests import factories
from tests.api.conftest import key_client, session_client
from tests.conftest import make_user, new_task
from tests.errors import error_fields
from work import services
from work.models import Playbook, PlaybookRun, Priority, Task, TaskStatus, TimeEntry

pytestmark = pytest.mark.django_db

TASKS = "/api/v1/tasks/"


def today() -> dt.date:
    return timezone.localdate()


def one(task_id: int, suffix: str = "") -> str:
    return f"{TASKS}{task_id}/{suffix}"


def test_list_filters(api, tenant, inside, account, csm, users):
    with inside():
        other = factories.account(owner=csm, name="Hooli")
        playbook = Playbook.objects.create(name="Risk")
        run = PlaybookRun.objects.create(playbook=playbook, account=other, occurrence_key="k")
        a = new_task(account, csm, today() - dt.timedelta(days=2), priority=Priority.URGENT)
        b = new_task(other, csm, today() + dt.timedelta(days=5), run=run)
        c = new_task(other, users[Role.LEADER], today())
        d = new_task(account, csm, today())
        services.task_transition(task=d, action="complete", actor=csm)

    def ids(query=""):
        response = api.get(f"{TASKS}?{query}")
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert ids() == [a.pk, c.pk, d.pk, b.pk]  # by due date, then priority
    assert ids(f"assignee={csm.pk}") == [a.pk, d.pk, b.pk]
    assert ids(f"assignee={csm.pk}&status=open,in_progress") == [a.pk, b.pk]
    assert ids("status=done&status=skipped") == [d.pk]
    assert ids(f"account={other.pk}") == [c.pk, b.pk]
    assert ids(f"playbook={playbook.pk}") == [b.pk]
    assert ids("priority=1") == [a.pk]
    assert ids(f"due_before={today().isoformat()}&due_after={today().isoformat()}") == [c.pk, d.pk]
    row = api.get(one(b.pk)).json()
    assert row["playbook"] == playbook.pk and row["playbook_name"] == "Risk"
    assert row["account_name"] == "Hooli" and row["assignee"]["id"] == csm.pk
    assert row["status"] == "open" and row["priority"] == 3

    me = session_client(csm, tenant).get(f"{TASKS}?assignee=me").json()
    assert [r["id"] for r in me["results"]] == [a.pk, d.pk, b.pk]


def test_bad_filters_are_400_by_name(api):
    response = api.get(f"{TASKS}?status=open,nope&priority=9&due_before=soon&assignee=x&account=0")
    assert response.status_code == 400
    assert set(error_fields(response)) == {
        "status",
        "priority",
        "due_before",
        "assignee",
        "account",
    }
    me = api.get(f"{TASKS}?assignee=me")
    assert me.status_code == 400 and "API key" in error_fields(me)["assignee"][0]


def test_a_create_retried_with_its_idempotency_key_creates_one_task(api, inside, account, csm):
    body = {
        "account": account.pk,
        "title": "QBR prep",
        "due_date": (today() + dt.timedelta(days=3)).isoformat(),
        "assignee": csm.pk,
    }
    first = api.post(TASKS, body, format="json", HTTP_IDEMPOTENCY_KEY="qbr-2026-11")
    again = api.post(TASKS, body, format="json", HTTP_IDEMPOTENCY_KEY="qbr-2026-11")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    other = api.post(TASKS, body, format="json", HTTP_IDEMPOTENCY_KEY="qbr-2026-12")
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    with inside():
        assert Task.objects.filter(title="QBR prep").count() == 2
        assert TimelineEntry.objects.filter(kind="task_created").count() == 2
    too_long = api.post(TASKS, body, format="json", HTTP_IDEMPOTENCY_KEY="k" * 101)
    assert too_long.status_code == 400 and "Idempotency-Key" in error_fields(too_long)


def test_create_read_and_edit(api, inside, account, csm):
    response = api.post(
        TASKS,
        {
            "account": account.pk,
            "title": "QBR prep",
            "due_date": (today() + dt.timedelta(days=3)).isoformat(),
            "assignee": csm.pk,
            "priority": 2,
            "estimated_minutes": 60,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["title"] == "QBR prep" and body["assignee"]["id"] == csm.pk
    task_id = body["id"]
    assert api.get(one(task_id)).json()["estimated_minutes"] == 60

    edited = api.patch(one(task_id), {"title": "QBR deck", "priority": 1}, format="json")
    assert edited.status_code == 200 and edited.json()["title"] == "QBR deck"
    with inside():
        assert TimelineEntry.objects.filter(kind="task_updated", payload__task_id=task_id).exists()

    bad = api.post(
        TASKS,
        {"account": 999999, "title": "", "due_date": "x", "priority": 7, "estimated_minutes": 0},
        format="json",
    )
    assert bad.status_code == 400
    assert set(error_fields(bad)) == {
        "account",
        "title",
        "due_date",
        "priority",
        "estimated_minutes",
    }
    bad_edit = api.patch(one(task_id), {"estimated_minutes": 0, "status": "lost"}, format="json")
    assert bad_edit.status_code == 400 and set(error_fields(bad_edit)) == {
        "estimated_minutes",
        "status",
    }


def test_a_viewer_cannot_assign_work_to_a_viewer(api, users, account):
    response = api.post(
        TASKS,
        {
            "account": account.pk,
            "title": "x",
            "due_date": today().isoformat(),
            "assignee": users[Role.VIEWER].pk,
        },
        format="json",
    )
    assert response.status_code == 400 and "assignee" in error_fields(response)


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
def test_every_transition_by_action_and_by_status(api, inside, task, action, source, target):
    with inside():
        Task.objects.filter(pk=task.pk).update(status=source)
    moved = api.post(one(task.pk, "transition/"), {"action": action, "outcome": "ok"})
    assert moved.status_code == 200 and moved.json()["status"] == target
    with inside():
        kinds = set(
            TimelineEntry.objects.filter(payload__task_id=task.pk).values_list("kind", flat=True)
        )
        assert any(k.startswith("task_") and k not in ("task_created",) for k in kinds)
        Task.objects.filter(pk=task.pk).update(status=source)
    patched = api.patch(one(task.pk), {"status": target, "outcome": "fine"}, format="json")
    assert patched.status_code == 200 and patched.json()["status"] == target
    with inside():
        assert Task.objects.get(pk=task.pk).status == target


@pytest.mark.parametrize(
    ("source", "action", "target"),
    [
        (TaskStatus.DONE, "complete", TaskStatus.IN_PROGRESS),
        (TaskStatus.IN_PROGRESS, "start", TaskStatus.OPEN),
        (TaskStatus.OPEN, "reopen", TaskStatus.OPEN),
    ],
)
def test_a_move_the_fsm_refuses_is_409_with_the_status(api, inside, task, source, action, target):
    with inside():
        Task.objects.filter(pk=task.pk).update(status=source)
    response = api.post(one(task.pk, "transition/"), {"action": action})
    assert response.status_code == 409
    assert response.json()["extra"]["status"] == source and "cannot" in response.json()["detail"]
    if target != source:
        patched = api.patch(one(task.pk), {"status": target}, format="json")
        assert patched.status_code == 409 and patched.json()["extra"]["status"] == source
    with inside():
        assert Task.objects.get(pk=task.pk).status == source
    bad = api.post(one(task.pk, "transition/"), {"action": "explode"})
    assert bad.status_code == 400 and "action" in error_fields(bad)


def test_patch_to_the_same_status_changes_nothing(api, task):
    response = api.patch(one(task.pk), {"status": "open"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "open"


def test_a_refused_status_move_keeps_the_edits_in_the_same_patch_out(api, inside, task, csm):
    with inside():
        services.task_transition(task=task, action="complete", actor=csm)
        entries = TimelineEntry.objects.count()
    response = api.patch(
        one(task.pk),
        {"title": "Renamed", "priority": Priority.URGENT, "status": "in_progress"},
        format="json",
    )
    assert response.status_code == 409 and response.json()["extra"]["status"] == "done"
    with inside():
        stored = Task.objects.get(pk=task.pk)
        assert (stored.title, stored.priority) == ("Kickoff call", Priority.NORMAL)
        assert TimelineEntry.objects.count() == entries


def test_time_entries(api, inside, task):
    logged = api.post(one(task.pk, "time-entries/"), {"minutes": 25, "note": "call"})
    assert logged.status_code == 201 and logged.json()["minutes"] == 25
    api.post(one(task.pk, "time-entries/"), {"minutes": 5, "logged_on": "2020-01-01"})
    listed = api.get(one(task.pk, "time-entries/")).json()
    assert [e["minutes"] for e in listed["results"]] == [5, 25]
    assert api.get(one(task.pk)).json()["logged_minutes"] == 30
    future = (today() + dt.timedelta(days=1)).isoformat()
    for body, field in [
        ({"minutes": 0}, "minutes"),
        ({"minutes": 5000}, "minutes"),
        ({}, "minutes"),
        ({"minutes": 5, "logged_on": future}, "logged_on"),
    ]:
        response = api.post(one(task.pk, "time-entries/"), body, format="json")
        assert response.status_code == 400 and field in error_fields(response), body
    with inside():
        assert TimeEntry.objects.count() == 2


def test_snooze(api, inside, task):
    later = today() + dt.timedelta(days=7)
    response = api.post(one(task.pk, "snooze/"), {"until": later.isoformat()})
    assert response.status_code == 200 and response.json()["due_date"] == later.isoformat()
    assert response.json()["original_due_date"] == today().isoformat()
    for until in (today().isoformat(), "x", ""):
        bad = api.post(one(task.pk, "snooze/"), {"until": until})
        assert bad.status_code == 400 and "until" in error_fields(bad)


def test_reassign_is_for_leaders(api, leader_api, inside, account, csm, users):
    leader = users[Role.LEADER]
    with inside():
        tasks = [new_task(account, csm) for _ in range(3)]
        services.task_transition(task=tasks[2], action="complete", actor=csm)
    body = {"task_ids": [t.pk for t in tasks], "assignee_id": leader.pk}
    assert api.post(f"{TASKS}reassign/", body, format="json").status_code == 403
    response = leader_api.post(f"{TASKS}reassign/", body, format="json")
    assert response.status_code == 200
    assert response.json() == {"reassigned": [tasks[0].pk, tasks[1].pk]}  # the done one stays
    bad = leader_api.post(
        f"{TASKS}reassign/", {"task_ids": [], "assignee_id": users[Role.VIEWER].pk}, format="json"
    )
    assert bad.status_code == 400 and "task_ids" in error_fields(bad)
    to_viewer = leader_api.post(
        f"{TASKS}reassign/",
        {"task_ids": [tasks[0].pk], "assignee_id": users[Role.VIEWER].pk},
        format="json",
    )
    assert to_viewer.status_code == 400 and "assignee_id" in error_fields(to_viewer)


def test_viewers_read_and_change_nothing(viewer_api, tenant, inside, task, account, users):
    assert viewer_api.get(TASKS).status_code == 200
    assert viewer_api.get(one(task.pk)).status_code == 200
    writes = [
        ("post", TASKS, {"account": account.pk, "title": "x", "due_date": today().isoformat()}),
        ("patch", one(task.pk), {"title": "x"}),
        ("post", one(task.pk, "transition/"), {"action": "start"}),
        ("post", one(task.pk, "time-entries/"), {"minutes": 5}),
        ("post", one(task.pk, "snooze/"), {"until": "2099-01-01"}),
        ("post", f"{TASKS}reassign/", {"task_ids": [task.pk], "assignee_id": users[Role.CSM].pk}),
    ]
    viewer_session = session_client(users[Role.VIEWER], tenant)
    for client in (viewer_api, viewer_session):
        for method, path, body in writes:
            assert getattr(client, method)(path, body, format="json").status_code == 403, path
    with inside():
        assert Task.objects.get(pk=task.pk).status == TaskStatus.OPEN
        assert Task.objects.count() == 1 and TimeEntry.objects.count() == 0


def test_a_csm_session_changes_only_own_or_unassigned_tasks_on_own_accounts(
    tenant, inside, account, csm, users
):
    with inside():
        someone = make_user(tenant, Role.CSM)
        theirs = new_task(account, someone)
        unassigned_mine = new_task(account, None)
        elsewhere = factories.account(owner=someone)
        unassigned_theirs = new_task(elsewhere, None)
    client = session_client(csm, tenant)
    for task in (theirs, unassigned_theirs):
        assert client.post(one(task.pk, "transition/"), {"action": "start"}).status_code == 403
        assert client.patch(one(task.pk), {"title": "x"}, format="json").status_code == 403
        assert client.post(one(task.pk, "time-entries/"), {"minutes": 5}).status_code == 403
        assert client.post(one(task.pk, "snooze/"), {"until": "2099-01-01"}).status_code == 403
        assert client.get(one(task.pk)).status_code == 200  # reading is fine
    assert (
        client.post(one(unassigned_mine.pk, "transition/"), {"action": "start"}).status_code == 200
    )
    for_someone = client.post(
        TASKS,
        {
            "account": account.pk,
            "title": "x",
            "due_date": today().isoformat(),
            "assignee": someone.pk,
        },
        format="json",
    )
    assert for_someone.status_code == 403
    for_me = client.post(
        TASKS,
        {
            "account": elsewhere.pk,
            "title": "x",
            "due_date": today().isoformat(),
            "assignee": csm.pk,
        },
        format="json",
    )
    assert for_me.status_code == 201
    leader = session_client(users[Role.LEADER], tenant)
    assert leader.post(one(theirs.pk, "transition/"), {"action": "start"}).status_code == 200


def test_another_tenants_tasks_are_404(other_api, tenant, inside, task, account, csm):
    assert other_api.get(one(task.pk)).status_code == 404
    assert other_api.get(TASKS).json()["count"] == 0
    assert other_api.patch(one(task.pk), {"title": "x"}, format="json").status_code == 404
    assert other_api.post(one(task.pk, "transition/"), {"action": "start"}).status_code == 404
    assert other_api.get(one(task.pk, "time-entries/")).status_code == 404
    assert other_api.post(one(task.pk, "time-entries/"), {"minutes": 5}).status_code == 404
    assert other_api.post(one(task.pk, "snooze/"), {"until": "2099-01-01"}).status_code == 404
    moved = other_api.post(
        f"{TASKS}reassign/", {"task_ids": [task.pk], "assignee_id": csm.pk}, format="json"
    )
    assert moved.status_code == 400  # our CSM is not a member there
    # Our account and user ids do not resolve in the other tenant.
    made = other_api.post(
        TASKS,
        {"account": account.pk, "title": "x", "due_date": today().isoformat(), "assignee": csm.pk},
        format="json",
    )
    assert made.status_code == 400 and set(error_fields(made)) == {"account", "assignee"}
    with inside():
        assert Task.objects.get(pk=task.pk).status == TaskStatus.OPEN


def _count_queries(client, path) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200
    return len(ctx.captured_queries), len(response.json()["results"])


def test_lists_cost_the_same_queries_for_3_and_30_rows(tenant, inside):
    counts = {}
    for n in (3, 30):
        with inside():
            owner = make_user(tenant, Role.CSM)
            acct = factories.account(owner=owner)
            playbook = Playbook.objects.create(name=f"P{n}")
            run = PlaybookRun.objects.create(playbook=playbook, account=acct, occurrence_key="k")
            tasks = [
                new_task(acct, make_user(tenant, Role.CSM), run=run if i % 2 else None)
                for i in range(n)
            ]
            for _ in range(n):
                services.task_time_log(task=tasks[0], minutes=5, actor=make_user(tenant, Role.CSM))
        client = key_client(tenant, Role.CSM)
        counts[n] = (
            _count_queries(client, f"{TASKS}?account={acct.pk}"),
            _count_queries(client, one(tasks[0].pk, "time-entries/")),
        )
    (list3, rows3), (entries3, erows3) = counts[3]
    (list30, rows30), (entries30, erows30) = counts[30]
    assert (rows3, rows30, erows3, erows30) == (3, 30, 3, 30)
    assert list3 == list30 and entries3 == entries30


def test_the_schema_documents_the_tasks_api(client):
    schema = client.get("/api/schema/").content.decode()
    for path in ("/api/v1/tasks/", "/api/v1/tasks/{id}/transition/", "/api/v1/tasks/reassign/"):
        assert path in schema


@pytest.fixture
def other_task(other_tenant):
    with tenant_context(other_tenant):
        owner = make_user(other_tenant, Role.CSM)
        return new_task(factories.account(owner=owner), owner)


def test_our_keys_do_not_see_another_tenants_task(api, other_task):
    assert api.get(one(other_task.pk)).status_code == 404
    assert api.post(one(other_task.pk, "transition/"), {"action": "start"}).status_code == 404
