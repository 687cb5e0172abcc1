"""The queue selector: buckets by due date around today's ISO week, order by
priority then due date, filters, the cap per bucket with "show more", health
bands, nav counts, and a query count that does not grow with the rows."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from csplatform.tenancy.models import Role
from health.models import Band, HealthScore
from tests import factories
from work import selectors, services
from work.models import Playbook, PlaybookRun, Priority, TaskStatus

pytestmark = pytest.mark.django_db

# A Wednesday: the rest of its ISO week is Thursday to Sunday the 14th.
WEDNESDAY = dt.date(2025, 5, 7)


def days(n: int) -> dt.date:
    return WEDNESDAY + dt.timedelta(days=n)


def make_task(account, assignee, due, **extra):
    task = services.task_create(
        account=account,
        title=extra.pop("title", f"Task due {due}"),
        due_date=due,
        actor=None,
        assignee=assignee,
        **extra,
    )
    return task


def test_week_end_is_the_sunday_of_the_iso_week():
    assert selectors.week_end(WEDNESDAY) == dt.date(2025, 5, 11)
    assert selectors.week_end(dt.date(2025, 5, 11)) == dt.date(2025, 5, 11)  # a Sunday
    assert selectors.week_end(dt.date(2025, 5, 5)) == dt.date(2025, 5, 11)  # a Monday


@pytest.mark.parametrize(
    ("due", "bucket"),
    [
        (days(-30), "overdue"),
        (days(-1), "overdue"),
        (days(0), "today"),
        (days(1), "week"),
        (days(4), "week"),  # Sunday
        (days(5), "later"),  # next Monday
        (days(60), "later"),
    ],
)
def test_bucket_of(due, bucket):
    assert selectors.bucket_of(due, WEDNESDAY) == bucket


@pytest.fixture
def account(in_tenant, csm):
    return factories.account(owner=csm, name="Initech")


def test_tasks_land_in_their_buckets_in_priority_then_due_order(account, csm, users):
    later_normal = make_task(account, csm, days(20))
    later_urgent = make_task(account, csm, days(30), priority=Priority.URGENT)
    overdue = make_task(account, csm, days(-3))
    today_low = make_task(account, csm, days(0), priority=Priority.LOW)
    today_high = make_task(account, csm, days(0), priority=Priority.HIGH)
    sunday = make_task(account, csm, days(4))
    thursday = make_task(account, csm, days(1))
    # Not in the queue: someone else's, unassigned, closed.
    make_task(account, users[Role.LEADER], days(0))
    make_task(account, None, days(0))
    done = make_task(account, csm, days(0))
    services.task_transition(task=done, action="complete", actor=csm)

    queue = selectors.queue_for(assignee_id=csm.pk, today=WEDNESDAY)

    got = {b.key: [t.pk for t in b.rows] for b in queue.buckets}
    assert got == {
        "overdue": [overdue.pk],
        "today": [today_high.pk, today_low.pk],
        "week": [thursday.pk, sunday.pk],
        "later": [later_urgent.pk, later_normal.pk],
    }
    assert {b.key: b.count for b in queue.buckets} == {
        "overdue": 1,
        "today": 2,
        "week": 2,
        "later": 2,
    }
    assert queue.total == 7
    row = queue.buckets[0].rows[0]
    assert row.account.name == "Initech" and row.bucket == "overdue"
    assert row.band == ""  # no score yet


def test_rows_carry_band_playbook_and_in_progress_tasks_stay(account, csm):
    HealthScore.objects.create(account=account, score=35, band=Band.RED)
    playbook = Playbook.objects.create(name="Onboarding")
    run = PlaybookRun.objects.create(playbook=playbook, account=account, occurrence_key="k")
    task = make_task(account, csm, days(0), run=run)
    services.task_transition(task=task, action="start", actor=csm)

    [row] = selectors.queue_for(assignee_id=csm.pk, today=WEDNESDAY).buckets[1].rows
    assert row.band == "red" and row.score == 35
    assert row.run.playbook.name == "Onboarding"
    assert row.status == TaskStatus.IN_PROGRESS


def test_filters_by_account_playbook_and_priority(account, csm):
    other = factories.account(owner=csm, name="Hooli")
    playbook = Playbook.objects.create(name="Risk")
    run = PlaybookRun.objects.create(playbook=playbook, account=other, occurrence_key="k")
    a = make_task(account, csm, days(0), priority=Priority.HIGH)
    b = make_task(other, csm, days(0), run=run)
    c = make_task(other, csm, days(9), priority=Priority.HIGH)

    def shown(**filters):
        queue = selectors.queue_for(
            assignee_id=csm.pk, today=WEDNESDAY, filters=selectors.QueueFilters(**filters)
        )
        return sorted(t.pk for bucket in queue.buckets for t in bucket.rows)

    assert shown(account_id=other.pk) == sorted([b.pk, c.pk])
    assert shown(playbook_id=playbook.pk) == [b.pk]
    assert shown(priority=Priority.HIGH) == sorted([a.pk, c.pk])
    assert shown(account_id=account.pk, priority=Priority.LOW) == []


def test_each_bucket_shows_its_first_rows_and_show_more_pages_on(account, csm):
    tasks = [make_task(account, csm, days(10 + i)) for i in range(7)]
    make_task(account, csm, days(0))

    queue = selectors.queue_for(assignee_id=csm.pk, today=WEDNESDAY, per_bucket=3)
    later = queue.buckets[3]
    assert [t.pk for t in later.rows] == [t.pk for t in tasks[:3]]
    assert later.count == 7 and later.more == 4
    assert queue.buckets[1].count == 1 and queue.buckets[1].more == 0

    rows, has_more = selectors.bucket_rows(
        assignee_id=csm.pk, bucket="later", offset=3, today=WEDNESDAY, limit=3
    )
    assert [t.pk for t in rows] == [t.pk for t in tasks[3:6]] and has_more
    rows, has_more = selectors.bucket_rows(
        assignee_id=csm.pk, bucket="later", offset=6, today=WEDNESDAY, limit=3
    )
    assert [t.pk for t in rows] == [tasks[6].pk] and not has_more


def test_nav_counts_overdue_and_today_only(account, csm):
    make_task(account, csm, days(-2))
    make_task(account, csm, days(-1))
    make_task(account, csm, days(0))
    make_task(account, csm, days(2))
    counts = selectors.nav_counts(user_id=csm.pk, today=WEDNESDAY)
    assert (counts.overdue, counts.today, counts.total) == (2, 1, 3)


@pytest.mark.parametrize("n", [3, 30])
def test_the_queue_costs_three_queries_whatever_the_rows(n, account, csm):
    other = factories.account(owner=csm)
    HealthScore.objects.create(account=other, score=80, band=Band.GREEN)
    for i in range(n):
        make_task(account if i % 2 else other, csm, days(i - n // 2))
    with CaptureQueriesContext(connection) as ctx:
        queue = selectors.queue_for(assignee_id=csm.pk, today=WEDNESDAY)
        for bucket in queue.buckets:
            for row in bucket.rows:
                assert row.account.name and row.band is not None
                assert row.run is None
    assert len(ctx.captured_queries) == 3
    assert queue.total == n
