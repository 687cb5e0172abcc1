"""Builders for capacity tests: members with profiles and absences, and tasks
written straight to the table (no timeline), inside the tenant's context."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from csplatform.tenancy.models import Membership, Role, User
from tests.conftest import make_user
from work.models import CsmProfile, OutOfOffice, Task, TaskStatus, TimeEntry

UTC = dt.UTC


def member(
    tenant,
    name: str,
    *,
    role: str = Role.CSM,
    hours: int | str | None = 40,
    skills: tuple[str, ...] = (),
    takes: bool = True,
    absences: tuple[tuple[dt.date, dt.date], ...] = (),
) -> User:
    """A member named `name`; with a CSM profile unless `hours` is None."""
    user = make_user(tenant, role)
    user.full_name = name
    user.save(update_fields=["full_name"])
    if hours is not None:
        profile = CsmProfile.objects.create(
            membership=Membership.objects.get(user=user),
            user=user,
            skills=list(skills),
            weekly_capacity_hours=Decimal(str(hours)),
            takes_assignments=takes,
        )
        OutOfOffice.objects.bulk_create(
            OutOfOffice(profile=profile, starts_on=start, ends_on=end) for start, end in absences
        )
    return user


def task(
    acct,
    assignee: User | None,
    due: dt.date,
    minutes: int,
    *,
    status: str = TaskStatus.OPEN,
    priority: int = 3,
    skill: str = "",
    original: dt.date | None = None,
    closed_at: dt.datetime | None = None,
    logged: int = 0,
    step=None,
    title: str = "",
) -> Task:
    return Task.objects.create(
        account=acct,
        title=title or f"Task due {due}",
        assignee=assignee,
        due_date=due,
        original_due_date=original or due,
        priority=priority,
        required_skill=skill,
        estimated_minutes=minutes,
        status=status,
        closed_at=closed_at,
        logged_minutes=logged,
        step=step,
    )


def time_entry(task: Task, user: User, day: dt.date, minutes: int) -> TimeEntry:
    return TimeEntry.objects.create(task=task, user=user, minutes=minutes, logged_on=day)
