"""Playbooks: editing them and their steps, starting them on accounts, and
moving their runs along (or cancelling them)."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from csplatform.events.services import event_record
from csplatform.tenancy.models import User
from csplatform.validation import fields_check, fields_clean
from lifecycle.models import Account, Stage
from lifecycle.services import timeline_record
from work.models import (
    OPEN_STATUSES,
    AssigneeRule,
    CsmGroup,
    Playbook,
    PlaybookRun,
    PlaybookStep,
    RunStatus,
    Skill,
    Task,
    TaskStatus,
)
from work.services.assignment import step_assignee
from work.services.people import csm_profiles_ensure


def _step_task(*, run: PlaybookRun, step: PlaybookStep, actor: User | None, today: dt.date) -> Task:
    from work.services.tasks import task_create

    due = today + dt.timedelta(days=step.due_offset_days)
    return task_create(
        account=run.account,
        title=step.title,
        due_date=due,
        actor=actor,
        assignee=step_assignee(step=step, account=run.account, due_date=due),
        priority=step.priority,
        estimated_minutes=step.estimated_minutes,
        instructions=step.instructions,
        required_skill=step.required_skill,
        run=run,
        step=step,
    )


def playbook_start(
    *,
    playbook: Playbook,
    account: Account,
    occurrence_key: str,
    actor: User | None,
    reason: str = "",
) -> tuple[PlaybookRun, bool]:
    """Start `playbook` on `account` for one trigger occurrence: its steps
    without a dependency become tasks now, with due dates and assignees
    resolved at this moment. Starting again for the same occurrence creates
    nothing and returns the existing run with False."""
    occurrence_key = (occurrence_key or "").strip()[:200]
    if not occurrence_key:
        raise ValidationError({"occurrence_key": ["Name what started the playbook."]})
    existing = PlaybookRun.objects.filter(
        playbook=playbook, account=account, occurrence_key=occurrence_key
    ).first()
    if existing is not None:
        return existing, False
    if not playbook.is_active:
        raise ValidationError({"playbook": ["This playbook is switched off; it cannot start."]})
    try:
        # A savepoint, so a racing duplicate fails alone and is answered with
        # the run that won.
        with transaction.atomic():
            run = PlaybookRun.objects.create(
                playbook=playbook,
                account=account,
                occurrence_key=occurrence_key,
                started_by=actor,
                reason=reason[:300],
            )
            today = timezone.localdate()
            # Members added since are candidates for least-loaded assignment too.
            csm_profiles_ensure()
            timeline_record(
                account=account,
                kind="playbook_started",
                title=f"Playbook started: {playbook.name}",
                body=reason,
                actor=actor,
                payload={"playbook_id": playbook.pk, "run_id": run.pk},
            )
            steps = list(
                PlaybookStep.objects.filter(playbook=playbook, depends_on__isnull=True)
                .select_related("assignee_user")
                .order_by("position", "id")
            )
            for step in steps:
                _step_task(run=run, step=step, actor=actor, today=today)
            event_record(
                kind="playbook_started",
                account_id=account.pk,
                payload={"playbook_id": playbook.pk, "run_id": run.pk},
            )
    except IntegrityError:
        run = PlaybookRun.objects.get(
            playbook=playbook, account=account, occurrence_key=occurrence_key
        )
        return run, False
    return run, True


def playbook_run_advance(*, task: Task, actor: User | None) -> list[Task]:
    """After a run's task changed status: create the steps that waited for a
    step now done or skipped (skipping says the protocol moves on without
    it; cancelling stops that branch), and close the run once none of its
    tasks is open."""
    created = []
    run = PlaybookRun.objects.select_for_update().select_related("account").get(pk=task.run_id)
    if (
        task.status in (TaskStatus.DONE, TaskStatus.SKIPPED)
        and task.step_id is not None
        and run.status == RunStatus.ACTIVE
    ):
        waiting = PlaybookStep.objects.filter(depends_on_id=task.step_id).exclude(
            pk__in=Task.objects.filter(run=run).values("step_id")
        )
        today = timezone.localdate()
        for step in waiting:
            created.append(_step_task(run=run, step=step, actor=actor, today=today))
    still_open = Task.objects.filter(run=run, status__in=OPEN_STATUSES).exists()
    if run.status == RunStatus.ACTIVE and not still_open:
        run.status = RunStatus.COMPLETED
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "finished_at", "updated_at"])
        _run_timeline(run, "playbook_completed", "Playbook completed", actor)
    elif run.status == RunStatus.COMPLETED and still_open:
        run.status = RunStatus.ACTIVE
        run.finished_at = None
        run.save(update_fields=["status", "finished_at", "updated_at"])
        _run_timeline(run, "playbook_resumed", "Playbook resumed", actor)
    return created


def _run_timeline(run: PlaybookRun, kind: str, verb: str, actor: User | None) -> None:
    """A run's own status change on the account timeline (its tasks write theirs)."""
    name = Playbook.objects.filter(pk=run.playbook_id).values_list("name", flat=True).first()
    timeline_record(
        account=run.account,
        kind=kind,
        title=f"{verb}: {name}",
        actor=actor,
        payload={"playbook_id": run.playbook_id, "run_id": run.pk},
    )


