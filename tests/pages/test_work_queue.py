"""The CSM's queue page and the task page: buckets around today's ISO week,
every action in place through htmx (row back, database changed, timeline
written), 422 and 409 answers in the row, roles (viewers have no queue, a CSM
acts on their own tasks, leaders open anyone's queue and reassign), another
tenant's ids 404, flat query counts, and the count in the navigation."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Role
from health.models import Band, HealthScore
from lifecycle.models import TimelineEntry
from tests import factories
from tests.conftest import make_user, new_task
from tests.pages.conftest import HTMX, url
from work import selectors, services
from work.models import Playbook, PlaybookRun, PlaybookStep, Priority, Task, TaskStatus, TimeEntry

pytestmark = pytest.mark.django_db


def today() -> dt.date:
    return timezone.localdate()


def due_in(bucket: str) -> dt.date | None:
    """A due date in the bucket by the queue's rule (None: the bucket is
    empty today, as "this week" is on a Sunday)."""
    t, end = today(), selectors.week_end(today())
    return {
        "overdue": t - dt.timedelta(days=3),
        "today": t,
        "week": t + dt.timedelta(days=1) if end > t else None,
        "later": end + dt.timedelta(days=2),
    }[bucket]


def bucket_html(html: str, key: str) -> str:
    start = html.index(f'id="bucket-{key}"')
    end = html.find("</section>", start)
    return html[start:end]


def ids_in(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<article[^>]*id="task-(\d+)"', html)]


def post(client, name, tenant, task_id, data, *, htmx=True):
    return client.post(url(name, tenant, task_id), data, **(HTMX if htmx else {}))


# -- the page ------------------------------------------------------------------


def test_the_queue_shows_my_open_tasks_in_buckets_by_priority_then_due(
    page, tenant, inside, account, csm, users
):
    with inside():
        playbook = Playbook.objects.create(name="Onboarding")
        run = PlaybookRun.objects.create(playbook=playbook, account=account, occurrence_key="k")
        expected = {}
        for key in ("overdue", "today", "week", "later"):
            due = due_in(key)
            if due is None:
                expected[key] = []
                continue
            low = new_task(account, csm, due, title=f"{key} low", priority=Priority.LOW)
            urgent = new_task(
                account,
                csm,
                due + dt.timedelta(days=1) if key == "later" else due,
                title=f"{key} urgent",
                priority=Priority.URGENT,
                run=run,
                estimated_minutes=45,
            )
            expected[key] = [urgent.pk, low.pk]
        mine_done = new_task(account, csm, today(), title="finished")
        services.task_transition(task=mine_done, action="complete", actor=csm)
        theirs = new_task(account, users[Role.LEADER], today(), title="not mine")
    with inside():  # after the re-scoring that the completion above asked for
        HealthScore.objects.update_or_create(
            account=account, defaults={"score": 30, "band": Band.RED}
        )

    response = page(Role.CSM).get(url("work_queue", tenant))
    html = response.content.decode()
    assert response.status_code == 200
    for key, ids in expected.items():
        assert ids_in(bucket_html(html, key)) == ids, key
    assert f'id="task-{mine_done.pk}"' not in html and f'id="task-{theirs.pk}"' not in html
    row = bucket_html(html, "today")
    assert "Initech" in row and "stage-onboarding" in row and "band-red" in row
    assert "est. 45 min" in row and "playbook: Onboarding" in row
    assert 'id="bucket-today-count">2<' in html


def test_filters_narrow_the_queue(page, tenant, inside, account, csm):
    with inside():
        other = factories.account(owner=csm, name="Hooli")
        a = new_task(account, csm, priority=Priority.HIGH)
        b = new_task(other, csm)
    client = page(Role.CSM)
    html = client.get(url("work_queue", tenant, query=f"account={other.pk}")).content.decode()
    assert ids_in(html) == [b.pk]
    html = client.get(url("work_queue", tenant, query="priority=2")).content.decode()
    assert ids_in(html) == [a.pk]
    bad = client.get(url("work_queue", tenant, query="priority=9&account=abc"))
    assert bad.status_code == 200 and bad.content.decode().count('class="errorlist"') == 2


def test_show_more_pages_through_a_long_bucket(page, tenant, inside, account, csm, monkeypatch):
    monkeypatch.setattr("work.selectors.queue.PER_BUCKET", 2)
    with inside():
        later = [new_task(account, csm, due_in("later") + dt.timedelta(days=i)) for i in range(5)]
    client = page(Role.CSM)
    html = client.get(url("work_queue", tenant)).content.decode()
    assert ids_in(bucket_html(html, "later")) == [t.pk for t in later[:2]]
    assert "Show more (3 not shown)" in html
    more = client.get(url("work_queue_more", tenant, query="bucket=later&offset=2"), **HTMX)
    assert more.status_code == 200
    assert ids_in(more.content.decode()) == [t.pk for t in later[2:4]]
    assert "offset=4" in more.content.decode()
    last = client.get(url("work_queue_more", tenant, query="bucket=later&offset=4"), **HTMX)
    assert (
        ids_in(last.content.decode()) == [later[4].pk] and "Show more" not in last.content.decode()
    )
    assert (
        client.get(url("work_queue_more", tenant, query="bucket=nope&offset=x")).status_code == 422
    )


# -- actions in place ------------------------------------------------------------

TRANSITIONS = [
    ("start", TaskStatus.OPEN, TaskStatus.IN_PROGRESS, "task_started"),
    ("complete", TaskStatus.OPEN, TaskStatus.DONE, "task_completed"),
    ("complete", TaskStatus.IN_PROGRESS, TaskStatus.DONE, "task_completed"),
    ("skip", TaskStatus.OPEN, TaskStatus.SKIPPED, "task_skipped"),
    ("skip", TaskStatus.IN_PROGRESS, TaskStatus.SKIPPED, "task_skipped"),
    ("cancel", TaskStatus.OPEN, TaskStatus.CANCELLED, "task_cancelled"),
    ("cancel", TaskStatus.IN_PROGRESS, TaskStatus.CANCELLED, "task_cancelled"),
    ("reopen", TaskStatus.DONE, TaskStatus.OPEN, "task_reopened"),
    ("reopen", TaskStatus.SKIPPED, TaskStatus.OPEN, "task_reopened"),
    ("reopen", TaskStatus.CANCELLED, TaskStatus.OPEN, "task_reopened"),
]


@pytest.mark.parametrize(("action", "source", "target", "kind"), TRANSITIONS)
def test_every_transition_from_the_row_returns_the_row(
    page, tenant, inside, task, action, source, target, kind
):
    with inside():
        Task.objects.filter(pk=task.pk).update(status=source)
    response = post(
        page(Role.CSM), "work_task_transition", tenant, task.pk, {"action": action, "outcome": "ok"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith(f'<article class="task-row status-{target}')
    assert "<html" not in html  # a partial, not the page
    with inside():
        assert Task.objects.get(pk=task.pk).status == target
        assert TimelineEntry.objects.filter(kind=kind, payload__task_id=task.pk).exists()
    if target == TaskStatus.DONE:
        assert "Done ✓" in html and 'value="reopen"' in html  # Undo
    if target == TaskStatus.OPEN:
        assert 'value="complete"' in html


def test_complete_keeps_the_outcome_and_undo_reopens(page, tenant, inside, task):
    client = page(Role.CSM)
    post(client, "work_task_transition", tenant, task.pk, {"action": "complete", "outcome": "Held"})
    with inside():
        assert Task.objects.get(pk=task.pk).outcome == "Held"
    undo = post(client, "work_task_transition", tenant, task.pk, {"action": "reopen"})
    assert undo.status_code == 200 and "Reopened" in undo.content.decode()
    with inside():
        assert Task.objects.get(pk=task.pk).status == TaskStatus.OPEN


def test_a_refused_move_is_409_with_the_reason_in_the_row(page, tenant, inside, task):
    with inside():
        Task.objects.filter(pk=task.pk).update(status=TaskStatus.DONE)
    response = post(page(Role.CSM), "work_task_transition", tenant, task.pk, {"action": "complete"})
    assert response.status_code == 409
    html = response.content.decode()
    assert 'role="alert"' in html and "A task that is done cannot be completed." in html
    bad = post(page(Role.CSM), "work_task_transition", tenant, task.pk, {"action": "explode"})
    assert bad.status_code == 422 and "errorlist" in bad.content.decode()


def test_a_snoozed_overdue_task_shows_snoozed_until_and_its_real_due_date(
    page, tenant, inside, account, csm
):
    first_due, until = due_in("overdue"), due_in("later")
    with inside():
        late = new_task(account, csm, first_due, title="Late call")
        services.task_snooze(task=late, until=until, actor=csm)
    client = page(Role.CSM)
    html = client.get(url("work_queue", tenant)).content.decode()
    # the queue buckets by the current due date: the snoozed task is "later"
    assert ids_in(bucket_html(html, "later")) == [late.pk]
    assert ids_in(bucket_html(html, "overdue")) == []
    row = bucket_html(html, "later")

    def day(d: dt.date) -> str:  # the row's "D j M"
        return f"{d:%a} {d.day} {d:%b}"

    text = f"snoozed until {day(until)}, due {day(first_due)}"
    assert f'<span class="overdue">{text}</span>' in row
    page_html = client.get(url("work_task", tenant, late.pk)).content.decode()
    snoozed = f"snoozed until {until:%Y-%m-%d}, due {first_due:%Y-%m-%d}"
    assert f'{snoozed} <span class="overdue">(overdue)</span>' in page_html
    # and on the account's work card
    card = client.get(url("work_account", tenant, account.pk)).content.decode()
    assert f'{snoozed} <span class="overdue">(overdue)</span>' in card


def test_snooze_in_place_and_its_422s(page, tenant, inside, task):
    client = page(Role.CSM)
    later = today() + dt.timedelta(days=10)
    ok = post(client, "work_task_snooze", tenant, task.pk, {"until": later.isoformat()})
    assert ok.status_code == 200 and "Snoozed" in ok.content.decode()
    with inside():
        assert Task.objects.get(pk=task.pk).due_date == later
        assert TimelineEntry.objects.filter(kind="task_snoozed", payload__task_id=task.pk).exists()
    for bad, message in [
        (today().isoformat(), "Snooze to a day after today."),
        ("", "This field is required."),
        ("not-a-date", "Enter a valid date."),
    ]:
        response = post(client, "work_task_snooze", tenant, task.pk, {"until": bad})
        assert response.status_code == 422
        assert message in response.content.decode()
        assert f'id="task-{task.pk}"' in response.content.decode()
    with inside():
        assert Task.objects.get(pk=task.pk).due_date == later


def test_log_time_in_place_and_its_422s(page, tenant, inside, task, csm):
    client = page(Role.CSM)
    ok = post(client, "work_task_time", tenant, task.pk, {"minutes": "25", "note": "call"})
    assert ok.status_code == 200 and "logged 25 min" in ok.content.decode()
    with inside():
        entry = TimeEntry.objects.get(task=task)
        assert (entry.minutes, entry.note, entry.user_id) == (25, "call", csm.pk)
        assert TimelineEntry.objects.filter(kind="task_time_logged").exists()
    tomorrow = (today() + dt.timedelta(days=1)).isoformat()
    for data, message in [
        ({"minutes": "0"}, "Log between 1 and 1,440 minutes."),
        ({"minutes": "2000"}, "Log between 1 and 1,440 minutes."),
        ({"minutes": "x"}, "Enter a whole number."),
        ({"minutes": "10", "logged_on": tomorrow}, "Time cannot be logged for a future day."),
    ]:
        response = post(client, "work_task_time", tenant, task.pk, data)
        assert response.status_code == 422, data
        assert message in response.content.decode()
    with inside():
        assert Task.objects.get(pk=task.pk).logged_minutes == 25


def test_outcome_note_in_place(page, tenant, inside, task):
    client = page(Role.CSM)
    ok = post(client, "work_task_outcome", tenant, task.pk, {"outcome": "Agreed next steps"})
    assert ok.status_code == 200
    with inside():
        assert Task.objects.get(pk=task.pk).outcome == "Agreed next steps"
        assert TimelineEntry.objects.filter(kind="task_outcome").exists()
    blank = post(client, "work_task_outcome", tenant, task.pk, {"outcome": "  "})
    assert blank.status_code == 422 and "errorlist" in blank.content.decode()


def test_a_plain_post_redirects_back_to_the_queue(page, tenant, inside, task):
    response = post(
        page(Role.CSM), "work_task_transition", tenant, task.pk, {"action": "start"}, htmx=False
    )
    assert response.status_code == 302 and response.url == url("work_queue", tenant)
    with inside():
        assert Task.objects.get(pk=task.pk).status == TaskStatus.IN_PROGRESS
    bad = post(page(Role.CSM), "work_task_snooze", tenant, task.pk, {"until": ""}, htmx=False)
    assert bad.status_code == 422 and "<html" in bad.content.decode()


def test_the_row_loads_its_other_forms_when_opened(page, tenant, inside, task, users):
    client = page(Role.CSM)
    html = client.get(url("work_queue", tenant)).content.decode()
    forms_url = url("work_task_forms", tenant, task.pk)
    assert f'hx-get="{forms_url}?user=' in html
    # The rows' links are built from prefixes; they must be the real URLs.
    assert f'action="{url("work_task_transition", tenant, task.pk)}"' in html
    assert f'href="{url("work_task", tenant, task.pk)}"' in html
    assert f'href="{url("account", tenant, task.account_id)}"' in html
    panel = client.get(forms_url, **HTMX)
    body = panel.content.decode()
    assert panel.status_code == 200
    for action in ("snooze", "time", "outcome"):
        assert f'action="{url(f"work_task_{action}", tenant, task.pk)}"' in body
    assert "work_task_reassign" not in body and "Reassign to" not in body  # a CSM's
    leader_panel = page(Role.LEADER).get(forms_url, **HTMX).content.decode()
    assert "Reassign to" in leader_panel and users[Role.ADMIN].display_name in leader_panel
    assert page(Role.VIEWER).get(forms_url).status_code == 403


# -- roles and tenants ------------------------------------------------------------

WRITES = [
    ("work_task_transition", {"action": "start"}),
    ("work_task_snooze", {"until": "2099-01-01"}),
    ("work_task_time", {"minutes": "5"}),
    ("work_task_outcome", {"outcome": "x"}),
    ("work_task_reassign", {"assignee": "1"}),
]


def test_viewers_have_no_queue_and_change_nothing(page, tenant, inside, task, users):
    viewer = page(Role.VIEWER)
    assert viewer.get(url("work_queue", tenant)).status_code == 403
    assert viewer.get(url("work_task", tenant, task.pk)).status_code == 403
    assert viewer.get(url("work_task_forms", tenant, task.pk)).status_code == 403
    assert (
        viewer.get(url("work_queue_more", tenant, query="bucket=later&offset=0")).status_code == 403
    )
    for name, data in WRITES:
        assert post(viewer, name, tenant, task.pk, data).status_code == 403, name
    new = viewer.post(url("work_task_new", tenant), {"title": "x"})
    bulk = viewer.post(url("work_tasks_reassign", tenant), {"task_ids": [task.pk]})
    assert new.status_code == 403 and bulk.status_code == 403
    with inside():
        assert Task.objects.get(pk=task.pk).status == TaskStatus.OPEN
        assert Task.objects.count() == 1


def test_a_csm_acts_on_own_tasks_and_unassigned_ones_of_own_accounts(
    page, tenant, inside, account, users
):
    with inside():
        someone = make_user(tenant, Role.CSM)
        theirs = new_task(account, someone)
        unassigned_mine = new_task(account, None)
        elsewhere = factories.account(owner=someone)
        unassigned_theirs = new_task(elsewhere, None)
    client = page(Role.CSM)
    assert client.get(url("work_task_forms", tenant, theirs.pk)).status_code == 403
    for name, data in WRITES[:4]:
        assert post(client, name, tenant, theirs.pk, data).status_code == 403, name
        assert post(client, name, tenant, unassigned_theirs.pk, data).status_code == 403, name
    ok = post(client, "work_task_transition", tenant, unassigned_mine.pk, {"action": "start"})
    assert ok.status_code == 200
    # Reassigning is for leaders.
    assert post(client, *WRITES[4][:1], tenant, theirs.pk, WRITES[4][1]).status_code == 403
    # and so is opening someone else's queue.
    assert client.get(url("work_queue", tenant, query=f"user={someone.pk}")).status_code == 403
    # The task page reads (without actions).
    detail = client.get(url("work_task", tenant, theirs.pk))
    assert detail.status_code == 200 and 'value="complete"' not in detail.content.decode()


def test_another_tenants_ids_are_404(page, tenant, other_tenant, inside, task):
    with tenant_context(other_tenant):
        stranger = make_user(other_tenant, Role.CSM)
        foreign = new_task(factories.account(owner=stranger), stranger)
    for role in (Role.CSM, Role.ADMIN):
        client = page(role)
        assert client.get(url("work_task", tenant, foreign.pk)).status_code == 404
        assert client.get(url("work_task_forms", tenant, foreign.pk)).status_code == 404
        for name, data in WRITES:
            if role == Role.CSM and name == "work_task_reassign":
                continue  # leader-only, refused by role first
            assert post(client, name, tenant, foreign.pk, data).status_code == 404, name
        assert client.get(url("work_queue", tenant, query=f"user={stranger.pk}")).status_code == 404
        assert client.get(url("work_queue", tenant, query="user=999999")).status_code == 404
    with tenant_context(other_tenant):
        assert Task.objects.get(pk=foreign.pk).status == TaskStatus.OPEN
    # Another tenant's page altogether: not a member.
    assert page(Role.ADMIN).get(url("work_queue", other_tenant)).status_code == 404


def test_a_leader_opens_any_queue_and_reassigns_one_or_many(
    page, tenant, inside, account, csm, users
):
    leader = users[Role.LEADER]
    with inside():
        tasks = [new_task(account, csm, title=f"T{i}") for i in range(3)]
    client = page(Role.LEADER)
    html = client.get(url("work_queue", tenant, query=f"user={csm.pk}")).content.decode()
    assert ids_in(html) == [t.pk for t in tasks]
    assert 'id="bulk-reassign"' in html and 'form="bulk-reassign"' in html
    assert f"{csm.display_name}'s work" in html

    one = client.post(
        url("work_task_reassign", tenant, tasks[0].pk),
        {"assignee": leader.pk, "user": csm.pk},
        **HTMX,
    )
    assert one.status_code == 200 and f"Reassigned to {leader.display_name}" in one.content.decode()

    bulk = client.post(
        url("work_tasks_reassign", tenant),
        {"task_ids": [tasks[1].pk, tasks[2].pk], "assignee": leader.pk, "user": csm.pk},
    )
    assert bulk.status_code == 302 and f"user={csm.pk}" in bulk.url
    with inside():
        assert set(Task.objects.values_list("assignee_id", flat=True)) == {leader.pk}
        assert TimelineEntry.objects.filter(kind="task_reassigned").count() == 3

    none_ticked = client.post(url("work_tasks_reassign", tenant), {"assignee": leader.pk})
    assert none_ticked.status_code == 422
    assert "Tick the tasks to reassign." in none_ticked.content.decode()
    viewer = users[Role.VIEWER]
    to_viewer = client.post(
        url("work_tasks_reassign", tenant), {"task_ids": [tasks[0].pk], "assignee": viewer.pk}
    )
    assert to_viewer.status_code == 422
    csm_bulk = page(Role.CSM).post(
        url("work_tasks_reassign", tenant), {"task_ids": [tasks[0].pk], "assignee": csm.pk}
    )
    assert csm_bulk.status_code == 403


# -- new task ---------------------------------------------------------------------


def test_submitting_the_same_new_task_form_twice_adds_one_task(page, tenant, inside, account, csm):
    client = page(Role.CSM)
    form = client.get(url("work_queue", tenant)).content.decode()
    nonce = re.search(r'name="request_key" value="([0-9a-f]{32})"', form).group(1)
    fields = {
        "account": account.pk,
        "title": "QBR prep",
        "due_date": (today() + dt.timedelta(days=3)).isoformat(),
        "priority": "2",
        "estimated_minutes": "60",
        "request_key": nonce,
    }
    assert client.post(url("work_task_new", tenant), fields).status_code == 302
    assert client.post(url("work_task_new", tenant), fields).status_code == 302
    with inside():
        assert Task.objects.filter(title="QBR prep").count() == 1
        assert TimelineEntry.objects.filter(kind="task_created").count() == 1
    # a fresh form is a new task
    assert client.post(url("work_task_new", tenant), {**fields, "request_key": "f" * 32})
    with inside():
        assert Task.objects.filter(title="QBR prep").count() == 2


def test_new_task_on_one_of_my_accounts(page, tenant, inside, account, csm):
    client = page(Role.CSM)
    due = (today() + dt.timedelta(days=3)).isoformat()
    ok = client.post(
        url("work_task_new", tenant),
        {
            "account": account.pk,
            "title": "QBR prep",
            "due_date": due,
            "priority": "2",
            "estimated_minutes": "60",
        },
    )
    assert ok.status_code == 302
    with inside():
        task = Task.objects.get(title="QBR prep")
        assert (task.assignee_id, task.priority, task.estimated_minutes) == (csm.pk, 2, 60)
        assert TimelineEntry.objects.filter(kind="task_created", payload__task_id=task.pk).exists()
        not_mine = factories.account(name="Not mine")
    bad = client.post(
        url("work_task_new", tenant),
        {
            "account": not_mine.pk,
            "title": "",
            "due_date": "soon",
            "priority": "2",
            "estimated_minutes": "0",
        },
    )
    assert bad.status_code == 422
    html = bad.content.decode()
    for field in ("account", "title", "due_date", "estimated_minutes"):
        assert f'id="new_task_{field}_error"' in html, field


# -- task page ----------------------------------------------------------------------


def test_the_task_page_shows_protocol_time_and_history(page, tenant, inside, account, csm):
    with inside():
        playbook = Playbook.objects.create(name="Onboarding")
        step = PlaybookStep.objects.create(
            playbook=playbook, title="Kickoff", instructions="1. Agree goals\n2. Book training"
        )
        run = PlaybookRun.objects.create(playbook=playbook, account=account, occurrence_key="k")
        task = new_task(account, csm, run=run, step=step)
        services.task_time_log(task=task, minutes=15, actor=csm, note="prep")
    client = page(Role.CSM)
    html = client.get(url("work_task", tenant, task.pk)).content.decode()
    assert "Agree goals" in html and "15 min" in html and "prep" in html
    assert "Task created: Kickoff call" in html
    assert 'value="cancel"' in html
    response = client.post(
        url("work_task_transition", tenant, task.pk), {"action": "cancel", "view": "detail"}, **HTMX
    )
    assert response.status_code == 200 and 'id="history"' in response.content.decode()
    with inside():
        assert Task.objects.get(pk=task.pk).status == TaskStatus.CANCELLED
    again = client.post(
        url("work_task_transition", tenant, task.pk), {"action": "cancel", "view": "detail"}, **HTMX
    )
    assert again.status_code == 409 and "cannot be cancelled" in again.content.decode()


# -- navigation ------------------------------------------------------------------------


def test_the_navigation_counts_overdue_and_today(page, tenant, inside, account, csm):
    with inside():
        new_task(account, csm, today() - dt.timedelta(days=1))
        new_task(account, csm, today())
        new_task(account, csm, today() + dt.timedelta(days=30))
    html = page(Role.CSM).get(url("accounts", tenant)).content.decode()
    assert re.search(r'id="nav-my-work"[^>]*>My work \(2\)</a>', html)
    assert 'id="nav-my-work"' not in page(Role.VIEWER).get(url("accounts", tenant)).content.decode()


# -- query counts ----------------------------------------------------------------------

QUEUE_QUERIES = 25
LEADER_QUEUE_QUERIES = 27
TASK_PAGE_QUERIES = 25
MORE_QUERIES = 18


def _fill(account, csm, n):
    other = factories.account(owner=csm)
    HealthScore.objects.create(account=other, score=80, band=Band.GREEN)
    playbook = Playbook.objects.create(name=f"P{n}")
    run = PlaybookRun.objects.create(playbook=playbook, account=other, occurrence_key="k")
    for i in range(n):
        new_task(
            account if i % 2 else other,
            csm,
            today() + dt.timedelta(days=i - n // 2),
            run=run if i % 3 else None,
        )


@pytest.mark.parametrize("n", [3, 30])
def test_the_queue_costs_the_same_queries_for_3_and_30_tasks(
    n, page, tenant, inside, account, csm, django_assert_num_queries
):
    with inside():
        _fill(account, csm, n)
    client = page(Role.CSM)
    with django_assert_num_queries(QUEUE_QUERIES):
        response = client.get(url("work_queue", tenant))
    assert len(ids_in(response.content.decode())) == n
    leader = page(Role.LEADER)
    with django_assert_num_queries(LEADER_QUEUE_QUERIES):
        response = leader.get(url("work_queue", tenant, query=f"user={csm.pk}"))
    assert len(ids_in(response.content.decode())) == n


@pytest.mark.parametrize("n", [3, 30])
def test_show_more_costs_the_same_queries_for_3_and_30_rows(
    n, page, tenant, inside, account, csm, django_assert_num_queries, monkeypatch
):
    monkeypatch.setattr("work.selectors.queue.PER_BUCKET", 40)
    with inside():
        for i in range(n):
            new_task(account, csm, due_in("later") + dt.timedelta(days=i))
    client = page(Role.CSM)
    with django_assert_num_queries(MORE_QUERIES):
        response = client.get(url("work_queue_more", tenant, query="bucket=later&offset=0"), **HTMX)
    assert len(ids_in(response.content.decode())) == n


@pytest.mark.parametrize("n", [3, 30])
def test_the_task_page_costs_the_same_queries_for_3_and_30_entries(
    n, page, tenant, inside, task, csm, django_assert_num_queries
):
    with inside():
        for i in range(n):
            services.task_time_log(task=task, minutes=5, actor=make_user(tenant, Role.CSM))
            services.task_outcome_set(task=task, outcome=f"o{i}", actor=csm)
    client = page(Role.CSM)
    with django_assert_num_queries(TASK_PAGE_QUERIES):
        response = client.get(url("work_task", tenant, task.pk))
    assert response.content.decode().count("5 min ·") == n
