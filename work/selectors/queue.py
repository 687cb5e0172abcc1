"""The CSM's queue: one person's open tasks in four buckets (overdue, today,
the rest of this ISO week, later), each ordered by priority, then due date,
then id, with what the row shows (account, stage, health band, playbook).

A page costs the same few queries whatever the number of tasks: one for the
bucket counts, one for the first rows of every bucket (a window function
keeps `per_bucket` rows of each), one for the health bands of those rows.
Every query reads the partial index `task_open_by_assignee`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from csplatform.tenancy.models import Role, role_at_least
from health.selectors import scores_for
from lifecycle.models import Account, TimelineEntry
from work.models import OPEN_STATUSES, Task, TimeEntry
from work.weeks import iso_week

PER_BUCKET = 25

# (key, label), in the order the page shows them.
BUCKETS = [
    ("overdue", "Overdue"),
    ("today", "Today"),
    ("week", "This week"),
    ("later", "Later"),
]
BUCKET_KEYS = [key for key, _ in BUCKETS]


def week_end(today: dt.date) -> dt.date:
    """The Sunday that ends today's ISO week (today itself on a Sunday)."""
    return iso_week(today)[1]


def bucket_of(due: dt.date, today: dt.date) -> str:
    if due < today:
        return "overdue"
    if due == today:
        return "today"
    if due <= week_end(today):
        return "week"
    return "later"


def _bucket_q(key: str, today: dt.date) -> Q:
    return {
        "overdue": Q(due_date__lt=today),
        "today": Q(due_date=today),
        "week": Q(due_date__gt=today, due_date__lte=week_end(today)),
        "later": Q(due_date__gt=week_end(today)),
    }[key]


@dataclass
class QueueFilters:
    account_id: int | None = None
    playbook_id: int | None = None
    priority: int | None = None

    def apply(self, qs: QuerySet) -> QuerySet:
        if self.account_id:
            qs = qs.filter(account_id=self.account_id)
        if self.playbook_id:
            qs = qs.filter(run__playbook_id=self.playbook_id)
        if self.priority:
            qs = qs.filter(priority=self.priority)
        return qs


@dataclass
class Bucket:
    key: str
    label: str
    count: int
    rows: list[Task] = field(default_factory=list)

    @property
    def more(self) -> int:
        """How many of the bucket's tasks are not shown."""
        return max(self.count - len(self.rows), 0)


@dataclass
class Queue:
    assignee_id: int
    today: dt.date
    buckets: list[Bucket]

    @property
    def total(self) -> int:
        return sum(b.count for b in self.buckets)


def open_tasks_of(assignee_id: int, filters: QueueFilters | None = None) -> QuerySet[Task]:
    """Open and in-progress tasks of one person (the partial index's rows)."""
    qs = Task.objects.filter(assignee_id=assignee_id, status__in=OPEN_STATUSES)
    return (filters or QueueFilters()).apply(qs)


# What a queue row shows; nothing else is read, so rows stay narrow.
ROW_FIELDS = [
    "id",
    "title",
    "status",
    "priority",
    "due_date",
    "original_due_date",
    "estimated_minutes",
    "logged_minutes",
    "outcome",
    "assignee_id",
    "account__id",
    "account__name",
    "account__stage",
    "account__owner_id",
    "run__id",
    "run__playbook__id",
    "run__playbook__name",
]


def _with_row_data(qs: QuerySet[Task]) -> QuerySet[Task]:
    return qs.select_related("account", "run__playbook").only(*ROW_FIELDS)


def attach_bands(tasks: list[Task]) -> list[Task]:
    """Set `task.band` ('' when unscored) for every task, in one query."""
    scores = scores_for(sorted({t.account_id for t in tasks})) if tasks else {}
    for task in tasks:
        score = scores.get(task.account_id)
        task.band = score.band if score is not None else ""
        task.score = score.score if score is not None else None
    return tasks


