"""Editing playbooks and their steps, starting them once per occurrence,
cancelling runs, and the defaults every tenant starts with."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Role
from lifecycle.models import TimelineEntry
from tests import factories
from tests.conftest import make_tenant, make_user
from tests.waiting import hold_until_another_waits
from work import services
from work.models import (
    AssigneeRule,
    Playbook,
    PlaybookRun,
    PlaybookStep,
    RunStatus,
    Skill,
    Task,
    TaskStatus,
)
from work.services.defaults import DEFAULT_PLAYBOOKS, DEFAULT_SKILLS

pytestmark = pytest.mark.django_db


def errors_of(call, **kwargs) -> dict:
    with pytest.raises(ValidationError) as error:
        call(**kwargs)
    return error.value.message_dict


@pytest.fixture
def playbook(in_tenant):
    return services.playbook_save(name="Kickoff")


def add(playbook, title, **fields) -> PlaybookStep:
    return services.playbook_step_save(playbook=playbook, title=title, **fields)


def test_playbook_names_are_unique_and_stages_known(playbook):
    assert "name" in errors_of(services.playbook_save, name="Kickoff")
    assert "name" in errors_of(services.playbook_save, name="  ")
    assert "stage" in errors_of(services.playbook_save, name="X", stage="nowhere")
    renamed = services.playbook_save(playbook=playbook, name="Kickoff", stage="onboarding")
    assert renamed.stage == "onboarding"


def test_steps_go_to_the_end_and_may_wait_only_for_an_earlier_step(playbook):
    first = add(playbook, "Call")
    second = add(playbook, "Recap", depends_on_id=first.pk)
    assert (first.position, second.position) == (1, 2)
    assert second.depends_on == first
    # Not on a later step, itself, or another playbook's step.
    assert "depends_on" in errors_of(
        services.playbook_step_save,
        playbook=playbook,
        step=first,
        title="Call",
        depends_on_id=second.pk,
    )
    assert "depends_on" in errors_of(
        services.playbook_step_save, playbook=playbook, step=first, title="Call",
        depends_on_id=first.pk,
    )  # fmt: skip
    elsewhere = add(services.playbook_save(name="Other"), "Else")
    assert "depends_on" in errors_of(
        services.playbook_step_save, playbook=playbook, title="New", depends_on_id=elsewhere.pk
    )
    # Moving a step after one that waits for it would break the order.
    assert "position" in errors_of(
        services.playbook_step_save, playbook=playbook, step=first, title="Call", position=5
    )


def test_step_rules_need_their_person_group_and_known_skill(playbook, users, other_tenant):
    assert "assignee_user" in errors_of(
        services.playbook_step_save, playbook=playbook, title="X", assignee_rule="user"
    )
    for who in (users[Role.VIEWER], make_user(other_tenant, Role.CSM)):
        assert "assignee_user" in errors_of(
            services.playbook_step_save,
            playbook=playbook,
            title="X",
            assignee_rule="user",
            assignee_user_id=who.pk,
        )
    assert "assignee_group" in errors_of(
        services.playbook_step_save, playbook=playbook, title="X", assignee_rule="round_robin"
    )
    assert "required_skill" in errors_of(
        services.playbook_step_save, playbook=playbook, title="X", required_skill="juggling"
    )
    bad = errors_of(
        services.playbook_step_save,
        playbook=playbook,
        title="",
        estimated_minutes=0,
        due_offset_days=-1,
        priority=9,
        assignee_rule="magic",
    )
    assert set(bad) >= {
        "title",
        "estimated_minutes",
        "due_offset_days",
        "priority",
        "assignee_rule",
    }
    step = add(
        playbook,
        "Named",
        assignee_rule="user",
        assignee_user_id=users[Role.LEADER].pk,
        required_skill="technical",
    )
    assert step.assignee_user == users[Role.LEADER]


def test_deleting_a_step_rewires_the_ones_waiting_for_it(playbook):
    a = add(playbook, "A")
    b = add(playbook, "B", depends_on_id=a.pk)
    c = add(playbook, "C", depends_on_id=b.pk)
    services.playbook_step_delete(step=b)
    assert PlaybookStep.objects.get(pk=c.pk).depends_on_id == a.pk


def test_estimate_set(playbook):
    step = add(playbook, "A")
    services.playbook_step_estimate_set(step=step, estimated_minutes=75, actor=None)
    assert PlaybookStep.objects.get(pk=step.pk).estimated_minutes == 75
    assert "estimated_minutes" in errors_of(
        services.playbook_step_estimate_set, step=step, estimated_minutes=0, actor=None
    )


def test_start_creates_tasks_once_per_occurrence_with_due_dates(playbook, users):
    account = factories.account(owner=users[Role.CSM])
    a = add(playbook, "Call", due_offset_days=2, priority=1, estimated_minutes=45)
    add(playbook, "Recap", depends_on_id=a.pk)
    add(playbook, "Parallel", due_offset_days=5)
    run, created = services.playbook_start(
        playbook=playbook, account=account, occurrence_key="manual:1:abc", actor=None
    )
    for _ in range(3):
        again, created_again = services.playbook_start(
            playbook=playbook, account=account, occurrence_key="manual:1:abc", actor=None
        )
        assert not created_again and again.pk == run.pk
    assert created
    tasks = {t.title: t for t in Task.objects.filter(run=run)}
    assert set(tasks) == {"Call", "Parallel"}
    today = timezone.localdate()
    assert tasks["Call"].due_date == today + dt.timedelta(days=2)
    assert (tasks["Call"].priority, tasks["Call"].estimated_minutes) == (1, 45)
    assert PlaybookRun.objects.filter(playbook=playbook, account=account).count() == 1
    # Another occurrence is another run.
    _, created_other = services.playbook_start(
        playbook=playbook, account=account, occurrence_key="manual:1:def", actor=None
    )
    assert created_other and Task.objects.filter(run__playbook=playbook).count() == 4


def test_a_switched_off_playbook_does_not_start(playbook, users):
    account = factories.account(owner=users[Role.CSM])
    add(playbook, "Call")
    services.playbook_save(playbook=playbook, name="Kickoff", is_active=False)
    assert "playbook" in errors_of(
        services.playbook_start, playbook=playbook, account=account, occurrence_key="k", actor=None
    )


def test_cancel_cancels_open_tasks_and_stops_the_run(playbook, users):
    account = factories.account(owner=users[Role.CSM])
    a = add(playbook, "Call")
    add(playbook, "Recap", depends_on_id=a.pk)
    add(playbook, "Other")
    run, _ = services.playbook_start(
        playbook=playbook, account=account, occurrence_key="k", actor=None
    )
    done = Task.objects.get(run=run, title="Other")
    services.task_transition(task=done, action="complete", actor=None)
    services.playbook_run_cancel(run=run, actor=users[Role.CSM], reason="Customer paused")
    statuses = dict(Task.objects.filter(run=run).values_list("title", "status"))
    assert statuses == {"Call": TaskStatus.CANCELLED, "Other": TaskStatus.DONE}
    assert PlaybookRun.objects.get(pk=run.pk).status == RunStatus.CANCELLED
    assert TimelineEntry.objects.filter(account=account, kind="playbook_cancelled").exists()
    # Completing a cancelled run's task later creates nothing more.
    call = Task.objects.get(run=run, title="Call")
    services.task_transition(task=call, action="reopen", actor=None)
    services.task_transition(task=call, action="complete", actor=None)
    assert not Task.objects.filter(run=run, title="Recap").exists()


def test_delete_a_playbook_or_switch_it_off_when_it_ran(playbook, users):
    unused = services.playbook_save(name="Unused")
    assert services.playbook_delete(playbook=unused) is True
    assert not Playbook.objects.filter(pk=unused.pk).exists()
    add(playbook, "Call")
    services.playbook_start(
        playbook=playbook,
        account=factories.account(owner=users[Role.CSM]),
        occurrence_key="k",
        actor=None,
    )
    assert services.playbook_delete(playbook=playbook) is False
    assert Playbook.objects.get(pk=playbook.pk).is_active is False


def test_a_new_tenant_gets_the_default_skills_and_playbooks(db):
    tenant = make_tenant()
    with tenant_context(tenant):
        assert set(Skill.objects.values_list("key", flat=True)) == {k for k, _ in DEFAULT_SKILLS}
        playbooks = {p.key: p for p in Playbook.objects.prefetch_related("steps")}
        assert set(playbooks) == {spec.key for spec in DEFAULT_PLAYBOOKS}
        assert len(playbooks) == 7
        renewal = playbooks["renewal-prep-120"]
        steps = list(renewal.steps.order_by("position"))
        assert steps[0].depends_on is None
        assert all(s.depends_on_id == prev.pk for prev, s in itertools.pairwise(steps))
        assert all(s.instructions for p in playbooks.values() for s in p.steps.all())
        risk = playbooks["risk-recovery"].steps.order_by("position").first()
        assert risk.priority == 1 and risk.due_offset_days == 0
        assert (
            playbooks["onboarding-kickoff"]
            .steps.filter(assignee_rule=AssigneeRule.LEAST_LOADED, required_skill="technical")
            .exists()
        )
        # Idempotent, and an edited default is left alone.
        services.playbook_save(playbook=renewal, name="Renewal prep (our way)")
        assert services.work_defaults_ensure() == {"skills": 0, "playbooks": 0}
        assert Playbook.objects.count() == 7


def test_work_defaults_command_fills_every_tenant(db):
    tenant = make_tenant()
    with tenant_context(tenant):
        Playbook.objects.filter(key="advocate-ask").delete()
    out = StringIO()
    call_command("work_defaults", stdout=out)
    assert f"{tenant.slug}: 0 skills, 1 playbooks added" in out.getvalue()
    with tenant_context(tenant):
        assert Playbook.objects.filter(key="advocate-ask").exists()


@pytest.mark.django_db(transaction=True)  # two threads, two connections: they see commits only
def test_a_duplicate_start_racing_the_first_creates_nothing(tenant):
    """The second delivery of the same occurrence arrives while the first is
    still in its transaction: it waits on the unique key, then answers with
    the run that won."""
    owner = make_user(tenant, Role.CSM)
    with tenant_context(tenant):
        services.csm_profiles_ensure()
        playbook = services.playbook_save(name="Race")
        services.playbook_step_save(playbook=playbook, title="Call")
        account = factories.account(owner=owner)
    first_inside = threading.Event()
    results, errors = {}, []

    def start(name, hold):
        try:
            if not hold:
                first_inside.wait(timeout=10)
            with tenant_context(tenant):
                results[name] = services.playbook_start(
                    playbook=playbook, account=account, occurrence_key="event:7", actor=None
                )
                if hold:
                    first_inside.set()
                    hold_until_another_waits()
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
            first_inside.set()
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=start, args=("first", True)),
        threading.Thread(target=start, args=("second", False)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    (run1, created1), (run2, created2) = results["first"], results["second"]
    assert created1 and not created2 and run1.pk == run2.pk
    with tenant_context(tenant):
        assert PlaybookRun.objects.filter(playbook=playbook).count() == 1
        assert Task.objects.filter(run__playbook=playbook).count() == 1
