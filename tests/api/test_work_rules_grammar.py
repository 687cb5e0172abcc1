"""The rules API against the closed grammar: a condition, a trigger setting
or an action setting outside it is a 400 naming it by dotted path (the
body the core's one exception handler gives: these tests read it with
tests.errors.error_fields), nothing saved; a rule stored broken reads back
with the reason it cannot run; and the schema describes every kind from
its declaration."""

from __future__ import annotations

import json

import pytest

from csplatform.tenancy.context import tenant_context
from tests import factories
from tests.errors import error_fields
from tests.work.rules_data import evaluate, playbook, rule
from work.models import Rule
from work.rules.actions import action_kinds
from work.rules.triggers import TRIGGERS

pytestmark = pytest.mark.django_db

URL = "/api/v1/rules/"


def body(**overrides) -> dict:
    data = {
        "name": "Escalation follow-up",
        "trigger": "escalation_opened",
        "actions": [{"kind": "timeline_entry", "config": {"title": "Escalated"}}],
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (
            {
                "conditions": [
                    {"field": "attribute", "key": "region__regex", "op": "eq", "value": 1}
                ]
            },
            "conditions.0.key",
        ),
        (
            {"conditions": [{"field": "arr", "op": "gte", "value": "1e999999"}]},
            "conditions.0.value",
        ),
        (
            {"conditions": [{"field": "attribute", "key": "a", "op": "eq", "value": "\ud800"}]},
            "conditions.0.value",
        ),
        (
            {"trigger": "no_usage", "trigger_config": {"days": 99999999999}},
            "trigger_config.days",
        ),
        (
            {
                "actions": [
                    {"kind": "create_task", "config": {"title": "x", "estimated_minutes": 0}}
                ]
            },
            "actions.0.config.estimated_minutes",
        ),
    ],
)
def test_outside_the_grammar_is_400_by_dotted_field(leader_api, inside, change, path):
    # Sent as ASCII JSON: a lone surrogate travels as the escape "\ud800".
    res = leader_api.post(URL, json.dumps(body(**change)), content_type="application/json")
    assert res.status_code == 400
    with inside():
        assert not Rule.objects.exists()
    assert path in error_fields(res)  # waits for the core's error handler


def test_another_workspaces_ids_are_400_by_field(leader_api, inside, tenant, other_tenant):
    with tenant_context(other_tenant):
        theirs = playbook("Theirs")
    res = leader_api.post(
        URL,
        body(
            actions=[
                {"kind": "timeline_entry", "config": {"title": "x"}},
                {"kind": "start_playbook", "config": {"playbook_id": theirs.pk}},
            ]
        ),
        format="json",
    )
    assert res.status_code == 400
    with inside():
        assert not Rule.objects.exists()
    assert error_fields(res)["actions.1.config.playbook_id"] == [
        "No such playbook in this workspace."
    ]


def test_a_rule_stored_broken_reads_back_with_its_problem(api, inside):
    with inside():
        broken = rule("escalation_opened", name="Broken")
        Rule.objects.filter(pk=broken.pk).update(
            conditions=[{"field": "attribute", "key": "a__b", "op": "eq", "value": 1}]
        )
        account = factories.account()
        evaluate(trigger="escalation_opened", account_id=account.pk, occurrence_key="e:1")
    res = api.get(f"{URL}{broken.pk}/")
    assert res.status_code == 200
    assert "conditions.0.key" in res.json()["problem"]
    [firing] = api.get(f"{URL}{broken.pk}/firings/").json()["results"]
    assert firing["status"] == "failed"
    assert firing["detail"]["reason"] == res.json()["problem"]
    assert api.get(URL).status_code == 200  # the list still reads
    with inside():
        Rule.objects.filter(pk=broken.pk).update(trigger_config=["x"], conditions="x")
    again = api.get(f"{URL}{broken.pk}/")
    assert again.status_code == 200
    assert (again.json()["trigger_config"], again.json()["conditions"]) == ({}, [])


def test_the_schema_describes_each_kind_from_its_declaration(client):
    schemas = client.get("/api/schema/?format=json").json()["components"]["schemas"]
    rule_input = schemas["RuleInputRequest"]["properties"]
    triggers = rule_input["trigger_config"]["description"]
    for kind, spec in TRIGGERS.items():
        assert f"{kind} {spec.settings.settings_help()}" in triggers
    assert "task_overdue {days_overdue?}" in triggers
    assert "comparison: at_least|at_most" in triggers
    actions = schemas["RuleActionRequest"]["properties"]["config"]["description"]
    for kind, action in action_kinds().items():
        assert f"{kind} {action.settings.settings_help()}" in actions
    assert rule_input["cooldown_hours"]["maximum"] == 8760  # the model's bound
