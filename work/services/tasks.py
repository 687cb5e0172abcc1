"""Every change to a task: creation, status moves, snoozing, time logging,
reassignment. Each writes the account timeline in the same transaction and
records its domain event for after commit."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django_fsm import can_proceed

from csplatform.events.services import event_record
from csplatform.tenancy.models import Membership, Role, User, role_at_least
from csplatform.validation import fields_clean
from lifecycle.models import Account
from lifecycle.services import timeline_record, timeline_record_many
from work.errors import TaskTransitionRejected
from work.models import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    TASK_ACTIONS,
    Task,
    TaskStatus,
    TimeEntry,
)


def _task_payload(task: Task, **extra) -> dict:
    return {
        "task_id": task.pk,
        "run_id": task.run_id,
        "step_id": task.step_id,
        "assignee_id": task.assignee_id,
        **extra,
    }


def assignable_user(*, user_id: int | None, field: str = "assignee") -> User | None:
    """The user if they are a member of the tenant who can do work (csm and
    up); a field-level ValidationError otherwise."""
    if user_id is None:
        return None
    membership = Membership.objects.select_related("user").filter(user_id=user_id).first()
    if membership is None or not role_at_least(membership.role, Role.CSM):
        raise ValidationError({field: ["Choose a CSM, leader or admin of this workspace."]})
    return membership.user


@transaction.atomic
def task_create(
    *,
    account: Account,
    title: str,
    due_date: dt.date,
    actor: User | None,
    assignee: User | None = None,
    priority: int | None = None,
    estimated_minutes: int | None = None,
    instructions: str = "",
    required_skill: str = "",
    run=None,
    step=None,
) -> Task:
    # Every limit (title length, priority, estimate, the due day's bounds)
    # and default is the model's.
    defaults = Task()
    fields = fields_clean(
        Task,
        title=(title or "").strip(),
        instructions=instructions or "",
        due_date=due_date,
        priority=defaults.priority if priority is None else priority,
        estimated_minutes=(
            defaults.estimated_minutes if estimated_minutes is None else estimated_minutes
        ),
        required_skill=required_skill or "",
    )
    if assignee is not None:
        assignable_user(user_id=assignee.pk)
    task = Task.objects.create(
        account=account,
        assignee=assignee,
        original_due_date=fields["due_date"],
        run=run,
        step=step,
        created_by=actor,
        **fields,
    )
    due_date = task.due_date
    who = assignee.display_name if assignee else "nobody yet"
    timeline_record(
        account=account,
        kind="task_created",
        title=f"Task created: {task.title}",
        body=f"Assigned to {who}, due {due_date:%Y-%m-%d}.",
        actor=actor,
        payload=_task_payload(task),
    )
    event_record(kind="task_created", account_id=account.pk, payload=_task_payload(task))
    return task


def task_create_once(*, request_key: str, **fields) -> tuple[Task, bool]:
    """`task_create` for a request that may arrive twice (a double-clicked
    form, an API retry): the first creates the task, the others get it back
    with False. `request_key` names the request, scoped by the caller."""
    request_key = (request_key or "").strip()[:200]
    if not request_key:
        return task_create(**fields), True
    existing = Task.objects.filter(request_key=request_key).first()
    if existing is not None:
        return existing, False
    try:
        # A savepoint, so a racing twin fails alone and gets the winner back.
        with transaction.atomic():
            task = task_create(**fields)
            Task.objects.filter(pk=task.pk).update(request_key=request_key)
            task.request_key = request_key
    except IntegrityError:
        return Task.objects.get(request_key=request_key), False
    return task, True


@transaction.atomic
def task_transition(*, task: Task, action: str, actor: User | None, outcome: str = "") -> Task:
    """Move a task through its FSM (start, complete, skip, cancel, reopen).
    Completing a playbook task creates the steps that waited for it."""
    if action not in TASK_ACTIONS:
        raise ValidationError({"action": [f"Choose one of {', '.join(TASK_ACTIONS)}."]})
    move = TASK_ACTIONS[action]
    kind, verb = move.custom["kind"], move.custom["verb"]
    task = Task.objects.select_for_update().select_related("account").get(pk=task.pk)
    method = getattr(task, move.name)
    if not can_proceed(method):
        raise TaskTransitionRejected(
            f"A task that is {task.get_status_display().lower()} cannot be {verb.lower()}.",
            status=task.status,
            action=action,
        )
    method()
    now = timezone.now()
    fields = ["status", "updated_at"]
    if move.target == TaskStatus.IN_PROGRESS:
        task.started_at = now
        fields.append("started_at")
    else:  # closing stamps the time; reopening clears it
        task.closed_at = now if move.target in CLOSED_STATUSES else None
        fields.append("closed_at")
    outcome = (outcome or "").strip()
    if outcome:
        task.outcome = outcome
        fields.append("outcome")
    task.save(update_fields=fields)
    timeline_record(
        account=task.account,
        kind=kind,
        title=f"{verb}: {task.title}",
        body=outcome,
        actor=actor,
        payload=_task_payload(task, status=task.status),
    )
    event_record(kind=kind, account_id=task.account_id, payload=_task_payload(task))
    if task.run_id is not None:
        from work.services.playbooks import playbook_run_advance

        playbook_run_advance(task=task, actor=actor)
    return task


@transaction.atomic
def task_snooze(*, task: Task, until: dt.date, actor: User | None) -> Task:
    """Move an open task's due date to a later day (the original is kept)."""
    task = Task.objects.select_for_update().select_related("account").get(pk=task.pk)
    if not task.is_open:
        raise ValidationError({"until": ["Only an open task can be snoozed."]})
    if until is None or until <= timezone.localdate():
        raise ValidationError({"until": ["Snooze to a day after today."]})
    until = fields_clean(Task, due_date=until, _names={"due_date": "until"})["due_date"]
    previous = task.due_date
    task.due_date = until
    task.save(update_fields=["due_date", "updated_at"])
    timeline_record(
        account=task.account,
        kind="task_snoozed",
        title=f"Snoozed: {task.title}",
        body=_snooze_text(previous=previous, until=until, original=task.original_due_date),
        actor=actor,
        payload=_task_payload(
            task,
            previous_due=str(previous),
            due=str(until),
            original_due=str(task.original_due_date),
        ),
    )
    return task


