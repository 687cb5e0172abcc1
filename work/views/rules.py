"""Automation rule pages: the list (CSMs and up read it; leaders and admins
switch rules on and off), the editor (leaders and admins), and each rule's
run log with "retry now" on a failed action (leaders and admins retry).
Viewers get 403 everywhere.

The editor posts one form: the trigger's settings as `trigger_config.<name>`,
condition rows as `conditions.<i>.<part>` and action rows as
`actions.<i>.kind` / `actions.<i>.config.<name>`, the same keys the service
reports errors under, so each message lands next to its field. Changing the
trigger or an action's kind re-draws the form for it (htmx, or the "Update
fields" button without JavaScript); blank rows are ignored.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from csplatform.tenancy.models import Membership, Role
from csplatform.ui.access import FORM_ERRORS, requires_role
from lifecycle.models import Segment, Stage, Tier
from work import selectors
from work.models import ActionRun, Rule
from work.rules.actions import SECRET_MASK, action_kind, action_kinds
from work.rules.conditions import FIELDS, MAX_CONDITIONS, OP_LABELS, OPS
from work.rules.triggers import TRIGGERS
from work.services import rules as services

BLANK_CONDITION_ROWS = 2
BLANK_ACTION_ROWS = 1
MAX_ACTION_ROWS = services.MAX_ACTIONS + 5
LOG_PAGE_SIZE = 50


# -- the list --------------------------------------------------------------------
@require_http_methods(["GET"])
@requires_role(Role.CSM)
def rule_list(request, tenant_slug):
    rules = list(selectors.rule_list())
    names = selectors.rule_names(rules)
    rows = [{"rule": rule, **selectors.rule_summary(rule, names)} for rule in rules]
    return render(request, "work/rules/list.html", {"rows": rows})


@require_POST
@requires_role(Role.LEADER)
def rule_toggle(request, tenant_slug, pk):
    rule = get_object_or_404(Rule.objects.all(), pk=pk)
    services.rule_toggle(rule=rule, is_active=request.POST.get("is_active") == "on")
    state = "on" if rule.is_active else "off"
    messages.success(request, f"Switched “{rule.name}” {state}.")
    return redirect("rules", tenant_slug=tenant_slug)


@require_POST
@requires_role(Role.LEADER)
def rule_delete(request, tenant_slug, pk):
    rule = get_object_or_404(Rule.objects.all(), pk=pk)
    services.rule_delete(rule=rule)
    messages.success(request, f"Deleted the rule “{rule.name}” and its run log.")
    return redirect("rules", tenant_slug=tenant_slug)


# -- the run log -----------------------------------------------------------------
@require_http_methods(["GET"])
@requires_role(Role.CSM)
def rule_log(request, tenant_slug, pk):
    rule = get_object_or_404(Rule.objects.all(), pk=pk)
    page = Paginator(selectors.rule_firings(rule), LOG_PAGE_SIZE).get_page(request.GET.get("page"))
    labels = {kind: action.label for kind, action in action_kinds().items()}
    rows = [
        {
            "firing": firing,
            "runs": [
                {"run": run, "label": labels.get(run.kind, run.kind)}
                for run in firing.action_runs.all()
            ],
        }
        for firing in page
    ]
    return render(request, "work/rules/log.html", {"rule": rule, "page": page, "rows": rows})


@require_POST
@requires_role(Role.LEADER)
def action_run_retry(request, tenant_slug, pk, run_id):
    run = get_object_or_404(ActionRun.objects.all(), pk=run_id, firing__rule_id=pk)
    try:
        run = services.action_run_retry(action_run=run)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        outcome = "succeeded" if run.status == "succeeded" else f"failed again: {run.last_error}"
        messages.success(request, f"Retried the action: it {outcome}")
    return redirect("rule_log", tenant_slug=tenant_slug, pk=pk)


# -- the editor ------------------------------------------------------------------
def _json_or_text(text: str):
    """An attribute value typed in a box: JSON when it reads as JSON (5, true,
    "5"), else the text itself."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, int | float | bool | str) or value is None else text


def _text_of(value) -> str:
    """The inverse of _json_or_text, for showing a saved value in its box."""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, str):
        return json.dumps(value) if _json_or_text(value) != value else value
    if value is None:
        return ""
    return json.dumps(value)


