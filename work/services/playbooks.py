"""Starting playbooks on accounts and moving their runs along."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone

from csplatform.events.services import event_record
from csplatform.tenancy.models import User
from lifecycle.models import Account
from lifecycle.services import timeline_record
from work.models import (
    OPEN_STATUSES,
    Playbook,
    PlaybookRun,
    PlaybookStep,
    RunStatus,
    Task,
    TaskStatus,
)
from work.services.assignment import step_assignee


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
    occurrence_key = occurrence_key[:200]
    existing = PlaybookRun.objects.filter(
        playbook=playbook, account=account, occurrence_key=occurrence_key
    ).first()
    if existing is not None:
        return existing, False
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
            timeline_record(
                account=account,
                kind="playbook_started",
                title=f"Playbook started: {playbook.name}",
                body=reason,
                actor=actor,
                payload={"playbook_id": playbook.pk, "run_id": run.pk},
            )
            steps = [s for s in playbook.steps.all() if s.depends_on_id is None]
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
    step now done, and close the run once none of its tasks is open."""
    created = []
    run = PlaybookRun.objects.select_for_update().select_related("account").get(pk=task.run_id)
    if (
        task.status == TaskStatus.DONE
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
    elif run.status == RunStatus.COMPLETED and still_open:
        run.status = RunStatus.ACTIVE
        run.finished_at = None
        run.save(update_fields=["status", "finished_at", "updated_at"])
    return created