def _snooze_text(*, previous: dt.date, until: dt.date, original: dt.date) -> str:
    """The history of a snooze with the real dates: where it moved from, to,
    and the date it was first due (what overdue figures are judged by)."""
    text = f"Snoozed until {until:%Y-%m-%d} (was due {previous:%Y-%m-%d})"
    if original != previous:
        text += f"; first due {original:%Y-%m-%d}"
    if original < timezone.localdate():
        text += ", still overdue"
    return text + "."


@transaction.atomic
def task_outcome_set(*, task: Task, outcome: str, actor: User | None) -> Task:
    outcome = (outcome or "").strip()
    if not outcome:
        raise ValidationError({"outcome": ["Write the outcome."]})
    task = Task.objects.select_for_update().select_related("account").get(pk=task.pk)
    task.outcome = outcome
    task.save(update_fields=["outcome", "updated_at"])
    timeline_record(
        account=task.account,
        kind="task_outcome",
        title=f"Outcome noted: {task.title}",
        body=outcome,
        actor=actor,
        payload=_task_payload(task),
    )
    return task


@transaction.atomic
def task_time_log(
    *,
    task: Task,
    minutes: int,
    actor: User | None,
    note: str = "",
    logged_on: dt.date | None = None,
) -> TimeEntry:
    """Add a time entry; a task can have several."""
    logged_on = logged_on or timezone.localdate()
    if logged_on > timezone.localdate():
        raise ValidationError({"logged_on": ["Time cannot be logged for a future day."]})
    fields = fields_clean(TimeEntry, minutes=minutes, logged_on=logged_on, note=note or "")
    minutes = fields["minutes"]
    task = Task.objects.select_related("account").get(pk=task.pk)
    entry = TimeEntry.objects.create(task=task, user=actor, **fields)
    Task.objects.filter(pk=task.pk).update(
        logged_minutes=F("logged_minutes") + minutes, updated_at=timezone.now()
    )
    timeline_record(
        account=task.account,
        kind="task_time_logged",
        title=f"{minutes} min logged: {task.title}",
        body=entry.note,
        actor=actor,
        payload=_task_payload(task, minutes=minutes, entry_id=entry.pk),
    )
    return entry


@transaction.atomic
def task_update(
    *,
    task: Task,
    actor: User | None,
    title: str | None = None,
    instructions: str | None = None,
    due_date: dt.date | None = None,
    priority: int | None = None,
    estimated_minutes: int | None = None,
) -> Task:
    """Edit a task's details by hand (reassigning has its own function)."""
    task = Task.objects.select_for_update().select_related("account").get(pk=task.pk)
    given = {
        "title": None if title is None else title.strip(),
        "instructions": instructions,
        "due_date": due_date,
        "priority": priority,
        "estimated_minutes": estimated_minutes,
    }
    given = {name: value for name, value in given.items() if value is not None}
    for name, value in fields_clean(Task, _instance=task, **given).items():
        setattr(task, name, value)
    changed = list(given)
    if changed:
        task.save(update_fields=[*changed, "updated_at"])
        timeline_record(
            account=task.account,
            kind="task_updated",
            title=f"Task edited: {task.title}",
            body="Changed " + ", ".join(f.replace("_", " ") for f in changed) + ".",
            actor=actor,
            payload=_task_payload(task, fields=changed),
        )
    return task


@transaction.atomic
def tasks_reassign(*, task_ids: list[int], assignee_id: int, actor: User | None) -> list[Task]:
    """Give open tasks to another person, one or many at once. Closed tasks
    keep who did them, and tasks already theirs stay; an id that is not a
    task of this tenant (unknown, or another tenant's) is a ValidationError
    on `task_ids` naming it, and nothing moves."""
    assignee = assignable_user(user_id=assignee_id, field="assignee_id")
    wanted = list(dict.fromkeys(task_ids))
    found = list(Task.objects.select_for_update().filter(pk__in=wanted).order_by("pk"))
    missing = sorted(set(wanted) - {t.pk for t in found})
    if missing:
        raise ValidationError(
            {"task_ids": [f"No such task in this workspace: {', '.join(map(str, missing))}."]}
        )
    tasks = [t for t in found if t.status in OPEN_STATUSES and t.assignee_id != assignee.pk]
    if not tasks:
        return []
    previous = {t.pk: t.assignee_id for t in tasks}
    Task.objects.filter(pk__in=[t.pk for t in tasks]).update(
        assignee=assignee, updated_at=timezone.now()
    )
    entries = []
    for task in tasks:
        task.assignee = assignee
        entries.append(
            {
                "account_id": task.account_id,
                "kind": "task_reassigned",
                "title": f"Reassigned to {assignee.display_name}: {task.title}",
                "actor": actor,
                "payload": _task_payload(task, previous_assignee_id=previous[task.pk]),
            }
        )
    timeline_record_many(entries=entries)
    return tasks
