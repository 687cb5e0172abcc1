"""Writes to automation rules: save (with every part validated, errors keyed
by field: `name`, `trigger_config.<setting>`, `conditions.<i>.<part>`,
`actions.<i>.config.<setting>`), delete, switch on and off, and retrying a
failed action by hand. Firing is the engine's (`work.rules.engine`).

The rule's own fields are checked by the Rule model's fields (name length,
cool-down range, description length); the trigger's and each action's
settings by the kind's form (`work.rules.forms`); the conditions by their
grammar (`work.rules.conditions`). Every text anywhere in a rule is checked
first for what PostgreSQL cannot store (NUL, lone surrogates)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from csplatform.tenancy.models import User
from csplatform.validation import fields_check
from work.models import ActionRun, ActionStatus, Rule, RuleAction
from work.rules.actions import SECRET_MASK, action_kind, action_kinds
from work.rules.conditions import MAX_CONDITIONS, conditions_validate
from work.rules.engine import rules_evaluate, rules_fire, rules_sweep
from work.rules.forms import unsafe_text
from work.rules.runner import action_run_execute, action_runs_retry_due
from work.rules.triggers import trigger_validate

__all__ = [
    "MAX_ACTIONS",
    "MAX_CONDITIONS",
    "action_run_retry",
    "action_runs_retry_due",
    "rule_delete",
    "rule_save",
    "rule_toggle",
    "rules_evaluate",
    "rules_fire",
    "rules_sweep",
]

MAX_ACTIONS = 10


def _previous_secret(rule: Rule | None, position: int, url: str) -> str:
    """A webhook saved without its secret keeps the secret it had (the editor
    and the API never show it back)."""
    if rule is None or rule.pk is None:
        return ""
    webhooks = [a for a in rule.actions.all() if a.kind == "webhook" and isinstance(a.config, dict)]
    for action in webhooks:
        if action.position == position:
            return action.config.get("secret", "")
    for action in webhooks:
        if action.config.get("url") == url:
            return action.config.get("secret", "")
    return ""


def _actions_validate(actions: object, rule: Rule | None) -> tuple[list[dict], dict]:
    if not isinstance(actions, list):
        return [], {"actions": ["Must be a list of actions."]}
    if not actions:
        return [], {"actions": ["Add at least one action."]}
    if len(actions) > MAX_ACTIONS:
        return [], {"actions": [f"At most {MAX_ACTIONS} actions."]}
    errors: dict[str, list[str]] = {}
    clean = []
    for i, raw in enumerate(actions):
        at = f"actions.{i}"
        if not isinstance(raw, dict):
            errors[at] = ["Each action is an object with kind and config."]
            continue
        kind = action_kind(str(raw.get("kind") or ""))
        if kind is None:
            errors[f"{at}.kind"] = [f"Choose one of: {', '.join(action_kinds())}."]
            continue
        config = raw.get("config") or {}
        if not isinstance(config, dict):
            errors[f"{at}.config"] = ["Must be an object."]
            continue
        generated = False
        if kind.kind == "webhook" and config.get("secret") in (None, "", SECRET_MASK):
            config = {**config, "secret": _previous_secret(rule, i, config.get("url"))}
            generated = not config["secret"]  # the settings form makes one
        config, config_errors = kind.settings.check(config)
        if config_errors:
            for key, messages in config_errors.items():
                errors[f"{at}.config.{key}" if key else f"{at}.config"] = messages
            continue
        clean.append({"kind": kind.kind, "config": config, "generated_secret": generated})
    return clean, errors


def rule_validate(
    *,
    rule: Rule | None,
    name: str,
    trigger: str,
    trigger_config: object,
    conditions: object,
    actions: object,
    cooldown_hours: object = 0,
    description: str = "",
) -> tuple[dict, dict[str, list[str]]]:
    """Every part of a rule checked; (cleaned values, errors by field)."""
    # First: a NUL or a lone surrogate would fail every query below that carries it.
    errors: dict[str, list[str]] = {}
    for field, value, depth in (
        ("name", name, 0),
        ("description", description, 0),
        ("trigger_config", trigger_config, 1),
        ("conditions", conditions, 2),
        ("actions", actions, 3),
    ):
        errors.update(unsafe_text(value, field, depth))
    if errors:
        return {}, errors
    name = (name or "").strip() if isinstance(name, str) else name
    clean_fields, errors = fields_check(
        Rule,
        _instance=rule,
        name=name,
        description=description or "",
        cooldown_hours=cooldown_hours or 0,
    )
    if "name" not in errors and (
        Rule.objects.filter(name=name).exclude(pk=getattr(rule, "pk", None)).exists()
    ):
        errors["name"] = ["A rule with this name already exists."]
    config, trigger_errors = trigger_validate(trigger, trigger_config)
    errors.update(trigger_errors)
    clean_conditions, condition_errors = conditions_validate(conditions)
    errors.update(condition_errors)
    clean_actions, action_errors = _actions_validate(actions, rule)
    errors.update(action_errors)
    clean = {
        **clean_fields,
        "trigger": trigger,
        "trigger_config": config,
        "conditions": clean_conditions,
        "actions": clean_actions,
    }
    return clean, errors


@transaction.atomic
def rule_save(
    *,
    rule: Rule | None = None,
    name: str,
    trigger: str,
    trigger_config: dict | None = None,
    conditions: list | None = None,
    actions: list,
    cooldown_hours: int = 0,
    description: str = "",
    is_active: bool = True,
    actor: User | None = None,
) -> Rule:
    """Create or replace a rule, its actions in the given order. Firings
    already made keep their own copy of each action (the run log stays true).
    A webhook saved without a secret, and without one before, gets a new
    one: `rule.new_secrets` holds them ({position: secret}) to show once."""
    clean, errors = rule_validate(
        rule=rule,
        name=name,
        trigger=trigger,
        trigger_config=trigger_config,
        conditions=conditions,
        actions=actions,
        cooldown_hours=cooldown_hours,
        description=description,
    )
    if errors:
        raise ValidationError(errors)
    if rule is None:
        rule = Rule(created_by=actor)
    for field in (
        "name",
        "description",
        "trigger",
        "trigger_config",
        "conditions",
        "cooldown_hours",
    ):
        setattr(rule, field, clean[field])
    rule.is_active = bool(is_active)
    # Saved afresh through the checks: whatever stopped it from running is gone.
    rule.problem, rule.problem_at = "", None
    rule.save()
    RuleAction.objects.filter(rule=rule).delete()
    RuleAction.objects.bulk_create(
        [
            RuleAction(rule=rule, position=i, kind=action["kind"], config=action["config"])
            for i, action in enumerate(clean["actions"])
        ]
    )
    # Webhook secrets generated by this save, by action position: the caller
    # shows them once (they read back masked ever after).
    rule.new_secrets = {
        i: action["config"]["secret"]
        for i, action in enumerate(clean["actions"])
        if action.get("generated_secret")
    }
    return rule


@transaction.atomic
def rule_toggle(*, rule: Rule, is_active: bool) -> Rule:
    Rule.objects.filter(pk=rule.pk).update(is_active=is_active, updated_at=timezone.now())
    rule.is_active = is_active
    return rule


@transaction.atomic
def rule_delete(*, rule: Rule) -> None:
    """The rule goes with its run log."""
    rule.delete()


def action_run_retry(*, action_run: ActionRun) -> ActionRun:
    """ "Retry now" on a failed (or waiting) action: one more attempt, at once."""
    with transaction.atomic():
        run = ActionRun.objects.select_for_update().get(pk=action_run.pk)
        if run.status not in (ActionStatus.FAILED, ActionStatus.RETRYING):
            raise ValidationError({"action_run": ["Only a failed or waiting action is retried."]})
        run.status = ActionStatus.RETRYING
        run.next_attempt_at = timezone.now()
        run.finished_at = None
        run.save(update_fields=["status", "next_attempt_at", "finished_at", "updated_at"])
    done = action_run_execute(action_run_id=run.pk, force=True)
    if done is None:
        raise ValidationError({"action_run": ["This action is running now; look again shortly."]})
    return done
