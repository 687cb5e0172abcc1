"""The Celery side of rules: the beat entries, the sweep and retry tasks, and
the fast-path retry sent after commit that waits for its due time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from tests import factories
from tests.work.rules_data import rule
from work import tasks
from work.models import ActionRun, ActionStatus, RuleFiring
from work.rules.engine import rules_evaluate

pytestmark = pytest.mark.django_db


def test_beat_runs_the_sweep_and_the_retries():
    scheduled = {
        entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }
    assert scheduled["work.tasks.rules_sweep"] <= 600
    assert 15 <= scheduled["work.tasks.rule_actions_retry_due"] <= 30


def test_the_sweep_task_fires_timed_rules(in_tenant):
    r = rule("no_usage", {"days": 3})
    acct = factories.account()
    factories.account()  # too new to judge
    from lifecycle.models import Account

    Account.objects.filter(pk=acct.pk).update(created_at=timezone.now() - timedelta(days=10))
    assert tasks.rules_sweep.delay().get() == 1
    assert RuleFiring.objects.get().rule_id == r.pk


def test_a_fast_path_retry_waits_for_its_due_time(
    in_tenant, django_capture_on_commit_callbacks, settings
):
    settings.WEBHOOK_ALLOW_PRIVATE = True  # the closed port on 127.0.0.1 refuses it
    acct = factories.account()
    rule_ = rule(
        "nps_received",
        actions=[
            {"kind": "webhook", "config": {"url": "http://127.0.0.1:9/", "secret": "12345678"}}
        ],
    )
    # nothing reaches outside inside the firing's transaction
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        rules_evaluate(trigger="nps_received", account_id=acct.pk, occurrence_key="e:1", payload={})
    run = ActionRun.objects.get(firing__rule=rule_)
    assert (run.status, run.attempts) == (ActionStatus.PENDING, 0)
    # after commit the first attempt runs (eagerly here, so at once), fails and
    # sends its retry, which is not due yet, so nothing runs
    with django_capture_on_commit_callbacks(execute=True) as retries:
        for callback in callbacks:
            callback()
    assert len(callbacks) == 1 and len(retries) == 1
    run.refresh_from_db()
    assert (run.status, run.attempts) == (ActionStatus.RETRYING, 1)
    assert tasks.rule_action_retry.delay(in_tenant.pk, run.pk).get() is False
    # once due, the task attempts it
    ActionRun.objects.filter(pk=run.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=5)
    )
    assert tasks.rule_action_retry.delay(in_tenant.pk, run.pk).get() is True
    run.refresh_from_db()
    assert run.attempts == 2
    # and the beat task finds the next one when it is due
    ActionRun.objects.filter(pk=run.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=5)
    )
    assert tasks.rule_actions_retry_due.delay().get() == 1
    run.refresh_from_db()
    assert run.attempts == 3


def test_a_retry_for_a_deleted_tenant_is_dropped():
    assert tasks.rule_action_retry.delay(999_999, 1).get() is None  # a logged no-op
