"""Each action kind's effect, failures that are retried with backoff and then
recorded (never dropped, never blocking the next action), and the registry
other apps extend. Webhooks: test_rules_webhooks.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django import forms
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import transaction
from django.test import TestCase
from django.utils import timezone

from lifecycle.models import Account, TimelineEntry
from tests import factories
from tests.conftest import make_tenant
from tests.work.rules_data import evaluate, firings, playbook, rule
from work.models import ActionRun, ActionStatus, FiringStatus, Task
from work.rules import actions as actions_module
from work.rules.actions import ActionFailed, ActionKind, register_action
from work.rules.engine import rules_evaluate, rules_sweep
from work.rules.forms import ConfigForm
from work.rules.runner import MAX_ATTEMPTS, action_runs_retry_due, backoff
from work.services import task_create
from work.services.rules import action_run_retry, rule_save

pytestmark = pytest.mark.django_db


def fire(account, key="event:1", payload=None, trigger="escalation_opened"):
    return evaluate(
        trigger=trigger, account_id=account.pk, occurrence_key=key, payload=payload or {}
    )


def runs() -> list[ActionRun]:
    return list(ActionRun.objects.order_by("firing_id", "position"))


# -- effects ---------------------------------------------------------------------
def test_start_playbook_creates_its_tasks(in_tenant, users):
    book = playbook(steps=2)
    rule(
        "escalation_opened",
        actions=[{"kind": "start_playbook", "config": {"playbook_id": book.pk}}],
    )
    a = factories.account(owner=users["csm"])
    [firing] = fire(a)
    tasks = list(Task.objects.filter(account=a).order_by("pk"))
    assert [t.title for t in tasks] == [f"{book.name} step 1", f"{book.name} step 2"]
    assert {t.assignee_id for t in tasks} == {users["csm"].pk}
    run = runs()[0]
    assert run.status == ActionStatus.SUCCEEDED
    assert run.result["task_ids"] == [t.pk for t in tasks]
    assert tasks[0].run.occurrence_key == f"rule:{firing.pk}"


def test_start_playbook_leaves_an_account_already_in_that_playbook_alone(in_tenant, users):
    from work.services import playbook_start, task_transition

    book = playbook(steps=1)
    rule(
        "escalation_opened",
        actions=[{"kind": "start_playbook", "config": {"playbook_id": book.pk}}],
    )
    a = factories.account(owner=users["csm"])
    by_hand, _ = playbook_start(playbook=book, account=a, occurrence_key="manual:1", actor=None)
    fire(a, key="event:1")
    assert Task.objects.filter(account=a).count() == 1
    assert runs()[0].status == ActionStatus.SUCCEEDED
    assert runs()[0].result == {
        "playbook_run_id": by_hand.pk,
        "created": False,
        "already_running": True,
    }
    # once that run is over, a new occurrence starts the playbook again
    task_transition(task=Task.objects.get(account=a), action="complete", actor=None)
    fire(a, key="event:2")
    assert Task.objects.filter(account=a).count() == 2


def test_create_task_for_the_owner_or_a_named_member(in_tenant, users):
    rule(
        "escalation_opened",
        actions=[
            {"kind": "create_task", "config": {"title": "Call the champion", "due_in_days": 2}},
            {
                "kind": "create_task",
                "config": {
                    "title": "Exec review",
                    "assignee": users["leader"].pk,
                    "priority": 1,
                    "estimated_minutes": 90,
                },
            },
        ],
    )
    a = factories.account(owner=users["csm"])
    fire(a)
    call, review = Task.objects.filter(account=a).order_by("pk")
    assert (call.title, call.assignee_id, call.due_date) == (
        "Call the champion",
        users["csm"].pk,
        timezone.localdate() + timedelta(days=2),
    )
    assert (review.assignee_id, review.priority, review.estimated_minutes) == (
        users["leader"].pk,
        1,
        90,
    )


def test_notify_email_to_the_owner_and_to_the_task_assignee(in_tenant, users):
    rule(
        "escalation_opened",
        actions=[{"kind": "notify_email", "config": {"to": "owner", "subject": "Escalated!"}}],
    )
    overdue = rule(
        "task_overdue",
        actions=[{"kind": "notify_email", "config": {"to": "assignee", "message": "Late."}}],
    )
    a = factories.account(owner=users["csm"])
    fire(a)
    task_create(
        account=a,
        title="Call",
        due_date=timezone.localdate() - timedelta(days=1),
        actor=None,
        assignee=users["leader"],
    )
    with TestCase.captureOnCommitCallbacks(execute=True):  # emails go after commit
        rules_sweep()
    assert [(m.to, m.subject) for m in mail.outbox] == [
        ([users["csm"].email], "Escalated!"),
        ([users["leader"].email], f"{overdue.name}: {a.name}"),
    ]
    assert "Task: Call" in mail.outbox[1].body


def test_nothing_leaves_for_a_firing_that_rolled_back(in_tenant, users):
    rule(
        "escalation_opened",
        actions=[
            {"kind": "notify_email", "config": {"to": "owner"}},
            {"kind": "webhook", "config": {"url": "https://hooks.test/a", "secret": "12345678"}},
        ],
    )
    a = factories.account(owner=users["csm"])
    with TestCase.captureOnCommitCallbacks(execute=True):
        try:
            with transaction.atomic():
                rules_evaluate(
                    trigger="escalation_opened", account_id=a.pk, occurrence_key="e:1", payload={}
                )
                assert len(runs()) == 2  # recorded, not yet attempted
                raise RuntimeError("the event's transaction failed")
        except RuntimeError:
            pass
    assert mail.outbox == []
    assert runs() == []


def test_notify_email_without_a_recipient_fails_without_retrying(in_tenant):
    rule("escalation_opened", actions=[{"kind": "notify_email", "config": {"to": "owner"}}])
    a = factories.account()  # no owner
    [firing] = fire(a)
    run = runs()[0]
    assert (run.status, run.attempts) == (ActionStatus.FAILED, 1)
    assert run.last_error == "Nobody to notify: the account owner is not set."
    firing.refresh_from_db()
    assert firing.status == FiringStatus.FAILED
    assert mail.outbox == []


def test_timeline_entry(in_tenant):
    rule(
        "escalation_opened",
        actions=[{"kind": "timeline_entry", "config": {"title": "Escalation play", "body": "Go"}}],
    )
    a = factories.account()
    fire(a)
    entry = TimelineEntry.objects.get(account=a, kind="rule_note")
    assert (entry.title, entry.body, entry.actor_id) == ("Escalation play", "Go", None)


def test_move_stage_is_guarded_and_a_refusal_is_recorded_with_what_is_missing(in_tenant):
    rule("escalation_opened", actions=[{"kind": "move_stage", "config": {"to_stage": "adoption"}}])
    rule("nps_received", actions=[{"kind": "move_stage", "config": {"to_stage": "churned"}}])
    a = factories.account()
    fire(a)
    refused = runs()[0]
    assert (refused.status, refused.attempts) == (ActionStatus.FAILED, 1)  # not retried
    assert refused.result["code"] == "guard"
    assert "Kickoff call held" in refused.result["missing"]
    assert "Required achievements are not done" in refused.last_error
    assert Account.objects.get(pk=a.pk).stage == "onboarding"
    # an unguarded move goes through
    fire(a, "event:2", trigger="nps_received")
    assert Account.objects.get(pk=a.pk).stage == "churned"
    assert runs()[1].status == ActionStatus.SUCCEEDED


def test_move_stage_after_the_achievements_are_done(in_tenant):
    rule("escalation_opened", actions=[{"kind": "move_stage", "config": {"to_stage": "adoption"}}])
    a = factories.account()
    factories.complete_stage(a)
    fire(a)
    assert Account.objects.get(pk=a.pk).stage == "adoption"


# -- failures, retries -----------------------------------------------------------
@pytest.fixture
def calls(monkeypatch):
    """A registered action "test_flaky" (for this test only) that raises when
    its config says `fail`; returns the names it was called with."""
    seen: list[str] = []

    def flaky(ctx, config):
        seen.append(config["name"])
        if config.get("fail"):
            raise RuntimeError("receiver down")
        return {"ok": config["name"]}

    class FlakySettings(ConfigForm):
        name = forms.CharField()
        fail = forms.BooleanField(required=False)

    kind = ActionKind("test_flaky", "Test: flaky", FlakySettings, flaky)
    monkeypatch.setitem(actions_module._registry, "test_flaky", kind)
    return seen


def test_a_failing_action_does_not_block_the_next_and_is_retried_then_failed(in_tenant, calls):
    rule(
        "escalation_opened",
        actions=[
            {"kind": "test_flaky", "config": {"name": "first", "fail": True}},
            {"kind": "test_flaky", "config": {"name": "second"}},
        ],
    )
    a = factories.account()
    [firing] = fire(a)
    failing, ok = runs()
    assert calls == ["first", "second"]
    assert (ok.status, ok.result) == (ActionStatus.SUCCEEDED, {"ok": "second"})
    assert (failing.status, failing.attempts) == (ActionStatus.RETRYING, 1)
    assert failing.last_error == "RuntimeError: receiver down"
    firing.refresh_from_db()
    assert firing.status == FiringStatus.RUNNING
    # not due yet: nothing runs
    assert action_runs_retry_due() == 0
    now = timezone.now()
    for attempt in range(2, MAX_ATTEMPTS + 1):
        now += backoff(attempt - 1) + timedelta(seconds=1)
        assert action_runs_retry_due(now=now) == 1
        failing.refresh_from_db()
        assert failing.attempts == attempt
    assert failing.status == ActionStatus.FAILED
    assert failing.next_attempt_at is None
    assert action_runs_retry_due(now=now + timedelta(days=1)) == 0  # recorded, not retried
    firing.refresh_from_db()
    assert firing.status == FiringStatus.PARTIAL
    assert calls.count("first") == MAX_ATTEMPTS and calls.count("second") == 1


def test_backoff_doubles_from_30_seconds():
    assert [backoff(n).total_seconds() for n in range(1, 5)] == [30, 60, 120, 240]


def test_a_failed_action_is_retried_by_hand(in_tenant, calls):
    r = rule(
        "escalation_opened", actions=[{"kind": "test_flaky", "config": {"name": "x", "fail": True}}]
    )
    a = factories.account()
    fire(a)
    run = runs()[0]
    ActionRun.objects.filter(pk=run.pk).update(status=ActionStatus.FAILED, next_attempt_at=None)
    # fixed since: the next attempt succeeds
    from work.models import RuleAction

    RuleAction.objects.filter(rule=r).update(config={"name": "x"})
    ActionRun.objects.filter(pk=run.pk).update(config={"name": "x"})
    done = action_run_retry(action_run=run)
    assert (done.status, done.attempts) == (ActionStatus.SUCCEEDED, 2)
    assert firings(r)[0].status == FiringStatus.SUCCEEDED
    with pytest.raises(ValidationError):
        action_run_retry(action_run=run)  # succeeded: nothing to retry


def test_an_uninstalled_action_kind_fails_its_run(in_tenant):
    r = rule("escalation_opened")
    from work.models import RuleAction

    RuleAction.objects.filter(rule=r).update(kind="gone")
    fire(factories.account())
    run = runs()[0]
    assert run.status == ActionStatus.FAILED
    assert "gone" in run.last_error


def test_action_config_errors_are_field_level(in_tenant):
    other = make_tenant()
    from csplatform.tenancy.context import tenant_context

    with tenant_context(other):
        theirs = playbook("Theirs")
    with pytest.raises(ValidationError) as raised:
        rule(
            "escalation_opened",
            actions=[
                {"kind": "start_playbook", "config": {"playbook_id": theirs.pk}},
                {"kind": "create_task", "config": {"title": "", "priority": 9}},
                {"kind": "webhook", "config": {"url": "ftp://x", "secret": "short"}},
                {"kind": "move_stage", "config": {"to_stage": "heaven"}},
                {"kind": "notify_email", "config": {"to": "everyone"}},
                {"kind": "launch_rocket", "config": {}},
                {"kind": "timeline_entry", "config": {}},
            ],
        )
    errors = raised.value.message_dict
    assert errors["actions.0.config.playbook_id"] == ["No such playbook in this workspace."]
    assert "actions.1.config.title" in errors and "actions.1.config.priority" in errors
    assert "actions.2.config.url" in errors and "actions.2.config.secret" in errors
    assert "actions.3.config.to_stage" in errors
    assert "actions.4.config.to" in errors
    assert "actions.5.kind" in errors
    assert "actions.6.config.title" in errors
    with pytest.raises(ValidationError) as raised:
        rule_save(name="Nothing to do", trigger="escalation_opened", actions=[])
    assert raised.value.message_dict == {"actions": ["Add at least one action."]}


def test_another_app_registers_an_action(in_tenant, monkeypatch):
    seen = []

    class EnrolSettings(ConfigForm):
        """The kind's one declaration: the editor draws it, the check runs it."""

        campaign = forms.CharField(
            label="Campaign", error_messages={"required": "Choose a campaign."}
        )

    def run(ctx, config):
        seen.append((ctx.account.pk, config["campaign"], ctx.trigger))
        if config["campaign"] == "broken":
            raise ActionFailed("No such campaign.", retry=False)
        return {"enrolled": True}

    monkeypatch.setitem(actions_module._registry, "enrol_in_campaign", None)  # undone after
    register_action("enrol_in_campaign", "Enrol in a campaign", EnrolSettings, run)
    with pytest.raises(ValidationError) as raised:
        rule("escalation_opened", actions=[{"kind": "enrol_in_campaign", "config": {}}])
    assert raised.value.message_dict["actions.0.config.campaign"] == ["Choose a campaign."]
    with pytest.raises(TypeError):  # a validating function is no longer enough
        register_action("enrol_in_campaign", "Enrol", lambda c: c, run)
    rule(
        "escalation_opened",
        actions=[
            {"kind": "enrol_in_campaign", "config": {"campaign": "win-back"}},
            {"kind": "enrol_in_campaign", "config": {"campaign": "broken"}},
        ],
    )
    a = factories.account()
    fire(a)
    assert seen == [(a.pk, "win-back", "escalation_opened"), (a.pk, "broken", "escalation_opened")]
    assert [(r.status, r.attempts) for r in runs()] == [
        (ActionStatus.SUCCEEDED, 1),
        (ActionStatus.FAILED, 1),
    ]
