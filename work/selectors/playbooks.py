"""Reads of playbooks, their steps and runs, shared by the pages and the API.
Counts come from correlated subqueries, so a list costs the same number of
queries for 3 playbooks as for 300."""

from __future__ import annotations

from django.db.models import Count, IntegerField, OuterRef, Prefetch, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from lifecycle.models import Account
from work.models import OPEN_STATUSES, Playbook, PlaybookRun, PlaybookStep, RunStatus, Task


def _count(queryset: QuerySet, ref: str = "playbook_id"):
    counted = (
        queryset.filter(**{ref: OuterRef("pk")})
        .order_by()
        .values(ref)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def playbook_steps() -> QuerySet[PlaybookStep]:
    """Steps in order, with what the pages show of their rule and dependency."""
    return PlaybookStep.objects.select_related(
        "assignee_user", "assignee_group", "depends_on"
    ).order_by("position", "id")


def playbook_list(*, active: bool | None = None, stage: str = "") -> QuerySet[Playbook]:
    """Playbooks by name with `step_count` and `active_runs`."""
    playbooks = Playbook.objects.annotate(
        step_count=_count(PlaybookStep.objects.all()),
        active_runs=_count(PlaybookRun.objects.filter(status=RunStatus.ACTIVE)),
    ).order_by("name", "id")
    if active is not None:
        playbooks = playbooks.filter(is_active=active)
    if stage:
        playbooks = playbooks.filter(stage=stage)
    return playbooks


def playbook_list_with_steps(**filters) -> QuerySet[Playbook]:
    """`playbook_list` with every playbook's steps prefetched (one more query)."""
    return playbook_list(**filters).prefetch_related(Prefetch("steps", queryset=playbook_steps()))


def playbook_runs(*, playbook: Playbook, limit: int = 20) -> list[PlaybookRun]:
    """The playbook's latest runs with their accounts and open task counts."""
    return list(
        PlaybookRun.objects.filter(playbook=playbook)
        .select_related("account", "started_by")
        .annotate(
            open_tasks=_count(Task.objects.filter(status__in=OPEN_STATUSES), ref="run_id"),
        )
        .order_by("-created_at", "-id")[:limit]
    )


def account_open_tasks(*, account: Account, limit: int = 50) -> list[Task]:
    return list(
        Task.objects.filter(account=account, status__in=OPEN_STATUSES)
        .select_related("assignee")
        .order_by("due_date", "priority", "id")[:limit]
    )


def account_active_runs(*, account: Account) -> list[PlaybookRun]:
    return list(
        PlaybookRun.objects.filter(account=account, status=RunStatus.ACTIVE)
        .select_related("playbook", "started_by")
        .annotate(
            open_tasks=_count(Task.objects.filter(status__in=OPEN_STATUSES), ref="run_id"),
        )
        .order_by("-created_at", "-id")
    )


def run_with_tasks(*, run_id: int) -> PlaybookRun:
    """A run with its playbook, account and tasks (assignees joined)."""
    return (
        PlaybookRun.objects.select_related("playbook", "account", "started_by")
        .prefetch_related(
            Prefetch(
                "tasks",
                queryset=Task.objects.select_related("assignee").order_by("due_date", "id"),
            )
        )
        .get(pk=run_id)
    )


def step_values(step: PlaybookStep) -> dict:
    """A step's editable fields as stored (ids for its links), as the step
    form and the API's partial update start from them."""
    return {
        "title": step.title,
        "instructions": step.instructions,
        "required_skill": step.required_skill,
        "estimated_minutes": step.estimated_minutes,
        "due_offset_days": step.due_offset_days,
        "priority": step.priority,
        "assignee_rule": step.assignee_rule,
        "assignee_user": step.assignee_user_id,
        "assignee_group": step.assignee_group_id,
        "depends_on": step.depends_on_id,
        "position": step.position,
    }
