"""Work's limits written once, on the model fields (work.models.limits): the
services report them with the model's message, the forms and serializers
are derived from the fields, task and time-entry days are bounded, and a
bulk reassignment with an id that is not this tenant's task changes
nothing and names the id."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Role
from tests import factories
from work import services
from work.api.playbooks import StepInputSerializer
from work.api.tasks import TaskCreateInputSerializer, TaskTimeEntryInputSerializer
from work.forms_playbooks import ProfileForm, StepForm, WorkSettingsForm
from work.forms_queue import SnoozeForm, TaskCreateForm, TimeLogForm
from work.models import CsmProfile, Playbook, PlaybookStep, Task, TimeEntry, WorkSettings
from work.models.limits import latest_day

pytestmark = pytest.mark.django_db


def model_messages(model, name: str) -> set[str]:
    """The messages the model field's own validators give."""
    return {v.message for v in model._meta.get_field(name).validators if hasattr(v, "message")}


def errors_of(call) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as raised:
        call()
    return raised.value.message_dict


@pytest.fixture
def account(in_tenant, users):
    return factories.account(owner=users[Role.CSM])


@pytest.fixture
def task(account, users):
    return services.task_create(
        account=account,
        title="Kickoff",
        due_date=timezone.localdate(),
        actor=None,
        assignee=users[Role.CSM],
    )


@pytest.fixture
def step(in_tenant):
    return PlaybookStep.objects.create(playbook=Playbook.objects.create(name="P"), title="S")


# -- the estimate: the model's message wherever it is set -----------------------------
@pytest.mark.parametrize("minutes", [0, 10_001, "many"])
def test_every_estimate_write_reports_the_models_rule(account, task, step, minutes):
    [message] = model_messages(Task, "estimated_minutes")
    assert model_messages(PlaybookStep, "estimated_minutes") == {message}
    today = timezone.localdate()
    writes = [
        lambda: services.task_create(
            account=account, title="x", due_date=today, actor=None, estimated_minutes=minutes
        ),
        lambda: services.task_update(task=task, actor=None, estimated_minutes=minutes),
        lambda: services.playbook_step_save(
            playbook=step.playbook, step=step, title="S", estimated_minutes=minutes
        ),
        lambda: services.playbook_step_estimate_set(step=step, estimated_minutes=minutes),
    ]
    for write in writes:
        assert errors_of(write) == {"estimated_minutes": [message]}
    assert Task.objects.get(pk=task.pk).estimated_minutes == 30
    assert PlaybookStep.objects.get(pk=step.pk).estimated_minutes == 30


def test_forms_and_serializers_take_the_bounds_from_the_model(in_tenant):
    [message] = model_messages(Task, "estimated_minutes")
    form = TaskCreateForm({"estimated_minutes": "10001"}, accounts=[])
    assert form.errors["estimated_minutes"] == [message]
    assert 'max="10000"' in str(form["estimated_minutes"]) and 'min="1"' in str(
        form["estimated_minutes"]
    )
    step_form = StepForm(
        {"estimated_minutes": "0", "due_offset_days": "731", "position": "10001"},
        skills=[],
        members=[],
        groups=[],
        steps=[],
    )
    assert step_form.errors["estimated_minutes"] == [message]
    assert step_form.errors["due_offset_days"] == ["Give 0 to 730 days."]
    assert step_form.errors["position"] == ["Give a position from 0 to 10,000."]
    assert TimeLogForm({"minutes": "1441"}).errors["minutes"] == [
        "Log between 1 and 1,440 minutes."
    ]
    hours = ProfileForm({"weekly_capacity_hours": "169"}, skills=[])
    assert (
        hours.errors["weekly_capacity_hours"]
        == [*model_messages(CsmProfile, "weekly_capacity_hours") - {None}][:1]
    )
    assert hours.errors["weekly_capacity_hours"] == ["Give the hours a week, between 0 and 168."]
    share = WorkSettingsForm({"unplanned_share_percent": "91"})
    assert share.errors["unplanned_share_percent"] == [
        *model_messages(WorkSettings, "unplanned_share_percent")
    ]
    # The API's fields are the model's: the same bounds, so the schema shows them.
    create = TaskCreateInputSerializer().fields
    assert (create["estimated_minutes"].min_value, create["estimated_minutes"].max_value) == (
        1,
        10_000,
    )
    assert create["title"].max_length == Task._meta.get_field("title").max_length
    step_fields = StepInputSerializer().fields
    assert step_fields["due_offset_days"].max_value == 730
    assert step_fields["position"].max_value == 10_000
    assert TaskTimeEntryInputSerializer().fields["minutes"].max_value == 1440