@transaction.atomic
def playbook_run_cancel(*, run: PlaybookRun, actor: User | None, reason: str = "") -> PlaybookRun:
    """Stop a run: its open tasks are cancelled (each on the timeline) and no
    waiting step will be created. Cancelling a finished run changes nothing."""
    from work.services.tasks import task_transition

    run = (
        PlaybookRun.objects.select_for_update().select_related("account", "playbook").get(pk=run.pk)
    )
    if run.status != RunStatus.ACTIVE:
        return run
    # Cancelled first, so playbook_run_advance (called per task) leaves it be.
    run.status = RunStatus.CANCELLED
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "finished_at", "updated_at"])
    for task in Task.objects.filter(run=run, status__in=OPEN_STATUSES).order_by("pk"):
        task_transition(task=task, action="cancel", actor=actor, outcome=reason)
    timeline_record(
        account=run.account,
        kind="playbook_cancelled",
        title=f"Playbook cancelled: {run.playbook.name}",
        body=reason,
        actor=actor,
        payload={"playbook_id": run.playbook_id, "run_id": run.pk},
    )
    event_record(
        kind="playbook_cancelled",
        account_id=run.account_id,
        payload={"playbook_id": run.playbook_id, "run_id": run.pk},
    )
    return run


# -- editing -----------------------------------------------------------------
@transaction.atomic
def playbook_save(
    *,
    name: str,
    playbook: Playbook | None = None,
    description: str = "",
    stage: str = "",
    is_active: bool = True,
    actor: User | None = None,
) -> Playbook:
    """Create a playbook or change its name, description, stage and switch."""
    name = (name or "").strip()
    stage = stage or ""
    errors: dict[str, list[str]] = {}
    try:
        fields_clean(Playbook, name=name, description=description or "")
    except ValidationError as error:
        errors.update(error.message_dict)
    if "name" not in errors and (
        Playbook.objects.filter(name=name).exclude(pk=getattr(playbook, "pk", None)).exists()
    ):
        errors["name"] = ["There is already a playbook with this name."]
    if stage and stage not in Stage.values:
        errors["stage"] = ["Choose a lifecycle stage, or none for a situation."]
    if errors:
        raise ValidationError(errors)
    if playbook is None:
        playbook = Playbook(key="")
    playbook.name = name
    playbook.description = (description or "").strip()
    playbook.stage = stage
    playbook.is_active = bool(is_active)
    try:
        with transaction.atomic():
            playbook.save()
    except IntegrityError:
        raise ValidationError({"name": ["There is already a playbook with this name."]}) from None
    return playbook


@transaction.atomic
def playbook_delete(*, playbook: Playbook) -> bool:
    """Delete a playbook that never ran (True). One that has runs keeps them
    as history: it is switched off instead (False), so it cannot start again
    and its runs and tasks still say where they came from."""
    if PlaybookRun.objects.filter(playbook=playbook).exists():
        Playbook.objects.filter(pk=playbook.pk).update(is_active=False, updated_at=timezone.now())
        playbook.is_active = False
        return False
    playbook.delete()
    return True


def _step_order(step: PlaybookStep) -> tuple[int, float]:
    return (step.position, step.pk if step.pk is not None else float("inf"))


