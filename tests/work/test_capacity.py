"""Capacity planning figures against a fixture computed by hand.

Today is Wednesday 2025-03-12, so the plan's weeks start on Mondays 03-10
(current), 03-17, 03-24, 03-31, 04-07 and 04-14; the last four weeks start
on 02-10, 02-17, 02-24 and 03-03. No WorkSettings row: 20 % unplanned.

Alice, csm, 40 h, skill onboarding, out Thu-Fri 03-13..14, Wed 03-19 and
Sat-Mon 03-22..24:
  week 03-10: 3 days -> 24 h; tasks 120 (overdue 03-05) + 600 (overdue 03-11,
    in progress) + 900 (03-14, low, onboarding) + 60 (today, urgent) = 1680 min
    = 28 h; unplanned 4.8 h; load 32.8 h > 24 h: over, 137 %; overdue 2.
  week 03-17: 4 days -> 32 h; 300 min = 5 h + 6.4 h = 11.4 h, 36 %.
  week 03-24: Monday out -> 32 h; 6.4 h, 20 %. Later weeks 40 h, 8 h, 20 %.
Bob, csm, 30 h, skills onboarding + technical: week 03-10: 240 min = 4 h + 6 h
  = 10 h (33 %); week 03-24: 1800 min = 30 h + 6 h = 36 h, over (120 %).
Carol, leader, 20 h: 60 min due Monday 03-10 (overdue): 1 h + 4 h = 5 h, 25 %.
Erin, csm, no profile (40 h): week 03-17: 2400 (high) + 300 (03-19) + 120
  (03-21, technical) = 2820 min = 47 h + 8 h = 55 h, over (138 %).
Dave, csm, profile not taking assignments, no open task: not shown.

Rebalance (current and next week): alice's week is 528 min over; her lowest
priority task (900 min, onboarding) goes to bob, the only other onboarding
member, who has 1200 min free; she is then under. Erin's week is 900 min
over: the 120 min technical task (latest due) goes to bob (1440 free), the
300 min task due 03-19 to bob too (1320 free; alice is out that day and
carol has 960), and nobody has room for 2400 min.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from csplatform.tenancy.models import Role
from tests import factories
from tests.work.capacity_data import UTC, member, task, time_entry
from work import selectors, services
from work.models import Playbook, PlaybookStep, TaskStatus, WorkSettings

pytestmark = pytest.mark.django_db

TODAY = dt.date(2025, 3, 12)
D = dt.date


def at(day: dt.date, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=UTC)


@pytest.fixture
def team(in_tenant):
    tenant = in_tenant
    acct = factories.account(name="Capacity Customer")
    alice = member(
        tenant,
        "Alice",
        hours=40,
        skills=("onboarding",),
        absences=(
            (D(2025, 3, 13), D(2025, 3, 14)),
            (D(2025, 3, 19), D(2025, 3, 19)),
            (D(2025, 3, 22), D(2025, 3, 24)),
        ),
    )
    bob = member(tenant, "Bob", hours=30, skills=("onboarding", "technical"))
    carol = member(tenant, "Carol", role=Role.LEADER, hours=20)
    dave = member(tenant, "Dave", hours=40, takes=False)
    erin = member(tenant, "Erin", hours=None)
    member(tenant, "Vic Viewer", role=Role.VIEWER, hours=None)
    t = {
        "t1": task(acct, alice, D(2025, 3, 5), 120),
        "t2": task(acct, alice, D(2025, 3, 11), 600, status=TaskStatus.IN_PROGRESS),
        "t3": task(acct, alice, D(2025, 3, 14), 900, priority=4, skill="onboarding"),
        "t4": task(acct, alice, D(2025, 3, 12), 60, priority=1),
        "t5": task(acct, alice, D(2025, 3, 18), 300),
        "t6": task(
            acct, alice, D(2025, 3, 20), 500, status=TaskStatus.DONE, closed_at=at(D(2025, 3, 11))
        ),
        "t7": task(acct, alice, D(2025, 4, 21), 100),  # after the six weeks
        "b1": task(acct, bob, D(2025, 3, 13), 240),
        "b2": task(acct, bob, D(2025, 3, 25), 1800),
        "c1": task(acct, carol, D(2025, 3, 10), 60),
        "e1": task(acct, erin, D(2025, 3, 17), 2400, priority=2),
        "e2": task(acct, erin, D(2025, 3, 19), 300),
        "e3": task(acct, erin, D(2025, 3, 21), 120, skill="technical"),
        "cancelled": task(acct, dave, D(2025, 3, 12), 999, status=TaskStatus.CANCELLED),
        "unassigned": task(acct, None, D(2025, 3, 12), 999),
    }
    return {
        "alice": alice,
        "bob": bob,
        "carol": carol,
        "dave": dave,
        "erin": erin,
        **t,
        "acct": acct,
    }


def _row(report, user):
    return next(m for m in report.members if m.user_id == user.pk)


def _h(*values) -> list[Decimal]:
    return [Decimal(str(v)) for v in values]


def test_members_are_profiles_taking_work_and_anyone_with_open_tasks(team):
    report = selectors.capacity_plan(today=TODAY)
    assert [m.name for m in report.members] == ["Alice", "Bob", "Carol", "Erin"]
    erin = _row(report, team["erin"])
    assert not erin.has_profile and erin.weekly_capacity_hours == 40
    assert report.weeks == [D(2025, 3, 10) + dt.timedelta(weeks=i) for i in range(6)]
    assert report.past_weeks == [D(2025, 2, 10), D(2025, 2, 17), D(2025, 2, 24), D(2025, 3, 3)]
    assert report.unplanned_share_percent == 20


def test_capacity_load_and_over_flags_per_week(team):
    report = selectors.capacity_plan(today=TODAY)
    alice = _row(report, team["alice"])
    assert [w.capacity_hours for w in alice.weeks] == _h(24, 32, 32, 40, 40, 40)
    assert [w.days_out for w in alice.weeks] == [2, 1, 1, 0, 0, 0]
    assert [w.task_minutes for w in alice.weeks] == [1680, 300, 0, 0, 0, 0]
    assert [w.tasks for w in alice.weeks] == [4, 1, 0, 0, 0, 0]
    assert [w.load_hours for w in alice.weeks] == _h(32.8, 11.4, 6.4, 8, 8, 8)
    assert [w.over for w in alice.weeks] == [True, False, False, False, False, False]
    assert [w.utilization for w in alice.weeks] == [137, 36, 20, 20, 20, 20]
    assert alice.weeks[0].free_hours == Decimal("-8.8")
    assert alice.overdue == 2

    bob = _row(report, team["bob"])
    assert [w.capacity_hours for w in bob.weeks] == _h(30, 30, 30, 30, 30, 30)
    assert [w.load_hours for w in bob.weeks] == _h(10, 6, 36, 6, 6, 6)
    assert [w.over for w in bob.weeks] == [False, False, True, False, False, False]
    assert [w.utilization for w in bob.weeks][:3] == [33, 20, 120]
    assert bob.overdue == 0

    carol = _row(report, team["carol"])
    assert carol.weeks[0].load_hours == Decimal(5) and carol.weeks[0].utilization == 25
    assert carol.overdue == 1

    erin = _row(report, team["erin"])
    assert [w.load_hours for w in erin.weeks] == _h(8, 55, 8, 8, 8, 8)
    assert erin.weeks[1].over and erin.weeks[1].utilization == 138
    assert report.overdue == 3

    # the team: sums of the four members
    assert [w.capacity_hours for w in report.team][:3] == _h(114, 122, 122)
    assert [w.task_minutes for w in report.team][:3] == [1980, 3120, 1800]
    assert [w.load_hours for w in report.team][:3] == _h(55.8, 76.4, 54.4)
    assert not any(w.over for w in report.team)


def test_the_unplanned_share_comes_from_the_settings(team):
    WorkSettings.objects.create(unplanned_share_percent=25)
    report = selectors.capacity_plan(today=TODAY)
    assert report.unplanned_share_percent == 25
    # bob's current week: 4 h of tasks + 25 % of 30 h
    assert _row(report, team["bob"]).weeks[0].load_hours == Decimal("11.5")


def test_no_capacity_with_load_is_over_without_a_percentage(team):
    from work.models import CsmProfile

    CsmProfile.objects.filter(user=team["carol"]).update(weekly_capacity_hours=0)
    carol = _row(selectors.capacity_plan(today=TODAY), team["carol"])
    assert carol.weeks[0].capacity_hours == 0
    assert carol.weeks[0].over and carol.weeks[0].utilization is None
    assert not carol.weeks[1].over and carol.weeks[1].utilization == 0


def test_last_four_weeks_planned_completed_and_logged(team):
    acct, alice, bob = team["acct"], team["alice"], team["bob"]
    # snoozed from 02-18 to 02-26 and done on 02-26: planned 02-17, completed 02-24
    p1 = task(
        acct,
        alice,
        D(2025, 2, 26),
        90,
        original=D(2025, 2, 18),
        status=TaskStatus.DONE,
        closed_at=at(D(2025, 2, 26)),
    )
    # done late on Sunday 03-09: still the week of 03-03
    p2 = task(
        acct, alice, D(2025, 3, 4), 45, status=TaskStatus.DONE, closed_at=at(D(2025, 3, 9), 23)
    )
    task(acct, alice, D(2025, 2, 20), 60, status=TaskStatus.SKIPPED, closed_at=at(D(2025, 2, 20)))
    # planned before the window (02-07), done in the week of 02-10
    task(acct, bob, D(2025, 2, 7), 200, status=TaskStatus.DONE, closed_at=at(D(2025, 2, 12)))
    time_entry(p1, alice, D(2025, 2, 26), 100)
    time_entry(p2, alice, D(2025, 3, 9), 50)
    time_entry(p2, alice, D(2025, 3, 10), 30)  # the current week: not in the past
    time_entry(p2, bob, D(2025, 2, 11), 15)  # by the person who logged it

    report = selectors.capacity_plan(today=TODAY)
    a = _row(report, alice).past
    assert [(w.planned_tasks, w.planned_minutes) for w in a] == [(0, 0), (2, 150), (0, 0), (2, 165)]
    assert [(w.completed_tasks, w.completed_minutes) for w in a] == [
        (0, 0),
        (0, 0),
        (1, 90),
        (1, 45),
    ]
    assert [w.logged_minutes for w in a] == [0, 0, 100, 50]
    b = _row(report, bob).past
    assert [(w.completed_tasks, w.completed_minutes) for w in b] == [
        (1, 200),
        (0, 0),
        (0, 0),
        (0, 0),
    ]
    assert [w.planned_tasks for w in b] == [0, 0, 0, 0]
    assert [w.logged_minutes for w in b] == [15, 0, 0, 0]
    assert [w.completed_minutes for w in report.team_past] == [200, 0, 90, 45]
    assert [w.planned_minutes for w in report.team_past] == [0, 150, 0, 165]


def test_rebalance_moves_lowest_priority_work_to_skilled_members_with_room(team):
    report = selectors.capacity_report(today=TODAY)
    moves = [
        (s.task_id, s.from_user_id, s.to_user_id, s.minutes, s.week_start)
        for s in report.suggestions
    ]
    alice, bob, erin = team["alice"].pk, team["bob"].pk, team["erin"].pk
    assert moves == [
        (team["t3"].pk, alice, bob, 900, D(2025, 3, 10)),
        (team["e3"].pk, erin, bob, 120, D(2025, 3, 17)),
        (team["e2"].pk, erin, bob, 300, D(2025, 3, 17)),
    ]
    first = report.suggestions[0]
    assert (first.account_name, first.from_name, first.to_name) == (
        "Capacity Customer",
        "Alice",
        "Bob",
    )
    # bob's 1800 min in the week of 03-24 is beyond the two weeks looked at
    assert all(s.week_start < D(2025, 3, 24) for s in report.suggestions)


def test_rebalance_skips_members_out_of_office_and_without_room(team):
    from work.models import CsmProfile, OutOfOffice

    # bob is away on 03-14 (the onboarding task's due day): nobody else has the skill
    OutOfOffice.objects.create(
        profile=CsmProfile.objects.get(user=team["bob"]),
        starts_on=D(2025, 3, 14),
        ends_on=D(2025, 3, 14),
    )
    report = selectors.capacity_report(today=TODAY)
    moved = [s.task_id for s in report.suggestions]
    assert team["t3"].pk not in moved
    # then alice's normal-priority work, latest due first: the overdue 600 min
    # task (worked today) goes to the member with most room: erin (1920 min;
    # bob 912 now that he is out a day, carol 900); alice is then 72 min under
    alice_moves = [s for s in report.suggestions if s.from_user_id == team["alice"].pk]
    assert [(s.task_id, s.to_user_id) for s in alice_moves] == [(team["t2"].pk, team["erin"].pk)]


def test_nothing_to_suggest_when_nobody_is_over(in_tenant):
    acct = factories.account()
    ann = member(in_tenant, "Ann", hours=40)
    member(in_tenant, "Ben", hours=40)
    task(acct, ann, D(2025, 3, 12), 60)
    assert selectors.capacity_report(today=TODAY).suggestions == []


@pytest.fixture
def steps(in_tenant):
    acct = factories.account()
    playbook = Playbook.objects.create(name="Onboarding")
    kickoff = PlaybookStep.objects.create(
        playbook=playbook, position=0, title="Kickoff", estimated_minutes=60
    )
    training = PlaybookStep.objects.create(
        playbook=playbook, position=1, title="Training", estimated_minutes=120
    )
    review = PlaybookStep.objects.create(
        playbook=playbook, position=2, title="Review", estimated_minutes=30
    )
    closed = at(D(2025, 3, 1))
    done = {"status": TaskStatus.DONE, "closed_at": closed}
    # kickoff: ratios 1.5, 1, 2 and 1.5 (a task estimated at 30 min) -> 1.5; actual 45..120 -> 75
    for estimate, logged in [(60, 90), (60, 60), (60, 120), (30, 45)]:
        task(acct, None, D(2025, 3, 1), estimate, step=kickoff, logged=logged, **done)
    task(acct, None, D(2025, 3, 1), 60, step=kickoff, logged=0, **done)  # no time logged
    task(
        acct,
        None,
        D(2024, 9, 1),
        60,
        step=kickoff,
        logged=600,
        status=TaskStatus.DONE,
        closed_at=at(D(2024, 9, 12)),
    )  # closed 181 days ago
    task(
        acct,
        None,
        D(2025, 3, 1),
        60,
        step=kickoff,
        logged=600,
        status=TaskStatus.SKIPPED,
        closed_at=closed,
    )
    # training: 0.5 and 0.8333 -> 0.6667; actual 60, 100 -> 80; two samples only
    for logged in (60, 100):
        task(acct, None, D(2025, 3, 1), 120, step=training, logged=logged, **done)
    # review: spot on
    for logged in (31, 30, 29):
        task(acct, None, D(2025, 3, 1), 30, step=review, logged=logged, **done)
    return {"kickoff": kickoff, "training": training, "review": review}


def test_estimate_accuracy_per_step(steps):
    rows = selectors.estimate_accuracy(today=TODAY)
    assert [r.step_title for r in rows] == ["Kickoff", "Review", "Training"]
    kickoff, review, training = rows
    assert kickoff.samples == 4 and kickoff.median_ratio == pytest.approx(1.5)
    assert kickoff.median_actual_minutes == pytest.approx(75)
    assert (kickoff.current_estimate, kickoff.suggested_estimate) == (60, 75)
    assert kickoff.reliable and kickoff.differs
    assert review.samples == 3 and review.median_ratio == pytest.approx(1.0)
    assert review.suggested_estimate == 30 and not review.differs
    assert training.samples == 2 and not training.reliable
    assert training.median_ratio == pytest.approx(2 / 3, abs=1e-4)
    assert training.suggested_estimate == 80
    assert kickoff.playbook_name == "Onboarding"


def test_a_half_minute_median_rounds_up(in_tenant):
    acct = factories.account()
    step = PlaybookStep.objects.create(
        playbook=Playbook.objects.create(name="P"), title="S", estimated_minutes=10
    )
    for logged in (10, 11):
        task(
            acct,
            None,
            D(2025, 3, 1),
            10,
            step=step,
            logged=logged,
            status=TaskStatus.DONE,
            closed_at=at(D(2025, 3, 1)),
        )
    (row,) = selectors.estimate_accuracy(today=TODAY)
    assert row.median_actual_minutes == pytest.approx(10.5) and row.suggested_estimate == 11


def test_the_step_estimate_service_validates_and_updates(steps, users):
    kickoff = steps["kickoff"]
    for bad in (0, 10_001, "abc", None):
        with pytest.raises(ValidationError) as error:
            services.playbook_step_estimate_set(
                step=kickoff, estimated_minutes=bad, actor=users[Role.LEADER]
            )
        assert "estimated_minutes" in error.value.message_dict
    kickoff.refresh_from_db()
    assert kickoff.estimated_minutes == 60
    services.playbook_step_estimate_set(
        step=kickoff, estimated_minutes=75, actor=users[Role.LEADER]
    )
    kickoff.refresh_from_db()
    assert kickoff.estimated_minutes == 75


def test_a_member_who_takes_no_assignments_is_shown_with_open_tasks_but_never_a_target(team):
    # dave has the most room of all next week, but his profile takes no assignments
    task(team["acct"], team["dave"], D(2025, 3, 18), 30)
    report = selectors.capacity_report(today=TODAY)
    assert "Dave" in [m.name for m in report.members]
    assert not _row(report, team["dave"]).takes_assignments
    assert team["dave"].pk not in {s.to_user_id for s in report.suggestions}
    assert len(report.suggestions) == 3


def test_no_suggestion_and_no_candidate_query_when_nobody_has_room(
    in_tenant, django_assert_num_queries
):
    acct = factories.account()
    for name in ("Ann", "Ben"):
        person = member(in_tenant, name, hours=10)
        task(acct, person, D(2025, 3, 12), 900)
    plan = selectors.capacity_plan(today=TODAY)
    assert all(m.weeks[0].over for m in plan.members)
    with django_assert_num_queries(0):
        assert selectors.rebalance_suggestions(plan) == []


def test_a_snoozed_overdue_task_is_still_overdue_by_its_original_due_date(team):
    acct, bob = team["acct"], team["bob"]
    # first due 03-05, snoozed to 03-20: overdue, its load in the week of 03-17
    task(acct, bob, D(2025, 3, 20), 60, original=D(2025, 3, 5))
    # first due 03-07, snoozed past the plan (05-30): overdue, no load in the plan
    task(acct, bob, D(2025, 5, 30), 45, original=D(2025, 3, 7))
    # snoozed before it fell due (03-13 -> 03-21): not overdue
    task(acct, bob, D(2025, 3, 21), 30, original=D(2025, 3, 13))

    report = selectors.capacity_plan(today=TODAY)
    row = _row(report, bob)
    assert row.overdue == 2
    assert [w.task_minutes for w in row.weeks] == [240, 90, 1800, 0, 0, 0]
    assert [w.tasks for w in row.weeks] == [1, 2, 1, 0, 0, 0]
    assert report.overdue == 5
