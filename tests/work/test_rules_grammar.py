"""Rules are checked when saved against a closed grammar (known fields and
ops, bounded values, texts PostgreSQL can store, ids of this workspace),
each trigger and action kind by its one settings form; and a rule stored
broken (poisoned in the database) is recorded for that rule at run time,
never stopping the delivery, the sweep or the other rules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from csplatform.tenancy.context import tenant_context
from lifecycle.models import Account, Segment
from lifecycle.services import segment_save
from tests import factories
from tests.conftest import make_user
from tests.work.rules_data import firings, playbook, rule
from work.models import FiringStatus, Rule
from work.rules import conditions
from work.rules.actions import action_kinds
from work.rules.engine import rules_evaluate, rules_sweep
from work.rules.triggers import TRIGGERS
from work.services.rules import rule_save

pytestmark = pytest.mark.django_db


def errors_of(**fields) -> dict[str, list[str]]:
    fields.setdefault("trigger", "escalation_opened")
    with pytest.raises(ValidationError) as raised:
        rule(fields.pop("trigger"), fields.pop("config", None), **fields)
    return raised.value.message_dict


def condition_errors(condition: dict) -> dict[str, list[str]]:
    return errors_of(conditions=[condition])


# -- the grammar of conditions ----------------------------------------------------------
ATTRIBUTE = {"field": "attribute", "op": "eq", "value": 1}


@pytest.mark.parametrize(
    ("condition", "path"),
    [
        # Django lookup syntax, or anything but a plain name, is not a key.
        ({**ATTRIBUTE, "key": "region__regex"}, "conditions.0.key"),
        ({**ATTRIBUTE, "key": "1st"}, "conditions.0.key"),
        ({**ATTRIBUTE, "key": "a" * 65}, "conditions.0.key"),
        ({**ATTRIBUTE, "key": ["seats"]}, "conditions.0.key"),
        ({**ATTRIBUTE, "key": "seats", "value": "x" * 201}, "conditions.0.value"),
        ({**ATTRIBUTE, "key": "seats", "value": 10**16}, "conditions.0.value"),
        ({**ATTRIBUTE, "key": "seats", "value": float("nan")}, "conditions.0.value"),
        ({**ATTRIBUTE, "key": "seats", "value": {"$gt": 1}}, "conditions.0.value"),
        ({**ATTRIBUTE, "key": "seats", "op": "gt", "value": float("inf")}, "conditions.0.value"),
        ({**ATTRIBUTE, "key": "seats", "op": "regex", "value": "x"}, "conditions.0.op"),
        # ARR within the Contract.arr column: 14 digits, 2 decimals, not negative.
        ({"field": "arr", "op": "gte", "value": "1e999999"}, "conditions.0.value"),
        ({"field": "arr", "op": "gte", "value": float("nan")}, "conditions.0.value"),
        ({"field": "arr", "op": "gte", "value": 10**13}, "conditions.0.value"),
        ({"field": "arr", "op": "gte", "value": -1}, "conditions.0.value"),
        ({"field": "arr", "op": "lte", "value": "1.001"}, "conditions.0.value"),
        ({"field": "arr", "op": "between", "value": [1, "x"]}, "conditions.0.value"),
        ({"field": "arr", "op": "between", "value": [1, 2, 3]}, "conditions.0.value"),
        # Lists of at most 100 items; ids that fit a bigint.
        ({"field": "tier", "op": "in", "value": ["smb"] * 101}, "conditions.0.value"),
        ({"field": "owner", "op": "in", "value": list(range(1, 102))}, "conditions.0.value"),
        ({"field": "owner", "op": "in", "value": [2**70]}, "conditions.0.value"),
        ({"field": "segment", "op": "in", "value": 2**70}, "conditions.0.value"),
        ({"field": "segment", "op": "in", "value": True}, "conditions.0.value"),
        ({"field": "region__regex", "op": "in", "value": "x"}, "conditions.0.field"),
        ({"field": ["tier"], "op": "in", "value": "x"}, "conditions.0.field"),
        # Texts PostgreSQL cannot store, and nesting, wherever they are.
        ({**ATTRIBUTE, "key": "seats", "value": "a\ud800b"}, "conditions.0.value"),
        ({**ATTRIBUTE, "key": "se\x00ats"}, "conditions.0.key"),
        ({**ATTRIBUTE, "key": "seats", "value": [[[[[[[[[["deep"]]]]]]]]]]}, "conditions.0.value"),
    ],
)
def test_a_condition_outside_the_grammar_is_an_error_at_its_part(in_tenant, condition, path):
    errors = condition_errors(condition)
    assert list(errors) == [path], errors
    assert not Rule.objects.exists()


def test_conditions_inside_the_grammar_are_saved_as_given(in_tenant):
    conditions = [
        {"field": "attribute", "op": "gte", "key": "Seats in use", "value": 10},
        {"field": "attribute", "op": "eq", "key": "plan-tier_2", "value": True},
        {"field": "arr", "op": "between", "value": ["0", "999999999999.99"]},
        {"field": "tier", "op": "in", "value": ["smb"] * 100},
    ]
    saved = rule("escalation_opened", conditions=conditions)
    assert saved.conditions[0] == conditions[0]
    assert saved.conditions[2]["value"] == ["0", "999999999999.99"]


def test_ids_in_conditions_and_actions_must_be_this_workspaces(tenant, other_tenant):
    with tenant_context(other_tenant):
        their_book = playbook("Theirs")
        their_segment = segment_save(name="Theirs", filters={"tier": ["smb"]})
        outsider = make_user(other_tenant)
    with tenant_context(tenant):
        errors = errors_of(
            conditions=[
                {"field": "segment", "op": "in", "value": their_segment.pk},
                {"field": "owner", "op": "in", "value": [outsider.pk, 10**12]},
                {"field": "segment", "op": "not_in", "value": 10**12},
            ],
            actions=[
                {"kind": "start_playbook", "config": {"playbook_id": their_book.pk}},
                {"kind": "create_task", "config": {"title": "x", "assignee": outsider.pk}},
                {"kind": "start_playbook", "config": {"playbook_id": 2**70}},
            ],
        )
        assert errors == {
            "conditions.0.value": ["No such segment in this workspace."],
            "conditions.1.value": [f"Not members of this workspace: {outsider.pk}, {10**12}."],
            "conditions.2.value": ["No such segment in this workspace."],
            "actions.0.config.playbook_id": ["No such playbook in this workspace."],
            "actions.1.config.assignee": ["Choose a CSM, leader or admin of this workspace."],
            "actions.2.config.playbook_id": ["No such playbook in this workspace."],
        }


# -- the settings of triggers and actions: one form per kind --------------------------
@pytest.mark.parametrize(
    ("trigger", "config", "path"),
    [
        (
            "usage_count",
            {"event": "x", "comparison": "at_least", "count": 10**8, "window_days": 7},
            "count",
        ),
        (
            "usage_count",
            {"event": "x", "comparison": "at_least", "count": 1, "window_days": 0},
            "window_days",
        ),
        (
            "usage_count",
            {"event": "x", "comparison": "often", "count": 1, "window_days": 1},
            "comparison",
        ),
        ("no_usage", {"days": 731}, "days"),
        ("no_usage", {"days": 1e308}, "days"),
        ("no_usage", {"days": True}, "days"),
        ("renewal_within", {"days": "soon"}, "days"),
        ("usage_seen", {"event": "e" * 201}, "event"),
        ("usage_seen", {"event": "\ud83d"}, "event"),
        ("usage_seen", {"event": ["login"]}, "event"),
        ("usage_seen", {"event": "login", "event__regex": "x"}, "event__regex"),
        ("health_dropped", {"points": 101}, "points"),
        ("stage_entered", {"stage": "heaven"}, "stage"),
    ],
)
def test_trigger_settings_outside_their_form_are_errors_by_setting(
    in_tenant, trigger, config, path
):
    assert list(errors_of(trigger=trigger, config=config)) == [f"trigger_config.{path}"]


def test_each_kinds_form_is_what_the_service_checks(in_tenant):
    """A required setting of every trigger and action kind, left out, is an
    error on that setting: the form the editor draws is the check."""
    for kind, spec in TRIGGERS.items():
        required = [
            n for n, f in spec.settings.base_fields.items() if f.required and f.initial is None
        ]
        if required:
            assert f"trigger_config.{required[0]}" in errors_of(trigger=kind, config={}), kind
    for kind, action in action_kinds().items():
        fields = action.settings.base_fields
        required = [n for n, f in fields.items() if f.required and f.initial is None]
        if not required:
            continue  # every setting has a default (notify_email)
        errors = errors_of(actions=[{"kind": kind, "config": {}}])
        assert {f"actions.0.config.{name}" for name in required} <= set(errors), kind


# -- run time: a rule stored broken ------------------------------------------------------
def fire(account, trigger="escalation_opened", key="event:1", payload=None):
    return rules_evaluate(
        trigger=trigger, account_id=account.pk, occurrence_key=key, payload=payload or {}
    )


@pytest.mark.parametrize(
    "poison",
    [
        [{"field": "attribute", "key": "region__regex", "op": "eq", "value": "x"}],
        [{"field": "arr", "op": "gte", "value": "1e999999"}],
        [{"field": "colour", "op": "in", "value": ["red"]}],
        "not a list",
    ],
)
def test_a_poisoned_rule_records_a_failed_firing_and_the_others_fire(in_tenant, poison):
    broken = rule("escalation_opened", name="Broken")
    healthy = rule("escalation_opened", name="Healthy")
    Rule.objects.filter(pk=broken.pk).update(conditions=poison)
    account = factories.account()
    fire(account)
    [ok] = firings(healthy)
    assert ok.status == FiringStatus.SUCCEEDED
    [failed] = firings(broken)
    assert failed.status == FiringStatus.FAILED
    assert failed.action_runs.count() == 0
    assert "“Broken” cannot run: conditions" in failed.detail["reason"]
    problem = Rule.objects.get(pk=broken.pk).problem
    assert problem == failed.detail["reason"]
    # The same occurrence again: nothing twice.
    fire(account)
    assert len(firings(broken)) == 1 and len(firings(healthy)) == 1


def test_poisoned_trigger_settings_are_recorded_for_that_rule(in_tenant):
    broken = rule("health_dropped", {"points": 5}, name="Broken")
    healthy = rule("health_dropped", {"points": 5}, name="Healthy")
    Rule.objects.filter(pk=broken.pk).update(trigger_config={"points": "many"})
    fire(factories.account(), "health_dropped", payload={"new_score": 40, "old_score": 60})
    assert [f.status for f in firings(healthy)] == [FiringStatus.SUCCEEDED]
    [failed] = firings(broken)
    assert failed.status == FiringStatus.FAILED
    assert "trigger_config.points" in failed.detail["reason"]


@pytest.mark.parametrize(
    "filters", [{"arr_min": "1e999999"}, {"attributes": "region"}, {"attributes": {"a__b": 1}}]
)
def test_a_broken_segment_is_recorded_for_its_rule_and_the_others_fire(in_tenant, filters):
    segment = segment_save(name="Poisoned", filters={"tier": ["smb"]})
    Segment.objects.filter(pk=segment.pk).update(filters=filters)
    broken = rule(
        "escalation_opened",
        name="Broken",
        conditions=[{"field": "segment", "op": "in", "value": segment.pk}],
    )
    healthy = rule(
        "escalation_opened",
        name="Healthy",
        conditions=[{"field": "tier", "op": "in", "value": ["smb"]}],
    )
    fire(factories.account(tier="smb"))
    assert [f.status for f in firings(healthy)] == [FiringStatus.SUCCEEDED]
    [failed] = firings(broken)
    assert failed.status == FiringStatus.FAILED
    assert failed.detail["reason"].startswith("Segment “Poisoned”")
    assert Rule.objects.get(pk=broken.pk).problem == failed.detail["reason"]


def test_a_rule_whose_sql_fails_is_set_apart_and_the_others_are_judged(in_tenant, monkeypatch):
    """Past every check, a statement PostgreSQL refuses (here a division by
    zero standing in for whatever a future filter might compile to) fails
    only that rule: the others are judged one by one, in the same delivery."""
    segment = segment_save(name="Fine", filters={"tier": ["smb"]})
    failing = rule(
        "escalation_opened",
        name="Failing",
        conditions=[{"field": "segment", "op": "in", "value": segment.pk}],
    )
    healthy = rule(
        "escalation_opened",
        name="Healthy",
        conditions=[{"field": "tier", "op": "in", "value": ["smb"]}],
    )
    division = RawSQL("(1 / (0 * %s)) = 1", [1], output_field=BooleanField())
    monkeypatch.setattr(conditions, "segment_members_q", lambda segment: Q(division))
    fire(factories.account(tier="smb"))
    assert [f.status for f in firings(healthy)] == [FiringStatus.SUCCEEDED]
    [failed] = firings(failing)
    assert failed.status == FiringStatus.FAILED
    assert "could not run" in failed.detail["reason"]
    assert Account.objects.count() == 1  # the delivery's transaction is still usable


def test_the_sweep_records_a_broken_rule_and_sweeps_the_others(in_tenant):
    broken = rule("no_usage", {"days": 14}, name="Broken")
    healthy = rule("no_usage", {"days": 14}, name="Healthy")
    Rule.objects.filter(pk=broken.pk).update(
        conditions=[{"field": "owner", "op": "in", "value": ["x"]}]
    )
    silent = factories.account()
    Account.objects.filter(pk=silent.pk).update(created_at=timezone.now() - timedelta(days=60))
    assert rules_sweep() == 1
    assert [f.account_id for f in firings(healthy)] == [silent.pk]
    assert firings(broken) == []
    problem = Rule.objects.get(pk=broken.pk)
    assert "conditions.0.value" in problem.problem and problem.problem_at is not None
    # Saved again through the checks, it runs, and the problem is gone.
    rule_save(
        rule=problem,
        name="Broken",
        trigger="no_usage",
        trigger_config={"days": 14},
        actions=[{"kind": "timeline_entry", "config": {"title": "x"}}],
    )
    assert Rule.objects.get(pk=broken.pk).problem == ""
    assert rules_sweep() == 1
    assert [f.account_id for f in firings(broken)] == [silent.pk]