@transaction.atomic
def playbook_step_save(
    *,
    playbook: Playbook,
    title: str,
    step: PlaybookStep | None = None,
    instructions: str = "",
    required_skill: str = "",
    estimated_minutes: int | None = None,
    due_offset_days: int | None = None,
    priority: int | None = None,
    assignee_rule: str = AssigneeRule.OWNER,
    assignee_user_id: int | None = None,
    assignee_group_id: int | None = None,
    depends_on_id: int | None = None,
    position: int | None = None,
    actor: User | None = None,
) -> PlaybookStep:
    """Add a step to `playbook` (at the end unless `position` is given) or
    change one. A step may depend on an earlier step of the same playbook,
    never on itself or a later one (so no cycle can form); a named-person
    rule needs a CSM, leader or admin, a round-robin rule a group, and the
    required skill must be on the tenant's skill list (or blank: anyone).
    An estimate, offset or priority left out takes the model's default."""
    from work.services.tasks import assignable_user

    errors: dict[str, list[str]] = {}
    title = (title or "").strip()
    required_skill = (required_skill or "").strip()
    if required_skill and not Skill.objects.filter(key=required_skill).exists():
        errors["required_skill"] = ["Choose a skill from the skill list, or none."]
    # Lengths, ranges, choices and defaults are the model's (work.models.limits).
    defaults = PlaybookStep()
    checked = {
        "title": title,
        "instructions": (instructions or "").strip(),
        "estimated_minutes": estimated_minutes,
        "due_offset_days": due_offset_days,
        "priority": priority,
    }
    checked = {k: getattr(defaults, k) if v is None else v for k, v in checked.items()}
    if position is not None:
        checked["position"] = position
    clean, field_errors = fields_check(PlaybookStep, **checked)
    errors.update(field_errors)
    if assignee_rule not in AssigneeRule.values:
        errors["assignee_rule"] = ["Choose owner, least-loaded, round-robin or a named person."]
    user = None
    if assignee_rule == AssigneeRule.USER:
        if not assignee_user_id:
            errors["assignee_user"] = ["Choose the person who gets this step."]
        else:
            try:
                user = assignable_user(user_id=assignee_user_id, field="assignee_user")
            except ValidationError as error:
                errors.update(error.message_dict)
    group = None
    if assignee_rule == AssigneeRule.ROUND_ROBIN:
        group = CsmGroup.objects.filter(pk=assignee_group_id).first() if assignee_group_id else None
        if group is None:
            errors["assignee_group"] = ["Choose the group to assign round-robin in."]

    siblings = {
        s.pk: s
        for s in PlaybookStep.objects.filter(playbook=playbook).exclude(
            pk=getattr(step, "pk", None)
        )
    }
    if position is None:
        position = (
            step.position
            if step is not None
            else max((s.position for s in siblings.values()), default=0) + 1
        )
    else:
        position = clean.get("position")  # None: refused above
    candidate = step or PlaybookStep(playbook=playbook)
    if position is not None:
        candidate.position = position
    depends_on = None
    if depends_on_id:
        depends_on = siblings.get(int(depends_on_id))
        if depends_on is None:
            errors["depends_on"] = ["Choose another step of this playbook."]
        elif _step_order(depends_on) >= _step_order(candidate):
            errors["depends_on"] = ["A step can only wait for an earlier step."]
        else:
            seen, cursor = set(), depends_on
            while cursor is not None and cursor.pk not in seen:
                seen.add(cursor.pk)
                if step is not None and cursor.depends_on_id == step.pk:
                    errors["depends_on"] = ["That would make the steps wait for each other."]
                    break
                cursor = siblings.get(cursor.depends_on_id)
    if step is not None and "position" not in errors:
        later = [
            s
            for s in siblings.values()
            if s.depends_on_id == step.pk and _step_order(s) <= _step_order(candidate)
        ]
        if later:
            errors["position"] = [
                f"“{later[0].title}” waits for this step; keep this step before it."
            ]
    if errors:
        raise ValidationError(errors)
    for name in ("title", "instructions", "estimated_minutes", "due_offset_days", "priority"):
        setattr(candidate, name, clean[name])
    candidate.required_skill = required_skill
    candidate.assignee_rule = assignee_rule
    candidate.assignee_user = user
    candidate.assignee_group = group
    candidate.depends_on = depends_on
    candidate.save()
    return candidate


@transaction.atomic
def playbook_step_delete(*, step: PlaybookStep) -> None:
    """Remove a step; the steps that waited for it wait for what it waited for."""
    PlaybookStep.objects.filter(depends_on=step).update(
        depends_on_id=step.depends_on_id, updated_at=timezone.now()
    )
    step.delete()


@transaction.atomic
def playbook_step_estimate_set(
    *, step: PlaybookStep, estimated_minutes: int, actor: User | None = None
) -> PlaybookStep:
    """Set a step's estimate (the capacity page's one-click "use the actual
    average"); tasks already created keep theirs."""
    minutes = fields_clean(PlaybookStep, estimated_minutes=estimated_minutes)["estimated_minutes"]
    PlaybookStep.objects.filter(pk=step.pk).update(
        estimated_minutes=minutes, updated_at=timezone.now()
    )
    step.estimated_minutes = minutes
    return step