def test_the_schema_shows_the_models_bounds(client):
    schema = client.get("/api/schema/?format=json").json()["components"]["schemas"]
    minutes = schema["TaskCreateInputRequest"]["properties"]["estimated_minutes"]
    assert (minutes["minimum"], minutes["maximum"]) == (1, 10_000)
    offset = schema["StepInputRequest"]["properties"]["due_offset_days"]
    assert (offset["minimum"], offset["maximum"]) == (0, 730)


def test_other_limits_are_the_models_too(in_tenant, step, users):
    assert errors_of(
        lambda: services.playbook_step_save(
            playbook=step.playbook, step=step, title="S", due_offset_days=731, position=10_001
        )
    ) == {
        "due_offset_days": ["Give 0 to 730 days."],
        "position": ["Give a position from 0 to 10,000."],
    }
    assert errors_of(
        lambda: services.playbook_step_save(playbook=step.playbook, title="S", priority=9)
    ) == {"priority": ["Choose urgent, high, normal or low."]}
    services.csm_profiles_ensure()
    profile = CsmProfile.objects.get(user=users[Role.CSM])
    assert errors_of(
        lambda: services.csm_profile_update(profile=profile, weekly_capacity_hours="169")
    ) == {"weekly_capacity_hours": ["Give the hours a week, between 0 and 168."]}
    assert errors_of(lambda: services.work_settings_update(unplanned_share_percent=-1)) == {
        "unplanned_share_percent": ["Give a whole percentage from 0 to 90."]
    }
    assert errors_of(lambda: services.playbook_save(name="x" * 151)) == {
        "name": ["Ensure this value has at most 150 characters (it has 151)."]
    }


# -- days: from 2000-01-01 to five years ahead ------------------------------------------
def test_task_days_are_bounded(account, task):
    today = timezone.localdate()
    too_far = latest_day(today) + dt.timedelta(days=1)
    for day in (dt.date(1999, 12, 31), too_far):
        assert "due_date" in errors_of(
            lambda day=day: services.task_create(
                account=account, title="x", due_date=day, actor=None
            )
        )
        assert "due_date" in errors_of(
            lambda day=day: services.task_update(task=task, actor=None, due_date=day)
        )
    assert errors_of(lambda: services.task_snooze(task=task, until=too_far, actor=None)) == {
        "until": [f"Choose a day from 2000-01-01 to {latest_day(today):%Y-%m-%d}."]
    }
    ok = services.task_snooze(task=task, until=latest_day(today), actor=None)
    assert ok.due_date == latest_day(today)
    assert "logged_on" in errors_of(
        lambda: services.task_time_log(
            task=task, minutes=5, actor=None, logged_on=dt.date(1999, 12, 31)
        )
    )
    assert TimeEntry.objects.count() == 0
    # The pages' forms show the same bound at the field.
    assert SnoozeForm({"until": too_far.isoformat()}).errors["until"] == [
        f"Choose a day from 2000-01-01 to {latest_day(today):%Y-%m-%d}."
    ]
    assert "logged_on" in TimeLogForm({"minutes": "5", "logged_on": "1999-01-01"}).errors


def test_a_rule_creating_a_task_cannot_pass_the_task_bounds(in_tenant):
    """The create-task action's estimate and due offset come from the model
    fields too, with the same messages."""
    from tests.work.rules_data import rule

    [message] = model_messages(Task, "estimated_minutes")
    errors = errors_of(
        lambda: rule(
            "escalation_opened",
            actions=[
                {
                    "kind": "create_task",
                    "config": {"title": "x", "estimated_minutes": 10_001, "due_in_days": 731},
                }
            ],
        )
    )
    assert errors["actions.0.config.estimated_minutes"] == [message]
    assert errors["actions.0.config.due_in_days"] == ["Give 0 to 730 days."]


# -- bulk reassignment: foreign and unknown ids are named, nothing moves --------------
def test_reassigning_another_tenants_or_an_unknown_task_moves_nothing(tenant, other_tenant, users):
    from tests.conftest import make_user

    with tenant_context(other_tenant):
        their_csm = make_user(other_tenant)
        theirs = services.task_create(
            account=factories.account(),
            title="Theirs",
            due_date=timezone.localdate(),
            actor=None,
            assignee=their_csm,
        )
    with tenant_context(tenant):
        mine = services.task_create(
            account=factories.account(),
            title="Mine",
            due_date=timezone.localdate(),
            actor=None,
            assignee=users[Role.CSM],
        )
        unknown = theirs.pk + 1000
        errors = errors_of(
            lambda: services.tasks_reassign(
                task_ids=[mine.pk, theirs.pk, unknown],
                assignee_id=users[Role.LEADER].pk,
                actor=None,
            )
        )
        assert errors == {"task_ids": [f"No such task in this workspace: {theirs.pk}, {unknown}."]}
        assert Task.objects.get(pk=mine.pk).assignee == users[Role.CSM]
    with tenant_context(other_tenant):
        assert Task.objects.get(pk=theirs.pk).assignee == their_csm