def _owner_ids(tokens: list[str]) -> list:
    """Owners typed as user ids or member emails."""
    emails = [t for t in tokens if "@" in t and "\x00" not in t]  # a NUL: the service says
    by_email = {}
    if emails:
        by_email = {
            email.lower(): pk
            for pk, email in Membership.objects.filter(user__email__in=emails).values_list(
                "user_id", "user__email"
            )
        }
    out: list = []
    for token in tokens:
        if token.isdigit():
            out.append(int(token))
        else:
            out.append(by_email.get(token.lower(), token))
    return out


def _condition_from_form(field: str, op: str, key: str, text: str) -> dict:
    item: dict = {"field": field, "op": op}
    text = text.strip()
    tokens = [t.strip() for t in text.split(",") if t.strip()]
    if field == "segment":
        item["value"] = int(text) if text.isdigit() else text
    elif field in ("tier", "stage"):
        item["value"] = tokens
    elif field == "owner":
        item["value"] = _owner_ids(tokens)
    elif field == "arr":
        item["value"] = tokens if op == "between" else text
    elif field == "attribute":
        item["key"] = key.strip()
        if op == "exists":
            item["value"] = text.lower() not in ("false", "no", "0") if text else True
        else:
            item["value"] = _json_or_text(text)
    else:
        item["value"] = text
    return item


def _parse(post) -> dict:
    """The editor's POST as the service's arguments."""
    trigger = post.get("trigger", "")
    trigger_config = {}
    spec = TRIGGERS.get(trigger)
    for config_field in spec.fields if spec else ():
        value = post.get(f"trigger_config.{config_field.name}", "").strip()
        if value:
            trigger_config[config_field.name] = value
    conditions = []
    for i in range(MAX_CONDITIONS + BLANK_CONDITION_ROWS):
        field = post.get(f"conditions.{i}.field", "")
        if field:
            conditions.append(
                _condition_from_form(
                    field,
                    post.get(f"conditions.{i}.op", ""),
                    post.get(f"conditions.{i}.key", ""),
                    post.get(f"conditions.{i}.value", ""),
                )
            )
    actions = []
    for i in range(MAX_ACTION_ROWS):
        kind = action_kind(post.get(f"actions.{i}.kind", ""))
        if kind is None:
            continue
        config = {}
        for config_field in kind.fields:
            value = post.get(f"actions.{i}.config.{config_field.name}", "").strip()
            if value:
                config[config_field.name] = value
        actions.append({"kind": kind.kind, "config": config})
    return {
        "name": post.get("name", ""),
        "description": post.get("description", ""),
        "is_active": post.get("is_active") == "on",
        "cooldown_hours": post.get("cooldown_hours", "0").strip() or "0",
        "trigger": trigger,
        "trigger_config": trigger_config,
        "conditions": conditions,
        "actions": actions,
    }


def _from_rule(rule: Rule | None) -> dict:
    if rule is None:
        return {
            "name": "",
            "description": "",
            "is_active": True,
            "cooldown_hours": 0,
            "trigger": "stage_entered",
            "trigger_config": {},
            "conditions": [],
            "actions": [],
        }
    return {
        "name": rule.name,
        "description": rule.description,
        "is_active": rule.is_active,
        "cooldown_hours": rule.cooldown_hours,
        "trigger": rule.trigger,
        "trigger_config": rule.trigger_config,
        "conditions": rule.conditions,
        "actions": [{"kind": a.kind, "config": a.config} for a in rule.actions.all()],
    }


def _config_fields(fields, config: dict, prefix: str, errors: dict) -> list[dict]:
    out = []
    for config_field in fields:
        value = config.get(config_field.name, "")
        if config_field.kind == "secret":
            value = ""  # never shown back
        name = f"{prefix}{config_field.name}"
        out.append(
            {
                "field": config_field,
                "name": name,
                "id": "f-" + name.replace(".", "-"),
                "value": "" if value is None else str(value),
                "choices": config_field.choice_list(),
                "errors": errors.get(name, []),
                "has_secret": config_field.kind == "secret" and bool(config.get(config_field.name)),
            }
        )
    return out


