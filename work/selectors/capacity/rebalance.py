"""The rebalance suggestion: moves that bring over-capacity CSMs back under
in the current and the next week."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import F, Q, Window
from django.db.models.functions import RowNumber

from work.models import OPEN_STATUSES, Priority, Task
from work.selectors.capacity.plan import CapacityReport, week_from

REBALANCE_WEEKS = 2
# At most this many tasks per over-capacity CSM-week, and in all.
CANDIDATES_PER_CELL = 50
CANDIDATES = 200


@dataclass
class Suggestion:
    task_id: int
    task_title: str
    account_id: int
    account_name: str
    priority: int
    due_date: dt.date
    week_start: dt.date
    minutes: int
    from_user_id: int
    from_name: str
    to_user_id: int
    to_name: str

    @property
    def priority_label(self) -> str:
        return Priority(self.priority).label


def rebalance_suggestions(plan: CapacityReport) -> list[Suggestion]:
    """Moves that bring over-capacity CSMs back under in the next two weeks.

    For each over-capacity CSM-week (current week first, the most over first),
    that CSM's open tasks due in the week (overdue ones in the current week),
    lowest priority first (4 before 1) then latest due, go one by one to the
    member who takes assignments, has the task's required skill (blank: anyone),
    is not out of office on the day it would be worked (its due date, or today
    when overdue) and still has room for it that week after the moves already
    suggested -- the one with the most room. Stops for a CSM-week once it is
    no longer over. Candidates come from one statement, at most 50 per
    CSM-week and 200 in all; the rest is arithmetic on the plan."""
    horizon = plan.weeks[:REBALANCE_WEEKS]
    by_user = {m.user_id: m for m in plan.members}
    over = [
        (i, m.user_id)
        for i in range(len(horizon))
        for m in plan.members
        if m.weeks[i].over and m.weeks[i].task_minutes
    ]
    # Remaining room per (user, week index), in minutes; moves update it.
    room = {
        (m.user_id, i): m.weeks[i].capacity_minutes - m.weeks[i].load_minutes
        for m in plan.members
        for i in range(len(horizon))
    }
    # A week where no one who takes assignments has room offers no move.
    open_weeks = {
        i for (user_id, i), free in room.items() if free > 0 and by_user[user_id].takes_assignments
    }
    over = [(i, user_id) for i, user_id in over if i in open_weeks]
    if not over:
        return []
    week0 = plan.weeks[0]
    week = week_from(week0)
    wanted = Q()
    for i, user_id in over:
        bounds = Q(due_date__lt=horizon[i] + dt.timedelta(weeks=1))
        if i:
            bounds &= Q(due_date__gte=horizon[i])
        wanted |= Q(assignee_id=user_id) & bounds
    candidates = list(
        Task.objects.filter(wanted, status__in=OPEN_STATUSES)
        .annotate(
            week=week,
            rank=Window(
                RowNumber(),
                partition_by=[F("assignee_id"), week],
                order_by=[F("priority").desc(), F("due_date").desc(), F("id").desc()],
            ),
        )
        .filter(rank__lte=CANDIDATES_PER_CELL)
        .select_related("account")
        # Narrow rows: the window sorts every open task of the over CSM-weeks.
        .only(
            "id",
            "title",
            "assignee_id",
            "due_date",
            "priority",
            "estimated_minutes",
            "required_skill",
            "account__name",
        )
        .order_by("week", "assignee_id", "rank")[:CANDIDATES]
    )
    per_cell = defaultdict(list)
    for task in candidates:
        per_cell[(task.week, task.assignee_id)].append(task)
    over.sort(key=lambda cell: (cell[0], room[(cell[1], cell[0])], cell[1]))
    suggestions = []
    for i, source_id in over:
        source = by_user[source_id]
        for task in per_cell.get((horizon[i], source_id), []):
            if room[(source_id, i)] >= 0:
                break
            work_day = max(task.due_date, plan.today)
            targets = [
                m
                for m in plan.members
                if m.user_id != source_id
                and m.takes_assignments
                and (not task.required_skill or task.required_skill in m.skills)
                and not m.out_on(work_day)
                and room[(m.user_id, i)] >= task.estimated_minutes
            ]
            if not targets:
                continue
            target = max(targets, key=lambda m: (room[(m.user_id, i)], -m.user_id))
            room[(source_id, i)] += task.estimated_minutes
            room[(target.user_id, i)] -= task.estimated_minutes
            suggestions.append(
                Suggestion(
                    task_id=task.pk,
                    task_title=task.title,
                    account_id=task.account_id,
                    account_name=task.account.name,
                    priority=task.priority,
                    due_date=task.due_date,
                    week_start=horizon[i],
                    minutes=task.estimated_minutes,
                    from_user_id=source_id,
                    from_name=source.name,
                    to_user_id=target.user_id,
                    to_name=target.name,
                )
            )
    return suggestions
