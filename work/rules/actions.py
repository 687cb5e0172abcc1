"""Rule actions: a registry that work's built-ins and later apps (campaigns'
"enrol in a campaign") register into with

    register_action(kind, label, form_class, run, *, summary=None, after_commit=False)

- `form_class` is a `work.rules.forms.ConfigForm`: its fields are the
  settings the rule editor draws for the kind, and its cleaning checks a
  config (from the editor or the API's JSON), with errors by setting that
  the rule service reports as `actions.<i>.config.<setting>`. Choices read
  from the database (playbooks, members) are this tenant's, so an id of
  another tenant is an error on its setting.
- `run(ctx, config)` runs the action for one firing: it returns a small
  JSON result, or raises `ActionFailed` (with `retry=False` for a failure a
  retry cannot fix, such as a guarded stage move); any other exception is
  retried with backoff. Each run is wrapped in its own savepoint by the
  runner, so a failing action undoes only its own writes and never blocks
  the rule's other actions.
- `summary(config, names)` is a short text for lists; `after_commit=True`
  for actions that reach outside the database (email, webhooks).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import urllib3
from django import forms
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from csplatform.tenancy.models import Membership, Role, User, role_at_least
from csplatform.validation import model_formfield
from lifecycle.errors import TransitionRejected
from lifecycle.models import Account, Stage, TimelineEntry
from lifecycle.timeline import register_kind
from work.models import Playbook, PlaybookRun, PlaybookStep, Priority, RunStatus, Task
from work.rules.forms import ConfigForm, choice, text
from work.rules.webhooks import (
    WebhookRefused,
    webhook_headers,
    webhook_post,
    webhook_secret_new,
    webhook_secret_problem,
)

WEBHOOK_TIMEOUT_SECONDS = 5
# What a webhook secret looks like when a rule is read back.
SECRET_MASK = "********"
LONG_TEXT_MAX = 5000

register_kind("rule_note", "Automation note")


class ActionFailed(Exception):
    """An action that did not do its job. `retry=False`: a retry cannot fix it."""

    def __init__(self, message: str, *, retry: bool = True, result: dict | None = None):
        super().__init__(message)
        self.message = message
        self.retry = retry
        self.result = result or {}


@dataclass
class ActionContext:
    """What an action runs with: the firing's rule and account, the trigger's
    payload, and its own ActionRun (for a delivery id)."""

    rule: object
    firing: object
    account: Account
    action_run: object
    trigger: str
    occurrence_key: str
    payload: dict = field(default_factory=dict)

    @property
    def reason(self) -> str:
        return f"Rule “{self.rule.name}”"


@dataclass(frozen=True)
class ActionKind:
    kind: str
    label: str
    settings: type[ConfigForm]
    run: Callable[[ActionContext, dict], dict]
    # summary(config, names): a short text for lists; `names` holds names
    # read once per page, e.g. {("playbook", id): name}.
    summary: Callable[[dict, dict], str] | None = None
    # Reaches outside our database (email, webhooks): attempted only after
    # the firing has committed, by a worker, never inside the transaction of
    # the event that fired it. A rolled-back firing then sends nothing, and a
    # slow receiver holds no lock.
    after_commit: bool = False

    def validate_config(self, config: object) -> dict:
        """The cleaned config, or ValidationError({setting: [message]})."""
        clean, errors = self.settings.check(config)
        if errors:
            raise ValidationError({key or "config": messages for key, messages in errors.items()})
        return clean

    def describe(self, config: dict, names: dict | None = None) -> str:
        if self.summary is None:
            return self.label
        try:
            return self.summary(config or {}, names or {})
        except (KeyError, TypeError, ValueError):
            return self.label


_registry: dict[str, ActionKind] = {}


def register_action(
    kind: str,
    label: str,
    form_class: type[ConfigForm],
    run: Callable[[ActionContext, dict], dict],
    *,
    summary: Callable[[dict, dict], str] | None = None,
    after_commit: bool = False,
) -> ActionKind:
    """Offer an action to rules (see the module doc)."""
    if not (isinstance(form_class, type) and issubclass(form_class, ConfigForm)):
        raise TypeError(f"The settings of action {kind!r} are a ConfigForm subclass.")
    action = ActionKind(kind, label, form_class, run, summary, after_commit)
    _registry[kind] = action
    return action


def action_kinds() -> dict[str, ActionKind]:
    return dict(_registry)


def action_kind(kind: str) -> ActionKind | None:
    return _registry.get(kind)


def _textarea(label: str, **kwargs) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        initial="",
        max_length=LONG_TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        **kwargs,
    )


# -- start a playbook ------------------------------------------------------------
def _playbook_choices() -> list[tuple[str, str]]:
    return [(str(pk), name) for pk, name in Playbook.objects.values_list("pk", "name")]


class StartPlaybookSettings(ConfigForm):
    playbook_id = choice(
        _playbook_choices,
        label="Playbook",
        coerce=int,
        invalid="No such playbook in this workspace.",
    )


def _run_playbook(ctx: ActionContext, config: dict) -> dict:
    from work.services import playbook_start

    playbook = Playbook.objects.filter(pk=config["playbook_id"]).first()
    if playbook is None:
        raise ActionFailed("The playbook no longer exists.", retry=False)
    active = (
        PlaybookRun.objects.filter(playbook=playbook, account=ctx.account, status=RunStatus.ACTIVE)
        .exclude(occurrence_key=f"rule:{ctx.firing.pk}")
        .first()
    )
    if active is not None:
        # The account is already in this playbook (started by hand, by this
        # or another rule): a second copy would only double the CSM's tasks.
        return {"playbook_run_id": active.pk, "created": False, "already_running": True}
    try:
        run, created = playbook_start(
            playbook=playbook,
            account=ctx.account,
            occurrence_key=f"rule:{ctx.firing.pk}",
            actor=None,
            reason=ctx.reason,
        )
    except ValidationError as error:  # e.g. the playbook was switched off
        raise ActionFailed(" ".join(error.messages), retry=False) from error
    return {
        "playbook_run_id": run.pk,
        "created": created,
        "task_ids": list(run.tasks.order_by("pk").values_list("pk", flat=True)),
    }


def _playbook_summary(config: dict, names: dict) -> str:
    return f"Start playbook “{names.get(('playbook', config.get('playbook_id')), '?')}”"


# -- create a task ---------------------------------------------------------------
def _assignee_choices() -> list[tuple[str, str]]:
    members = Membership.objects.select_related("user").order_by("user__email")
    return [("owner", "Account owner")] + [
        (str(m.user_id), m.user.email) for m in members if role_at_least(m.role, Role.CSM)
    ]


class CreateTaskSettings(ConfigForm):
    # The task's limits and defaults are the task's (and a step's due offset).
    title = model_formfield(Task, "title", label="Task title")
    instructions = _textarea("Instructions")
    due_in_days = model_formfield(
        PlaybookStep, "due_offset_days", label="Due in (days)", help_text="0: due today"
    )
    priority = model_formfield(Task, "priority", label="Priority")
    estimated_minutes = model_formfield(Task, "estimated_minutes", label="Estimate (minutes)")
    assignee = choice(
        _assignee_choices,
        label="Assignee",
        initial="owner",
        invalid="Choose a CSM, leader or admin of this workspace.",
    )

    def clean_assignee(self) -> str | int:
        value = self.cleaned_data["assignee"]
        return "owner" if value in ("", "owner") else int(value)


def _run_task(ctx: ActionContext, config: dict) -> dict:
    from work.services import task_create

    assignee = ctx.account.owner
    if config.get("assignee", "owner") != "owner":
        assignee = User.objects.filter(pk=config["assignee"]).first()
    try:
        task = task_create(
            account=ctx.account,
            title=config["title"],
            instructions=config.get("instructions", ""),
            due_date=timezone.localdate() + dt.timedelta(days=config.get("due_in_days") or 0),
            actor=None,
            assignee=assignee,
            priority=config.get("priority") or Priority.NORMAL,
            estimated_minutes=config.get("estimated_minutes"),
        )
    except ValidationError as error:
        raise ActionFailed(" ".join(error.messages), retry=False) from error
    return {"task_id": task.pk, "assignee_id": task.assignee_id}


# -- notify by email -------------------------------------------------------------
NOTIFY_TARGETS = [("owner", "Account owner"), ("assignee", "The trigger's task assignee")]


class NotifyEmailSettings(ConfigForm):
    to = choice(NOTIFY_TARGETS, label="To", initial="owner")
    subject = text(
        label="Subject", required=False, initial="", help_text="Default: the rule and account names"
    )
    message = _textarea("Message")


def _run_email(ctx: ActionContext, config: dict) -> dict:
    if config.get("to") == "assignee":
        assignee_id = ctx.payload.get("assignee_id")
        user = User.objects.filter(pk=assignee_id).first() if assignee_id else None
        who = "the task's assignee"
    else:
        user = ctx.account.owner
        who = "the account owner"
    if user is None or not user.email:
        raise ActionFailed(f"Nobody to notify: {who} is not set.", retry=False)
    subject = config.get("subject") or f"{ctx.rule.name}: {ctx.account.name}"
    lines = [
        config.get("message") or "",
        f"Account: {ctx.account.name}",
        f"Rule: {ctx.rule.name}",
        f"Trigger: {ctx.trigger} ({ctx.occurrence_key})",
    ]
    if ctx.payload.get("title"):
        lines.append(f"Task: {ctx.payload['title']}")
    send_mail(subject[:200], "\n".join(line for line in lines if line), None, [user.email])
    return {"to": user.email}


# -- signed webhook (Standard Webhooks: work.rules.webhooks) ----------------------
class WebhookSettings(ConfigForm):
    url = text(label="URL", max_length=2000, widget=forms.URLInput)
    secret = text(
        label="Signing secret",
        required=False,
        widget=forms.PasswordInput,
        help_text="Signs each delivery the Standard Webhooks way (webhook-signature). "
        "Leave blank to keep the current secret, or on a new webhook to get a "
        "whsec_ secret generated and shown once.",
    )

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValidationError("Enter an http:// or https:// address.")
        return url

    def clean_secret(self) -> str:
        # Blank here means no secret before either (the rule service fills in
        # the one a saved webhook had): a new one is generated.
        secret = self.cleaned_data["secret"] or webhook_secret_new()
        problem = webhook_secret_problem(secret)
        if problem:
            raise ValidationError(problem)
        return secret


def webhook_body(ctx: ActionContext) -> bytes:
    """The JSON a webhook posts: the same bytes on every attempt."""
    body = {
        "id": webhook_id(ctx),
        "rule": {"id": ctx.rule.pk, "name": ctx.rule.name},
        "account": {
            "id": ctx.account.pk,
            "name": ctx.account.name,
            "external_id": ctx.account.external_id,
        },
        "trigger": ctx.trigger,
        "occurrence": ctx.occurrence_key,
        "fired_at": ctx.firing.created_at,
        "payload": ctx.payload,
    }
    # ensure_ascii (the default): the body is signed as text, byte for byte.
    return json.dumps(body, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":")).encode()


def webhook_id(ctx: ActionContext) -> str:
    """Stable per action run: every retry of one delivery carries it."""
    return f"rule-action-{ctx.action_run.pk}"


def _run_webhook(ctx: ActionContext, config: dict) -> dict:
    body = webhook_body(ctx)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "csplatform-rules/1",
        **webhook_headers(
            msg_id=webhook_id(ctx), body=body, secret=config["secret"], at=timezone.now()
        ),
    }
    try:
        status = webhook_post(config["url"], body, headers, timeout=WEBHOOK_TIMEOUT_SECONDS)
    except WebhookRefused as refused:
        raise ActionFailed(str(refused), retry=False) from refused
    except (urllib3.exceptions.HTTPError, OSError) as error:
        reason = getattr(error, "reason", None) or error
        raise ActionFailed(f"Could not deliver: {reason}.") from error
    if not 200 <= status < 300:
        raise ActionFailed(f"The receiver answered {status}.", result={"status": status})
    return {"status": status}


# -- timeline entry ----------------------------------------------------------------
class TimelineEntrySettings(ConfigForm):
    title = model_formfield(TimelineEntry, "title", label="Title")
    body = _textarea("Text")


def _run_timeline(ctx: ActionContext, config: dict) -> dict:
    from lifecycle.services import timeline_record

    entry = timeline_record(
        account=ctx.account,
        kind="rule_note",
        title=config["title"],
        body=config.get("body", ""),
        actor=None,
        payload={"rule_id": ctx.rule.pk, "firing_id": ctx.firing.pk},
    )
    return {"timeline_entry_id": entry.pk}


# -- move the stage ----------------------------------------------------------------
class MoveStageSettings(ConfigForm):
    to_stage = choice(
        Stage.choices,
        label="To stage",
        help_text="Guarded as usual: a forward move needs the stage's achievements",
    )


def _run_move(ctx: ActionContext, config: dict) -> dict:
    from lifecycle.services import account_transition

    to_stage = config["to_stage"]
    current = Account.objects.filter(pk=ctx.account.pk).values_list("stage", flat=True).first()
    if current == to_stage:
        return {"stage": to_stage, "unchanged": True}
    try:
        # Guarded as any move: no force, so missing achievements refuse it.
        account_transition(
            account_id=ctx.account.pk, to_stage=to_stage, actor=None, role=None, reason=ctx.reason
        )
    except TransitionRejected as rejected:
        raise ActionFailed(
            rejected.message,
            retry=False,
            result={"code": rejected.code, "missing": rejected.missing},
        ) from rejected
    return {"stage": to_stage, "from": current}


def _stage_name(value) -> str:
    return Stage(value).label if value in Stage.values else "?"


register_action(
    "start_playbook",
    "Start a playbook",
    StartPlaybookSettings,
    _run_playbook,
    summary=_playbook_summary,
)
register_action(
    "create_task",
    "Create a task",
    CreateTaskSettings,
    _run_task,
    summary=lambda c, _: f"Create task “{c.get('title')}”",
)
register_action(
    "notify_email",
    "Notify by email",
    NotifyEmailSettings,
    _run_email,
    summary=lambda c, _: f"Email {dict(NOTIFY_TARGETS).get(c.get('to'), '?').lower()}",
    after_commit=True,
)
register_action(
    "webhook",
    "Post a signed webhook",
    WebhookSettings,
    _run_webhook,
    summary=lambda c, _: f"Post to {urlsplit(c.get('url') or '').netloc or '?'}",
    after_commit=True,
)
register_action(
    "timeline_entry",
    "Add a timeline entry",
    TimelineEntrySettings,
    _run_timeline,
    summary=lambda c, _: f"Timeline: “{c.get('title')}”",
)
register_action(
    "move_stage",
    "Move the stage",
    MoveStageSettings,
    _run_move,
    summary=lambda c, _: f"Move to {_stage_name(c.get('to_stage'))}",
)