def queue_for(
    *,
    assignee_id: int,
    filters: QueueFilters | None = None,
    today: dt.date | None = None,
    per_bucket: int | None = None,
) -> Queue:
    """The queue of one person: bucket counts and the first rows of each."""
    today = today or timezone.localdate()
    per_bucket = per_bucket or PER_BUCKET
    tasks = open_tasks_of(assignee_id, filters)
    counts = tasks.aggregate(
        **{key: Count("pk", filter=_bucket_q(key, today)) for key in BUCKET_KEYS}
    )
    bucket = Case(
        *[When(_bucket_q(key, today), then=Value(i)) for i, key in enumerate(BUCKET_KEYS)],
        output_field=IntegerField(),
    )
    rows = attach_bands(
        list(
            _with_row_data(tasks)
            .annotate(
                bucket_index=bucket,
                rank=Window(
                    RowNumber(),
                    partition_by=[bucket],
                    order_by=["priority", "due_date", "id"],
                ),
            )
            .filter(rank__lte=per_bucket)
            .order_by("bucket_index", "priority", "due_date", "id")
        )
    )
    by_bucket: dict[int, list[Task]] = {}
    for row in rows:
        row.bucket = BUCKET_KEYS[row.bucket_index]
        by_bucket.setdefault(row.bucket_index, []).append(row)
    return Queue(
        assignee_id=assignee_id,
        today=today,
        buckets=[
            Bucket(key=key, label=label, count=counts[key], rows=by_bucket.get(i, []))
            for i, (key, label) in enumerate(BUCKETS)
        ],
    )


def bucket_rows(
    *,
    assignee_id: int,
    bucket: str,
    offset: int = 0,
    filters: QueueFilters | None = None,
    today: dt.date | None = None,
    limit: int | None = None,
) -> tuple[list[Task], bool]:
    """The next rows of one bucket ("show more"), and whether more follow."""
    today = today or timezone.localdate()
    limit = limit or PER_BUCKET
    qs = (
        _with_row_data(open_tasks_of(assignee_id, filters))
        .filter(_bucket_q(bucket, today))
        .order_by("priority", "due_date", "id")
    )
    rows = list(qs[offset : offset + limit + 1])
    has_more = len(rows) > limit
    rows = attach_bands(rows[:limit])
    for row in rows:
        row.bucket = bucket
    return rows, has_more


def queue_row(task_id: int, *, today: dt.date | None = None) -> Task:
    """One task with what its queue row shows (after an action on it, and on
    its own page, which also shows the playbook step's protocol)."""
    task = Task.objects.select_related("account", "assignee", "run__playbook", "step").get(
        pk=task_id
    )
    attach_bands([task])
    task.bucket = bucket_of(task.due_date, today or timezone.localdate())
    return task


def queue_accounts(assignee_id: int, *, limit: int = 500) -> QuerySet[Account]:
    """Accounts for the queue's pickers: the person's book and every account
    they have open work on."""
    open_on = Task.objects.filter(assignee_id=assignee_id, status__in=OPEN_STATUSES).values(
        "account_id"
    )
    return Account.objects.filter(Q(owner_id=assignee_id) | Q(pk__in=open_on)).order_by(
        "name", "id"
    )[:limit]


def task_time_entries(task: Task) -> QuerySet[TimeEntry]:
    return TimeEntry.objects.filter(task=task).select_related("user").order_by("-logged_on", "-id")


def task_history(task: Task, *, limit: int = 100) -> list[TimelineEntry]:
    """The account timeline entries about this task, newest first."""
    return list(
        TimelineEntry.objects.filter(account_id=task.account_id, payload__task_id=task.pk)
        .select_related("actor")
        .order_by("-occurred_at", "-id")[:limit]
    )


def may_act_on(task: Task, *, role: str | None, user_id: int | None) -> bool:
    """Who may change a task: leaders and admins any task of the tenant; a
    CSM their own tasks and unassigned ones on accounts they own. `user_id`
    None is an API key, which acts for the tenant within its role.
    `task.account` must be loaded."""
    if not role_at_least(role, Role.CSM):
        return False
    if user_id is None or role_at_least(role, Role.LEADER):
        return True
    return task.assignee_id == user_id or (
        task.assignee_id is None and task.account.owner_id == user_id
    )


@dataclass
class NavCounts:
    overdue: int
    today: int

    @property
    def total(self) -> int:
        return self.overdue + self.today


def nav_counts(*, user_id: int, today: dt.date | None = None) -> NavCounts:
    """Overdue and due-today open tasks of one person, in one query."""
    today = today or timezone.localdate()
    counts = Task.objects.filter(
        assignee_id=user_id, status__in=OPEN_STATUSES, due_date__lte=today
    ).aggregate(
        overdue=Count("pk", filter=Q(due_date__lt=today)),
        today=Count("pk", filter=Q(due_date=today)),
    )
    return NavCounts(overdue=counts["overdue"], today=counts["today"])


__all__ = [
    "BUCKETS",
    "BUCKET_KEYS",
    "PER_BUCKET",
    "Bucket",
    "NavCounts",
    "Queue",
    "QueueFilters",
    "attach_bands",
    "bucket_of",
    "bucket_rows",
    "may_act_on",
    "nav_counts",
    "open_tasks_of",
    "queue_accounts",
    "queue_for",
    "queue_row",
    "task_history",
    "task_time_entries",
    "week_end",
]
