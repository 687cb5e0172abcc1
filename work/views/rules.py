"""Automation rule pages: the list (CSMs and up read it; leaders and admins
switch rules on and off), the editor (leaders and admins), and each rule's
run log with "retry now" on a failed action (leaders and admins retry).
Viewers get 403 everywhere.

The editor posts one form: the trigger's settings as `trigger_config.<name>`,
condition rows as `conditions.<i>.<part>` and action rows as
`actions.<i>.kind` / `actions.<i>.config.<name>`, the same keys the service
reports errors under, so each message lands next to its field. The inputs
are drawn from the same declarations that check them: a trigger's or an
action's settings form (work.rules.forms), a condition field's kind
(work.rules.conditions.KINDS). Changing the trigger or an action's kind
re-draws the form for it (htmx, or the "Update fields" button without
JavaScript); blank rows are ignored.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from csplatform.tenancy.models import Role
from csplatform.ui.access import FORM_ERRORS, requires_role
from csplatform.validation import model_formfield
from work import selectors
from work.models import ActionRun, Rule
from work.rules.actions import SECRET_MASK, action_kind, action_kinds
from work.rules.conditions import KINDS, MAX_CONDITIONS, OP_LABELS
from work.rules.forms import editor_fields
from work.rules.occurrences import occurrence_texts
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
    texts = occurrence_texts(page, config=rule.trigger_config)
    rows = [
        {
            "firing": firing,
            "occurrence": texts[firing.pk],
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
def _settings_from_post(post, settings, prefix: str) -> dict:
    """The posted values of a settings form's inputs (blank ones left out)."""
    config = {}
    for name in settings.base_fields:
        value = post.get(f"{prefix}.{name}", "").strip()
        if value:
            config[name] = value
    return config


def _condition_from_post(post, i: int) -> dict | None:
    """A condition row as the condition kind reads its text box."""
    field = post.get(f"conditions.{i}.field", "")
    if not field:
        return None
    op = post.get(f"conditions.{i}.op", "")
    item: dict = {"field": field, "op": op}
    kind = KINDS.get(field)
    text = post.get(f"conditions.{i}.value", "").strip()
    if kind is None:
        item["value"] = text
        return item
    if kind.has_key:
        item["key"] = post.get(f"conditions.{i}.key", "").strip()
    item["value"] = kind.from_text(op, text)
    return item


def _parse(post) -> dict:
    """The editor's POST as the service's arguments."""
    trigger = post.get("trigger", "")
    spec = TRIGGERS.get(trigger)
    trigger_config = _settings_from_post(post, spec.settings, "trigger_config") if spec else {}
    conditions = [
        condition
        for i in range(MAX_CONDITIONS + BLANK_CONDITION_ROWS)
        if (condition := _condition_from_post(post, i)) is not None
    ]
    actions = []
    for i in range(MAX_ACTION_ROWS):
        kind = action_kind(post.get(f"actions.{i}.kind", ""))
        if kind is None:
            continue
        config = _settings_from_post(post, kind.settings, f"actions.{i}.config")
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
    # What is stored may predate today's checks: shown as far as it reads.
    conditions = rule.conditions if isinstance(rule.conditions, list) else []
    return {
        "name": rule.name,
        "description": rule.description,
        "is_active": rule.is_active,
        "cooldown_hours": rule.cooldown_hours,
        "trigger": rule.trigger,
        "trigger_config": rule.trigger_config,
        "conditions": conditions,
        "actions": [{"kind": a.kind, "config": a.config} for a in rule.actions.all()],
    }


def _settings_fields(settings, config: object, prefix: str, errors: dict) -> list[dict]:
    """The inputs of a settings form, showing `config`."""
    form = settings(initial=config if isinstance(config, dict) else {}, prefix=prefix)
    return editor_fields(form, errors)


def _editor_context(data: dict, errors: dict, rule: Rule | None) -> dict:
    used: set[str] = set()

    def take(key: str) -> list[str]:
        used.add(key)
        return errors.get(key, [])

    spec = TRIGGERS.get(data["trigger"])
    trigger_fields = (
        _settings_fields(spec.settings, data["trigger_config"], "trigger_config", errors)
        if spec
        else []
    )
    used.update(f["name"] for f in trigger_fields)
    condition_rows = []
    rows = list(data["conditions"]) + [{}] * BLANK_CONDITION_ROWS
    for i, condition in enumerate(rows[: MAX_CONDITIONS + BLANK_CONDITION_ROWS]):
        at = f"conditions.{i}"
        condition = condition if isinstance(condition, dict) else {}
        field = condition.get("field", "")
        kind = KINDS.get(field) if isinstance(field, str) else None
        value = condition.get("value")
        condition_rows.append(
            {
                "index": i,
                "ops": [(op, OP_LABELS[op]) for op in (kind.ops if kind else OP_LABELS)],
                "field": field,
                "op": condition.get("op", ""),
                "key": condition.get("key", ""),
                "value": kind.text_of(value) if kind else ("" if value is None else str(value)),
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
        prefix = f"actions.{i}.config"
        fields = (
            _settings_fields(kind.settings, action.get("config") or {}, prefix, errors)
            if kind
            else []
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
        "condition_fields": [(name, kind.label) for name, kind in KINDS.items()],
        "action_rows": action_rows,
        "action_kinds": [(kind, a.label) for kind, a in kinds.items()],
        "hints": {name: hints for name, kind in KINDS.items() if (hints := kind.hints())},
        # The bounds the model holds, for the number input.
        "cooldown_attrs": model_formfield(Rule, "cooldown_hours").widget.attrs,
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
        for position, secret in saved.new_secrets.items():
            messages.warning(
                request,
                f"Signing secret of webhook {position + 1}: {secret} — copy it to the "
                "receiver now; it is not shown again.",
            )
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
