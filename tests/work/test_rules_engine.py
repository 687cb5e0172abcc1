"""The engine: once per occurrence under duplicate deliveries, cool-down and
the loop guard, each condition kind passing and failing, validation of
conditions against the workspace, and the query cost of an event."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from csplatform.events.models import DomainEvent
from csplatform.events.services import event_deliver
from csplatform.tenancy.context import tenant_context
from lifecycle.services import segment_save
from tests import factories
from tests.conftest import make_user
from tests.work.rules_data import firings, move, playbook, rule
from work.handlers import on_stage_changed
from work.models import ActionRun, FiringStatus, PlaybookRun, Task
from work.rules import engine
from work.rules.engine import LOOP_GUARD_PER_HOUR, rules_evaluate

pytestmark = pytest.mark.django_db


def fire(account, key="event:1", trigger="escalation_opened", **extra):
    return rules_evaluate(
        trigger=trigger, account_id=account.pk, occurrence_key=key, payload={}, **extra
    )


# -- once per occurrence ----------------------------------------------------------
def test_a_duplicate_delivery_fires_once_and_creates_one_set_of_tasks(in_tenant):
    book = playbook(steps=3)
    r = rule(
        "stage_entered",
        {"stage": "adoption"},
        actions=[{"kind": "start_playbook", "config": {"playbook_id": book.pk}}],
    )
    a = factories.account()
    move(a, "adoption")
    event = DomainEvent.objects.get(kind="stage_changed")
    # the handler called twice with the same event (a receipt lost) ...
    on_stage_changed(event)
    on_stage_changed(event)
    # ... and the event delivered twice by the bus
    event_deliver(tenant=in_tenant, event_id=event.pk)
    DomainEvent.objects.filter(pk=event.pk).update(dispatched_at=None)
    event_deliver(tenant=in_tenant, event_id=event.pk)
    # ... and the engine asked twice about the same occurrence
    for _ in range(2):
        rules_evaluate(
            trigger="stage_entered",
            account_id=a.pk,
            occurrence_key=f"event:{event.pk}",
            payload=event.payload,
        )
    assert len(firings(r)) == 1
    assert PlaybookRun.objects.count() == 1
    assert Task.objects.filter(account=a).count() == 3
    assert ActionRun.objects.count() == 1


def test_a_racing_duplicate_is_refused_by_the_unique_key(in_tenant, monkeypatch):
    """Two deliveries that both passed the look-up: the second insert fails
    in its savepoint and fires nothing."""
    r = rule("escalation_opened")
    a = factories.account()
    fire(a)
    monkeypatch.setattr(engine.RuleFiring.objects, "filter", _no_existing(engine))
    assert fire(a) == []
    assert len(firings(r)) == 1
    assert ActionRun.objects.count() == 1


def _no_existing(engine_module):
    real = engine_module.RuleFiring.objects.filter

    def filtered(*args, **kwargs):
        qs = real(*args, **kwargs)
        return qs.none() if "occurrence_key__in" in kwargs else qs

    return filtered


def test_a_new_occurrence_fires_again(in_tenant):
    r = rule("escalation_opened")
    a = factories.account()
    fire(a, "event:1")
    fire(a, "event:2")
    assert [f.occurrence_key for f in firings(r)] == ["event:1", "event:2"]


# -- cool-down and loop guard ----------------------------------------------------
def test_cooldown_records_a_skipped_firing_that_says_why(in_tenant):
    r = rule("escalation_opened", cooldown_hours=24)
    a, b = factories.account(), factories.account()
    fire(a, "event:1")
    fire(a, "event:2")  # within 24 hours: skipped, no actions
    fire(b, "event:3")  # another account is not cooling down
    fire(a, "event:2")  # the skipped occurrence is still that occurrence
    log = firings(r)
    assert [(f.account_id, f.status) for f in log] == [
        (a.pk, FiringStatus.SUCCEEDED),
        (a.pk, FiringStatus.SKIPPED),
        (b.pk, FiringStatus.SUCCEEDED),
    ]
    assert log[1].detail["skipped"] == "cool-down"
    assert "24-hour cool-down" in log[1].detail["reason"]
    assert not log[1].action_runs.exists()
    # after the cool-down it fires again
    fire(a, "event:4", now=timezone.now() + timedelta(hours=25))
    assert firings(r)[-1].status == FiringStatus.SUCCEEDED


def test_a_rule_firing_in_a_loop_is_held_back(in_tenant):
    r = rule("escalation_opened")
    a = factories.account()
    for i in range(LOOP_GUARD_PER_HOUR + 1):
        fire(a, f"event:{i}")
    log = firings(r)
    assert [f.status for f in log].count(FiringStatus.SUCCEEDED) == LOOP_GUARD_PER_HOUR
    assert log[-1].status == FiringStatus.SKIPPED
    assert log[-1].detail["skipped"] == "loop-guard"


# -- conditions -------------------------------------------------------------------
CONDITION_CASES = [
    # (condition, passes for the account below)
    ({"field": "tier", "op": "in", "value": ["enterprise", "strategic"]}, True),
    ({"field": "tier", "op": "in", "value": ["smb"]}, False),
    ({"field": "tier", "op": "not_in", "value": ["smb"]}, True),
    ({"field": "stage", "op": "in", "value": ["onboarding"]}, True),
    ({"field": "stage", "op": "in", "value": ["usage"]}, False),
    ({"field": "stage", "op": "not_in", "value": ["onboarding"]}, False),
    ({"field": "arr", "op": "gte", "value": 30000}, True),
    ({"field": "arr", "op": "gte", "value": 30001}, False),
    ({"field": "arr", "op": "lte", "value": "29999.99"}, False),
    ({"field": "arr", "op": "between", "value": [10000, 50000]}, True),
    ({"field": "arr", "op": "between", "value": [40000, 50000]}, False),
    ({"field": "attribute", "key": "plan", "op": "eq", "value": "pro"}, True),
    ({"field": "attribute", "key": "plan", "op": "eq", "value": "free"}, False),
    ({"field": "attribute", "key": "plan", "op": "ne", "value": "free"}, True),
    ({"field": "attribute", "key": "plan", "op": "ne", "value": "pro"}, False),
    ({"field": "attribute", "key": "region", "op": "ne", "value": "eu"}, True),  # missing
    ({"field": "attribute", "key": "seats", "op": "gt", "value": 40}, True),
    ({"field": "attribute", "key": "seats", "op": "gt", "value": 50}, False),
    ({"field": "attribute", "key": "seats", "op": "gte", "value": 50}, True),
    ({"field": "attribute", "key": "seats", "op": "lt", "value": 50}, False),
    ({"field": "attribute", "key": "seats", "op": "lte", "value": 50}, True),
    ({"field": "attribute", "key": "plan", "op": "gt", "value": 5}, False),  # text vs number
    ({"field": "attribute", "key": "since", "op": "lt", "value": "2025-01-01"}, True),
    ({"field": "attribute", "key": "tags", "op": "contains", "value": "beta"}, True),
    ({"field": "attribute", "key": "tags", "op": "contains", "value": "gamma"}, False),
    ({"field": "attribute", "key": "note", "op": "contains", "value": "RENEW"}, True),
    ({"field": "attribute", "key": "note", "op": "contains", "value": "churn"}, False),
    ({"field": "attribute", "key": "plan", "op": "exists", "value": True}, True),
    ({"field": "attribute", "key": "region", "op": "exists", "value": True}, False),
    ({"field": "attribute", "key": "region", "op": "exists", "value": False}, True),
]


@pytest.fixture
def subject(in_tenant):
    a = factories.account(
        tier="enterprise",
        attributes={
            "plan": "pro",
            "seats": 50,
            "since": "2024-03-01",
            "tags": ["beta", "eu"],
            "note": "Wants to renew early",
        },
    )
    factories.contract(a, arr=Decimal("10000"))
    factories.contract(a, arr=Decimal("20000"))
    factories.contract(a, arr=Decimal("99000"), status="cancelled")  # not active: not counted
    return a


@pytest.mark.parametrize(("condition", "passes"), CONDITION_CASES)
def test_each_condition_passes_or_fails(subject, condition, passes):
    r = rule("escalation_opened", conditions=[condition])
    fire(subject)
    assert len(firings(r)) == (1 if passes else 0)


def test_owner_and_segment_conditions(subject, users):
    csm, leader = users["csm"], users["leader"]
    subject.owner = csm
    subject.save()
    enterprise = segment_save(name="Enterprise", filters={"tier": ["enterprise"]})
    smb = segment_save(name="SMB", filters={"tier": ["smb"]})
    cases = [
        ({"field": "owner", "op": "in", "value": [csm.pk]}, True),
        ({"field": "owner", "op": "in", "value": [leader.pk]}, False),
        ({"field": "owner", "op": "not_in", "value": [leader.pk]}, True),
        ({"field": "segment", "op": "in", "value": enterprise.pk}, True),
        ({"field": "segment", "op": "in", "value": smb.pk}, False),
        ({"field": "segment", "op": "not_in", "value": smb.pk}, True),
    ]
    for i, (condition, passes) in enumerate(cases):
        r = rule("escalation_opened", conditions=[condition])
        fire(subject, f"event:{i}")
        assert len(firings(r)) == (1 if passes else 0), condition


def test_all_conditions_must_hold(subject):
    both = rule(
        "escalation_opened",
        conditions=[
            {"field": "tier", "op": "in", "value": ["enterprise"]},
            {"field": "stage", "op": "in", "value": ["usage"]},
        ],
    )
    fire(subject)
    assert firings(both) == []


def test_a_deleted_segment_matches_nobody(subject):
    segment = segment_save(name="Enterprise", filters={"tier": ["enterprise"]})
    r = rule(
        "escalation_opened", conditions=[{"field": "segment", "op": "in", "value": segment.pk}]
    )
    segment.delete()
    fire(subject)
    assert firings(r) == []


def test_conditions_are_checked_against_this_workspace(tenant, other_tenant):
    with tenant_context(other_tenant):
        theirs = segment_save(name="Theirs", filters={"tier": ["smb"]})
    outsider = make_user(other_tenant)
    viewer = make_user(tenant, "viewer")
    with tenant_context(tenant):
        with pytest.raises(ValidationError) as raised:
            rule(
                "escalation_opened",
                conditions=[
                    {"field": "segment", "op": "in", "value": theirs.pk},
                    {"field": "owner", "op": "in", "value": [outsider.pk]},
                    {"field": "tier", "op": "in", "value": ["gold"]},
                    {"field": "arr", "op": "between", "value": [5, 1]},
                    {"field": "attribute", "key": "bad key!", "op": "eq", "value": 1},
                    {"field": "stage", "op": "gt", "value": "usage"},
                    {"field": "colour", "op": "in", "value": ["red"]},
                    {"field": "attribute", "key": "x", "op": "exists", "value": "yes"},
                ],
            )
        errors = raised.value.message_dict
        assert errors["conditions.0.value"] == ["No such segment in this workspace."]
        assert errors["conditions.1.value"] == [f"Not members of this workspace: {outsider.pk}."]
        assert "Unknown tier: gold" in errors["conditions.2.value"][0]
        assert errors["conditions.3.value"] == ["The minimum is above the maximum."]
        assert "conditions.4.key" in errors
        assert "conditions.5.op" in errors
        assert "conditions.6.field" in errors
        assert "conditions.7.value" in errors
        # a viewer is a member: may be named as an owner in a condition
        rule("escalation_opened", conditions=[{"field": "owner", "op": "in", "value": [viewer.pk]}])


# -- cost ------------------------------------------------------------------------
def test_an_event_with_no_rule_of_its_trigger_costs_one_query(in_tenant, django_assert_num_queries):
    rule("stage_entered", {"stage": "adoption"})
    a = factories.account()
    with django_assert_num_queries(1):
        fire(a, trigger="escalation_opened")


def test_an_event_checks_every_rule_conditions_in_one_query(in_tenant):
    """The cost of deciding does not grow with the number of rules: the rules,
    one condition query, one look-up of earlier firings, the account, the
    history and the actions; then the firings themselves."""
    for i in range(5):
        rule(
            "escalation_opened",
            conditions=[{"field": "arr", "op": "gte", "value": 1000 * i}],
            name=f"r{i}",
        )
    a = factories.account()
    factories.contract(a, arr=Decimal("2500"))
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        fired = fire(a)
    assert len(fired) == 3  # arr >= 0, 1000, 2000
    selects = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("SELECT")]
    assert sum('FROM "work_rule"' in sql.split("WHERE")[0] for sql in selects) == 1
    assert sum("CASE WHEN" in sql for sql in selects) == 1
