"""The rule editor is drawn from the same declarations that check a rule:
each trigger's and action's settings form (labels, inputs, bounds), an
action another app registers included; a condition outside the grammar is
a 422 at its part; and a rule stored broken still opens, and says on the
list, the editor and the run log why it cannot run."""

from __future__ import annotations

import re

import pytest
from django import forms

from csplatform.tenancy.models import Role
from tests import factories
from tests.pages.conftest import url
from tests.pages.test_work_rules import field_error, form
from tests.work.rules_data import evaluate, rule
from work.models import Rule
from work.rules import actions as actions_module
from work.rules.actions import register_action
from work.rules.forms import ConfigForm
from work.rules.triggers import TRIGGERS

pytestmark = pytest.mark.django_db


def reshaped(client, tenant, **fields) -> str:
    response = client.post(url("rule_new", tenant), form(_reshape="1", **fields))
    assert response.status_code == 200
    return response.content.decode()


def test_each_triggers_inputs_are_its_settings_form(page, tenant):
    client = page(Role.LEADER)
    for kind, spec in TRIGGERS.items():
        html = reshaped(client, tenant, trigger=kind)
        for name, field in spec.settings.base_fields.items():
            assert f'name="trigger_config.{name}"' in html, (kind, name)
            assert f'for="f-trigger_config-{name}">{field.label}' in html, (kind, name)
    # the bounds a number input shows are the form's
    html = reshaped(client, tenant, trigger="usage_count")
    window = re.search(r'<input type="number" name="trigger_config.window_days"[^>]*>', html)
    assert 'min="1"' in window.group(0) and 'max="365"' in window.group(0)
    # the create-task action's estimate: the Task model's bounds
    estimate = re.search(
        r'<input type="number" name="actions.0.config.estimated_minutes"[^>]*>', html
    )
    assert 'min="1"' in estimate.group(0) and 'max="10000"' in estimate.group(0)
    assert 'name="cooldown_hours" id="f-cooldown_hours" value="0" min="0" max="8760"' in html


def test_an_action_another_app_registers_is_drawn_and_checked_from_its_form(
    page, tenant, inside, monkeypatch
):
    class EnrolSettings(ConfigForm):
        campaign = forms.ChoiceField(
            label="Campaign", choices=[("win-back", "Win back"), ("nurture", "Nurture")]
        )
        note = forms.CharField(label="Note", required=False, max_length=20)

    monkeypatch.setitem(actions_module._registry, "enrol_in_campaign", None)  # undone after
    register_action("enrol_in_campaign", "Enrol in a campaign", EnrolSettings, lambda c, s: {})
    client = page(Role.LEADER)
    html = reshaped(client, tenant, **{"actions.0.kind": "enrol_in_campaign"})
    assert '<option value="win-back">Win back</option>' in html
    assert (
        'name="actions.0.config.note" id="f-actions-0-config-note" value="" maxlength="20"' in html
    )
    response = client.post(
        url("rule_new", tenant),
        form(**{"actions.0.kind": "enrol_in_campaign", "actions.0.config.campaign": "spam"}),
    )
    assert response.status_code == 422
    assert "Select a valid choice" in field_error(
        response.content.decode(), "f-actions-0-config-campaign"
    )
    saved = client.post(
        url("rule_new", tenant),
        form(**{"actions.0.kind": "enrol_in_campaign", "actions.0.config.campaign": "nurture"}),
    )
    assert saved.status_code == 302
    with inside():
        assert Rule.objects.get().actions.get().config == {"campaign": "nurture"}


def test_a_condition_outside_the_grammar_is_422_at_its_part(page, tenant, inside):
    response = page(Role.LEADER).post(
        url("rule_new", tenant),
        form(
            **{
                "conditions.1.key": "seats__regex",
                "conditions.0.field": "arr",
                "conditions.0.op": "gte",
                "conditions.0.value": "1e999999",
            }
        ),
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "no __" in field_error(html, "f-conditions-1-key")
    assert "14 digits" in field_error(html, "f-conditions-0-value")
    with inside():
        assert not Rule.objects.exists()


def test_a_rule_stored_broken_opens_and_says_why(page, tenant, inside):
    with inside():
        broken = rule("escalation_opened", name="Broken")
        Rule.objects.filter(pk=broken.pk).update(conditions="not a list", trigger_config=["stage"])
        evaluate(
            trigger="escalation_opened",
            account_id=factories.account(name="Initech").pk,
            occurrence_key="event:7",
        )
        problem = Rule.objects.get(pk=broken.pk).problem
    assert "trigger_config" in problem
    client = page(Role.LEADER)
    listing = client.get(url("rules", tenant)).content.decode()
    assert "Cannot run" in listing and problem in listing
    log = client.get(url("rule_log", tenant, broken.pk)).content.decode()
    assert 'id="rule-problem"' in log and "Failed" in log and "Initech" in log
    editor = client.get(url("rule_edit", tenant, broken.pk))
    assert editor.status_code == 200
    assert 'id="rule-problem"' in editor.content.decode()