def _editor_context(data: dict, errors: dict, rule: Rule | None) -> dict:
    used: set[str] = set()

    def take(key: str) -> list[str]:
        used.add(key)
        return errors.get(key, [])

    spec = TRIGGERS.get(data["trigger"])
    trigger_fields = _config_fields(
        spec.fields if spec else (), data["trigger_config"] or {}, "trigger_config.", errors
    )
    used.update(f["name"] for f in trigger_fields)
    condition_rows = []
    rows = list(data["conditions"]) + [{}] * BLANK_CONDITION_ROWS
    for i, condition in enumerate(rows[: MAX_CONDITIONS + BLANK_CONDITION_ROWS]):
        at = f"conditions.{i}"
        field = condition.get("field", "")
        condition_rows.append(
            {
                "index": i,
                "ops": [(op, OP_LABELS[op]) for op in OPS.get(field, list(OP_LABELS))],
                "field": field,
                "op": condition.get("op", ""),
                "key": condition.get("key", ""),
                "value": _text_of(condition.get("value")),
                "errors": take(at) + take(f"{at}.field") + take(f"{at}.op"),
                "key_errors": take(f"{at}.key"),
                "value_errors": take(f"{at}.value"),
            }
        )
    kinds = action_kinds()
    action_rows = []
    rows = list(data["actions"]) + [{}] * BLANK_ACTION_ROWS
    for i, action in enumerate(rows):
        kind = kinds.get(action.get("kind", ""))
        prefix = f"actions.{i}.config."
        fields = _config_fields(
            kind.fields if kind else (), action.get("config") or {}, prefix, errors
        )
        used.update(f["name"] for f in fields)
        action_rows.append(
            {
                "index": i,
                "kind": action.get("kind", ""),
                "fields": fields,
                "errors": take(f"actions.{i}")
                + take(f"actions.{i}.kind")
                + take(f"actions.{i}.config"),
            }
        )
    for key in ("name", "description", "cooldown_hours", "trigger"):
        used.add(key)
    return {
        "rule": rule,
        "values": data,
        "errors": errors,
        "other_errors": [
            message for key, msgs in errors.items() if key not in used for message in msgs
        ],
        "triggers": [(kind, spec.label) for kind, spec in TRIGGERS.items()],
        "trigger_fields": trigger_fields,
        "condition_rows": condition_rows,
        "condition_fields": list(FIELDS.items()),
        "action_rows": action_rows,
        "action_kinds": [(kind, a.label) for kind, a in kinds.items()],
        "hints": {
            "stage": list(Stage.choices),
            "tier": list(Tier.choices),
            "segment": [(str(pk), name) for pk, name in Segment.objects.values_list("pk", "name")],
            "owner": [
                (str(pk), email)
                for pk, email in Membership.objects.values_list("user_id", "user__email")
            ],
        },
        "secret_mask": SECRET_MASK,
    }


def _editor(request, rule: Rule | None):
    if request.method == "POST":
        data = _parse(request.POST)
        if request.POST.get("_reshape"):
            # Re-drawn for a new trigger or action kind: nothing saved, no errors yet.
            return render(request, "work/rules/edit.html", _editor_context(data, {}, rule))
        try:
            saved = services.rule_save(rule=rule, actor=request.user, **data)
        except ValidationError as error:
            context = _editor_context(data, error.message_dict, rule)
            return render(request, "work/rules/edit.html", context, status=FORM_ERRORS)
        messages.success(request, f"Saved the rule “{saved.name}”.")
        if request.htmx:
            # A full navigation, so the address bar leaves the editor too.
            return HttpResponseClientRedirect(reverse("rules", args=[request.tenant.slug]))
        return redirect("rules", tenant_slug=request.tenant.slug)
    return render(request, "work/rules/edit.html", _editor_context(_from_rule(rule), {}, rule))


@require_http_methods(["GET", "POST"])
@requires_role(Role.LEADER)
def rule_new(request, tenant_slug):
    return _editor(request, None)


@require_http_methods(["GET", "POST"])
@requires_role(Role.LEADER)
def rule_edit(request, tenant_slug, pk):
    rule = get_object_or_404(Rule.objects.prefetch_related("actions"), pk=pk)
    return _editor(request, rule)
