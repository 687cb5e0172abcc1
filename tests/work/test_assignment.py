"""Who gets a playbook step's task: the owner, a named person, round-robin in
a group, or the least-loaded CSM with the skill and free capacity that week,
skipping people out of office on the due date."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, connections
from django.db.models import Q

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Membership, Role
from tests import factories
from tests.conftest import make_user
from tests.waiting import hold_until_another_waits
from work import services
from work.models import (
    AssigneeRule,
    CsmProfile,
    Playbook,
    PlaybookStep,
    Task,
    TaskStatus,
)
from work.services.assignment import least_loaded_user, step_assignment
from work.weeks import iso_week

pytestmark = pytest.mark.django_db

# A Wednesday, so its ISO week runs Mon 2030-01-07 .. Sun 2030-01-13.
DUE = dt.date(2030, 1, 9)


@pytest.fixture
def team(in_tenant, tenant):
    """Three CSMs with profiles: ana (onboarding, technical), bo (training),
    cy (onboarding), each 40 h a week, and the default 20 % unplanned share.
    The skills are the defaults every new tenant gets."""
    people = {name: make_user(tenant, Role.CSM, email=f"{name}@vendor.test") for name in "abc"}
    services.csm_profiles_ensure()
    skills = {"a": ["onboarding", "technical"], "b": ["training"], "c": ["onboarding"]}
    for name, user in people.items():
        services.csm_profile_update(
            profile=CsmProfile.objects.get(user=user),
            skills=skills[name],
            weekly_capacity_hours=40,
        )
    return people


def profile(user) -> CsmProfile:
    return CsmProfile.objects.get(user=user)


@pytest.fixture
def account(team):
    return factories.account(owner=team["a"])


def step(rule=AssigneeRule.LEAST_LOADED, skill="", minutes=60, **extra) -> PlaybookStep:
    playbook = Playbook.objects.get_or_create(name="Assignment")[0]
    return PlaybookStep.objects.create(
        playbook=playbook,
        title="Do it",
        assignee_rule=rule,
        required_skill=skill,
        estimated_minutes=minutes,
        **extra,
    )


def load(user, minutes: int, due: dt.date = DUE, status=TaskStatus.OPEN, account=None):
    account = account or factories.account()
    task = services.task_create(
        account=account,
        title="Existing work",
        due_date=due,
        actor=None,
        assignee=user,
        estimated_minutes=minutes,
    )
    if status != TaskStatus.OPEN:
        Task.objects.filter(pk=task.pk).update(status=status)
    return task


def test_iso_week_runs_monday_to_sunday():
    assert iso_week(DUE) == (dt.date(2030, 1, 7), dt.date(2030, 1, 13))
    assert iso_week(dt.date(2030, 1, 13)) == (dt.date(2030, 1, 7), dt.date(2030, 1, 13))
    assert iso_week(dt.date(2030, 1, 14)) == (dt.date(2030, 1, 14), dt.date(2030, 1, 20))


def test_least_loaded_picks_among_people_with_the_skill(team):
    # bo has nothing planned but no onboarding skill; cy is less loaded than ana.
    load(team["a"], 600)
    load(team["c"], 300)
    assert least_loaded_user(skill="onboarding", due_date=DUE, estimated_minutes=60) == team["c"]
    assert least_loaded_user(skill="training", due_date=DUE, estimated_minutes=60) == team["b"]
    # No skill required: anyone, so the idle bo.
    assert least_loaded_user(skill="", due_date=DUE, estimated_minutes=60) == team["b"]


def test_load_counts_only_open_tasks_due_in_the_same_iso_week(team):
    load(team["c"], 900, due=dt.date(2030, 1, 6))  # the Sunday before
    load(team["c"], 900, due=dt.date(2030, 1, 14))  # the Monday after
    load(team["c"], 900, status=TaskStatus.DONE)
    load(team["c"], 900, status=TaskStatus.CANCELLED)
    load(team["a"], 120, due=dt.date(2030, 1, 13))  # the Sunday of the week: counts
    load(team["a"], 60, status=TaskStatus.IN_PROGRESS)  # in progress counts
    assert least_loaded_user(skill="onboarding", due_date=DUE, estimated_minutes=60) == team["c"]
    load(team["c"], 200, due=dt.date(2030, 1, 7))  # now cy has 200 > 180 that week
    assert least_loaded_user(skill="onboarding", due_date=DUE, estimated_minutes=60) == team["a"]


def test_free_capacity_uses_hours_and_the_unplanned_share(team):
    # ana 40 h, cy 10 h: at 20 % unplanned, 1920 vs 480 free minutes.
    services.csm_profile_update(profile=profile(team["c"]), weekly_capacity_hours=10)
    load(team["a"], 1500)  # ana: 420 free; cy: 480 free
    assert least_loaded_user(skill="onboarding", due_date=DUE, estimated_minutes=60) == team["c"]
    services.work_settings_update(unplanned_share_percent=0)  # ana 900 free, cy 600
    assert least_loaded_user(skill="onboarding", due_date=DUE, estimated_minutes=60) == team["a"]


def test_someone_with_room_wins_over_the_most_free(team):
    """Only people with free >= the estimate qualify first; cy has more free
    minutes than... nobody: ana has 20 free, cy 0 free; a 30-minute step can
    land on neither, so the most free (ana) gets it anyway."""
    services.work_settings_update(unplanned_share_percent=0)
    services.csm_profile_update(profile=profile(team["a"]), weekly_capacity_hours=1)
    services.csm_profile_update(profile=profile(team["c"]), weekly_capacity_hours=1)
    load(team["a"], 40)
    load(team["c"], 60)
    assert least_loaded_user(skill="onboarding", due_date=DUE, estimated_minutes=30) == team["a"]
    # Overloaded both: still the one with the most free minutes (least negative).
    load(team["a"], 100)
    assert least_loaded_user(skill="onboarding", due_date=DUE, estimated_minutes=30) == team["c"]


def test_ties_go_to_the_lowest_user_id(team):
    assert least_loaded_user(skill="onboarding", due_date=DUE, estimated_minutes=30) == min(
        team["a"], team["c"], key=lambda u: u.pk
    )


def test_out_of_office_on_the_due_date_is_skipped(team):
    load(team["a"], 600)
    services.out_of_office_add(
        profile=profile(team["c"]), starts_on=dt.date(2030, 1, 8), ends_on=DUE
    )
    assert least_loaded_user(skill="onboarding", due_date=DUE, estimated_minutes=60) == team["a"]
    # Back the day after: cy again.
    nxt = DUE + dt.timedelta(days=1)
    assert least_loaded_user(skill="onboarding", due_date=nxt, estimated_minutes=60) == team["c"]


def test_opted_out_viewers_and_unskilled_are_never_picked(team, tenant):
    services.csm_profile_update(profile=profile(team["c"]), takes_assignments=False)
    load(team["a"], 2000)
    assert least_loaded_user(skill="onboarding", due_date=DUE, estimated_minutes=60) == team["a"]
    # A member demoted to viewer keeps the profile but does no work.
    Membership.objects.filter(user=team["a"]).update(role=Role.VIEWER)
    assert least_loaded_user(skill="onboarding", due_date=DUE, estimated_minutes=60) is None
    assert least_loaded_user(skill="executive", due_date=DUE, estimated_minutes=60) is None


def test_least_loaded_is_one_query(team, django_assert_num_queries):
    for user in team.values():
        load(user, 30)
    with django_assert_num_queries(1):
        least_loaded_user(skill="onboarding", due_date=DUE, estimated_minutes=60)


def test_owner_rule_gives_the_owner(team, account):
    assert (
        step_assignment(step=step(AssigneeRule.OWNER), account=account, due_date=DUE).user
        == (team["a"])
    )


def test_owner_out_of_office_falls_back_to_least_loaded_with_the_skill(team, account):
    services.out_of_office_add(profile=profile(team["a"]), starts_on=DUE, ends_on=DUE)
    picked = step_assignment(
        step=step(AssigneeRule.OWNER, skill="onboarding"), account=account, due_date=DUE
    )
    assert picked.user == team["c"]
    assert "out of office" in picked.reason


def test_owner_taking_no_assignments_falls_back(team, account):
    services.csm_profile_update(profile=profile(team["a"]), takes_assignments=False)
    picked = step_assignment(
        step=step(AssigneeRule.OWNER, skill="training"), account=account, due_date=DUE
    )
    assert picked.user == team["b"]


def test_named_user_rule_and_its_fallback(team, account):
    named = step(AssigneeRule.USER, skill="onboarding", assignee_user=team["b"])
    assert step_assignment(step=named, account=account, due_date=DUE).user == team["b"]
    services.out_of_office_add(
        profile=profile(team["b"]), starts_on=DUE - dt.timedelta(days=3), ends_on=DUE
    )
    load(team["a"], 60)
    assert step_assignment(step=named, account=account, due_date=DUE).user == team["c"]


def test_nobody_qualifies_goes_to_the_owner_else_unassigned(team, account):
    lonely = step(AssigneeRule.LEAST_LOADED, skill="executive")
    assert step_assignment(step=lonely, account=account, due_date=DUE).user == team["a"]
    orphan = factories.account(owner=None)
    picked = step_assignment(step=lonely, account=orphan, due_date=DUE)
    assert picked.user is None and "unassigned" in picked.reason


def test_round_robin_goes_around_in_position_order_and_skips_the_absent(team, account):
    group = services.csm_group_save(
        name="Pod", member_ids=[team["c"].pk, team["a"].pk, team["b"].pk]
    )
    rr = step(AssigneeRule.ROUND_ROBIN, assignee_group=group)
    picks = [step_assignment(step=rr, account=account, due_date=DUE).user for _ in range(4)]
    assert picks == [team["c"], team["a"], team["b"], team["c"]]
    group.refresh_from_db()
    assert group.cursor == 1
    # ana is away: her turn passes to the next in line, and the cursor moves past bo.
    services.out_of_office_add(profile=profile(team["a"]), starts_on=DUE, ends_on=DUE)
    assert step_assignment(step=rr, account=account, due_date=DUE).user == team["b"]
    group.refresh_from_db()
    assert group.cursor == 0
    assert step_assignment(step=rr, account=account, due_date=DUE).user == team["c"]


def test_round_robin_passes_over_someone_who_takes_no_assignments(team, account):
    group = services.csm_group_save(name="Pod", member_ids=[team["a"].pk, team["b"].pk])
    services.csm_profile_update(profile=profile(team["a"]), takes_assignments=False)
    rr = step(AssigneeRule.ROUND_ROBIN, assignee_group=group)
    picks = [step_assignment(step=rr, account=account, due_date=DUE).user for _ in range(2)]
    assert picks == [team["b"], team["b"]]


def test_round_robin_with_everyone_away_falls_back_to_least_loaded(team, account):
    group = services.csm_group_save(name="Solo", member_ids=[team["c"].pk])
    services.out_of_office_add(profile=profile(team["c"]), starts_on=DUE, ends_on=DUE)
    rr = step(AssigneeRule.ROUND_ROBIN, skill="training", assignee_group=group)
    picked = step_assignment(step=rr, account=account, due_date=DUE)
    assert picked.user == team["b"] and "nobody in the group" in picked.reason


def test_playbook_start_resolves_assignees_at_that_moment(team, account):
    playbook = Playbook.objects.create(name="Mixed")
    PlaybookStep.objects.create(playbook=playbook, position=1, title="Own", due_offset_days=1)
    PlaybookStep.objects.create(
        playbook=playbook,
        position=2,
        title="Train",
        required_skill="training",
        assignee_rule=AssigneeRule.LEAST_LOADED,
    )
    run, _ = services.playbook_start(
        playbook=playbook, account=account, occurrence_key="k1", actor=None
    )
    assignees = dict(Task.objects.filter(run=run).values_list("title", "assignee_id"))
    assert assignees == {"Own": team["a"].pk, "Train": team["b"].pk}


@pytest.mark.django_db(transaction=True)  # two threads, two connections: they see commits only
def test_concurrent_round_robin_starts_never_pick_the_same_person(tenant):
    """Two transactions start a round-robin step at once: the group row lock
    makes the second wait and take the next person."""
    team = {name: make_user(tenant, Role.CSM) for name in "abc"}
    # Committed (the context is a transaction), so the threads see it.
    with tenant_context(tenant):
        services.csm_profiles_ensure()
        group = services.csm_group_save(name="Race", member_ids=[team["a"].pk, team["b"].pk])
        playbook = Playbook.objects.create(name="Race")
        PlaybookStep.objects.create(
            playbook=playbook,
            title="Call",
            assignee_rule=AssigneeRule.ROUND_ROBIN,
            assignee_group=group,
        )
        accounts = [factories.account(owner=team["c"]) for _ in range(2)]
    first_inside = threading.Event()
    errors = []

    def first():
        # Picks and holds its transaction open while the second one tries.
        try:
            with tenant_context(tenant):
                services.playbook_start(
                    playbook=playbook, account=accounts[0], occurrence_key="race", actor=None
                )
                first_inside.set()
                hold_until_another_waits()
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
            first_inside.set()
        finally:
            connections.close_all()

    def second():
        try:
            first_inside.wait(timeout=10)
            with tenant_context(tenant):
                services.playbook_start(
                    playbook=playbook, account=accounts[1], occurrence_key="race", actor=None
                )
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    connection.close()
    with tenant_context(tenant):
        assignees = sorted(
            Task.objects.filter(Q(run__playbook=playbook)).values_list("assignee_id", flat=True)
        )
    assert assignees == sorted([team["a"].pk, team["b"].pk])
