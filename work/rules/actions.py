"""Rule actions: a registry that work's built-ins and later apps (campaigns'
"enrol in a campaign") register into with `register_action`.

An action kind validates its config (field-level errors keyed by setting)
and runs for one firing: it returns a small JSON result, or raises
`ActionFailed` (with `retry=False` for a failure a retry cannot fix, such as
a guarded stage move); any other exception is retried with backoff. Each run
is wrapped in its own savepoint by the runner, so a failing action undoes
only its own writes and never blocks the rule's other actions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from csplatform.tenancy.models import Membership, Role, User, role_at_least
from lifecycle.errors import TransitionRejected
from lifecycle.models import Account, Stage
from lifecycle.timeline import register_kind
from work.models import Playbook, PlaybookRun, Priority, RunStatus
from work.rules.fields import (
    ConfigField,
    Errors,
    clean_choice,
    clean_int,
    clean_text,
    unknown_keys,
)

WEBHOOK_TIMEOUT_SECONDS = 5
SIGNATURE_HEADER = "X-CSP-Signature"
# What a webhook secret looks like when a rule is read back.
SECRET_MASK = "********"

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
    validate_config: Callable[[dict], dict]
    run: Callable[[ActionContext, dict], dict]
    fields: tuple[ConfigField, ...] = ()
    # summary(config, names): a short text for lists; `names` holds names
    # read once per page, e.g. {("playbook", id): name}.
    summary: Callable[[dict, dict], str] | None = None
    # Reaches outside our database (email, webhooks): attempted only after
    # the firing has committed, by a worker, never inside the transaction of
    # the event that fired it. A rolled-back firing then sends nothing, and a
    # slow receiver holds no lock.
    after_commit: bool = False

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
    validate_config: Callable[[dict], dict],
    run: Callable[[ActionContext, dict], dict],
    *,
    fields: tuple[ConfigField, ...] = (),
    summary: Callable[[dict, dict], str] | None = None,
    after_commit: bool = False,
) -> ActionKind:
    """Offer an action to rules. `validate_config(config)` returns the cleaned
    config or raises ValidationError({setting: [message]}); `run(ctx, config)`
    returns a JSON-able result or raises (see the module doc). Actions that
    reach outside the database pass `after_commit=True`."""
    action = ActionKind(kind, label, validate_config, run, tuple(fields), summary, after_commit)
    _registry[kind] = action
    return action


def action_kinds() -> dict[str, ActionKind]:
    return dict(_registry)


def action_kind(kind: str) -> ActionKind | None:
    return _registry.get(kind)


def _raise(errors: Errors) -> None:
    if errors:
        raise ValidationError(errors)


# -- start a playbook ------------------------------------------------------------
def _playbook_choices() -> list[tuple[str, str]]:
    return [(str(pk), name) for pk, name in Playbook.objects.values_list("pk", "name")]


def _validate_playbook(config: dict) -> dict:
    errors: Errors = {}
    unknown_keys(config, {"playbook_id"}, errors)
    playbook_id = clean_int(config, "playbook_id", errors, lo=1, hi=2**62)
    if playbook_id and not Playbook.objects.filter(pk=playbook_id).exists():
        errors["playbook_id"] = ["No such playbook in this workspace."]
    _raise(errors)
    return {"playbook_id": playbook_id}


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


def _clean_assignee(config: dict, errors: Errors) -> str | int:
    value = config.get("assignee", "owner")
    if value in (None, "", "owner"):
        return "owner"
    try:
        user_id = int(value)
    except (TypeError, ValueError):
        errors["assignee"] = ["The account owner (owner) or a member's user id."]
        return "owner"
    membership = Membership.objects.filter(user_id=user_id).first()
    if membership is None or not role_at_least(membership.role, Role.CSM):
        errors["assignee"] = ["Choose a CSM, leader or admin of this workspace."]
    return user_id


def _validate_task(config: dict) -> dict:
    errors: Errors = {}
    unknown_keys(
        config,
        {"title", "instructions", "due_in_days", "priority", "estimated_minutes", "assignee"},
        errors,
    )
    clean = {
        "title": clean_text(config, "title", errors, max_length=200),
        "instructions": clean_text(config, "instructions", errors, required=False, max_length=5000),
        "due_in_days": clean_int(config, "due_in_days", errors, lo=0, hi=730, default=0),
        "priority": clean_int(config, "priority", errors, lo=1, hi=4, default=int(Priority.NORMAL)),
        "estimated_minutes": clean_int(
            config, "estimated_minutes", errors, lo=1, hi=10_000, default=30
        ),
        "assignee": _clean_assignee(config, errors),
    }
    _raise(errors)
    return clean


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
            estimated_minutes=config.get("estimated_minutes") or 30,
        )
    except ValidationError as error:
        raise ActionFailed(" ".join(error.messages), retry=False) from error
    return {"task_id": task.pk, "assignee_id": task.assignee_id}


# -- notify by email -------------------------------------------------------------
NOTIFY_TARGETS = [("owner", "Account owner"), ("assignee", "The trigger's task assignee")]


def _validate_email(config: dict) -> dict:
    errors: Errors = {}
    unknown_keys(config, {"to", "subject", "message"}, errors)
    clean = {
        "to": clean_choice(
            config or {"to": "owner"},
            "to",
            errors,
            [t for t, _ in NOTIFY_TARGETS],
            labels=dict(NOTIFY_TARGETS),
        ),
        "subject": clean_text(config, "subject", errors, required=False, max_length=200),
        "message": clean_text(config, "message", errors, required=False, max_length=5000),
    }
    _raise(errors)
    return clean


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


# -- signed webhook ----------------------------------------------------------------
def _validate_webhook(config: dict) -> dict:
    errors: Errors = {}
    unknown_keys(config, {"url", "secret"}, errors)
    url = clean_text(config, "url", errors, max_length=2000)
    if url and "url" not in errors:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            errors["url"] = ["Enter an http:// or https:// address."]
    secret = clean_text(config, "secret", errors, max_length=200)
    if secret and len(secret) < 8 and "secret" not in errors:
        errors["secret"] = ["Use a secret of at least 8 characters."]
    _raise(errors)
    return {"url": url, "secret": secret}


def webhook_body(ctx: ActionContext) -> bytes:
    """The JSON a webhook posts: the same bytes on every attempt."""
    body = {
        "id": f"rule-action-{ctx.action_run.pk}",
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
    return json.dumps(body, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":")).encode()


def webhook_signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_host_refusal(url: str) -> str | None:
    """Why `url` may not be posted to, or None. A leader of one workspace must
    not be able to make our servers call addresses inside our own network
    (metadata services, the database, Redis): every address the host resolves
    to has to be public, unless CSP_WEBHOOK_ALLOW_PRIVATE is set (a
    deployment whose receivers live on its private network; the tests)."""
    if settings.WEBHOOK_ALLOW_PRIVATE:
        return None
    parts = urlsplit(url)
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return f"The host {parts.hostname} does not resolve."
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0])
        if not address.is_global:
            return f"The host {parts.hostname} is on a private or reserved network ({address})."
    return None


def _run_webhook(ctx: ActionContext, config: dict) -> dict:
    refusal = webhook_host_refusal(config["url"])
    if refusal:
        raise ActionFailed(refusal, retry=False)
    body = webhook_body(ctx)
    request = urllib.request.Request(
        config["url"],
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "csplatform-rules/1",
            SIGNATURE_HEADER: webhook_signature(body, config["secret"]),
            "X-CSP-Delivery": f"rule-action-{ctx.action_run.pk}",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        raise ActionFailed(
            f"The receiver answered {error.code}.", result={"status": error.code}
        ) from error
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise ActionFailed(f"Could not deliver: {reason}.") from error
    if not 200 <= status < 300:
        raise ActionFailed(f"The receiver answered {status}.", result={"status": status})
    return {"status": status}


# -- timeline entry ----------------------------------------------------------------
def _validate_timeline(config: dict) -> dict:
    errors: Errors = {}
    unknown_keys(config, {"title", "body"}, errors)
    clean = {
        "title": clean_text(config, "title", errors, max_length=300),
        "body": clean_text(config, "body", errors, required=False, max_length=5000),
    }
    _raise(errors)
    return clean


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
def _validate_move(config: dict) -> dict:
    errors: Errors = {}
    unknown_keys(config, {"to_stage"}, errors)
    clean = {"to_stage": clean_choice(config, "to_stage", errors, Stage.values)}
    _raise(errors)
    return clean


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
    _validate_playbook,
    _run_playbook,
    fields=(
        ConfigField("playbook_id", "Playbook", "choice", required=True, choices=_playbook_choices),
    ),
    summary=_playbook_summary,
)
register_action(
    "create_task",
    "Create a task",
    _validate_task,
    _run_task,
    fields=(
        ConfigField("title", "Task title", required=True),
        ConfigField("instructions", "Instructions", "textarea"),
        ConfigField("due_in_days", "Due in (days)", "int", help="0: due today"),
        ConfigField(
            "priority",
            "Priority",
            "choice",
            choices=lambda: [(str(v), label) for v, label in Priority.choices],
        ),
        ConfigField("estimated_minutes", "Estimate (minutes)", "int"),
        ConfigField("assignee", "Assignee", "choice", choices=_assignee_choices),
    ),
    summary=lambda c, _: f"Create task “{c.get('title')}”",
)
register_action(
    "notify_email",
    "Notify by email",
    _validate_email,
    _run_email,
    fields=(
        ConfigField("to", "To", "choice", required=True, choices=lambda: NOTIFY_TARGETS),
        ConfigField("subject", "Subject", help="Default: the rule and account names"),
        ConfigField("message", "Message", "textarea"),
    ),
    summary=lambda c, _: f"Email {dict(NOTIFY_TARGETS).get(c.get('to'), '?').lower()}",
    after_commit=True,
)
register_action(
    "webhook",
    "Post a signed webhook",
    _validate_webhook,
    _run_webhook,
    fields=(
        ConfigField("url", "URL", "url", required=True),
        ConfigField(
            "secret",
            "Signing secret",
            "secret",
            required=True,
            help=f"Signs the body: header {SIGNATURE_HEADER}: sha256=<HMAC-SHA256 hex>. "
            "Leave blank to keep the current secret.",
        ),
    ),
    summary=lambda c, _: f"Post to {urlsplit(c.get('url') or '').netloc or '?'}",
    after_commit=True,
)
register_action(
    "timeline_entry",
    "Add a timeline entry",
    _validate_timeline,
    _run_timeline,
    fields=(
        ConfigField("title", "Title", required=True),
        ConfigField("body", "Text", "textarea"),
    ),
    summary=lambda c, _: f"Timeline: “{c.get('title')}”",
)
register_action(
    "move_stage",
    "Move the stage",
    _validate_move,
    _run_move,
    fields=(
        ConfigField(
            "to_stage",
            "To stage",
            "choice",
            required=True,
            choices=lambda: list(Stage.choices),
            help="Guarded as usual: a forward move needs the stage's achievements",
        ),
    ),
    summary=lambda c, _: f"Move to {_stage_name(c.get('to_stage'))}",
)
