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


def busy_team(tenant, acct, *, csms: int, tasks: int) -> list[User]:
    """`csms` members of 10 h a week with the onboarding skill and `tasks`
    tasks spread over them: open ones over the six weeks, done ones in the
    last four (half of them playbook tasks with time logged), plus 4 x 300
    min due today for the first member, who is therefore over capacity."""
    from django.utils import timezone

    from work.models import Playbook, PlaybookStep

    today = timezone.localdate()
    monday = today - dt.timedelta(days=today.weekday())
    people = [
        member(tenant, f"Member {i:03d}", hours=10, skills=("onboarding",)) for i in range(csms)
    ]
    step = PlaybookStep.objects.create(
        playbook=Playbook.objects.create(name="Onboarding"), title="Kickoff", estimated_minutes=30
    )
    rows = [
        Task(
            account=acct,
            title=f"Migration part {n}",
            assignee=people[0],
            due_date=today,
            original_due_date=today,
            estimated_minutes=300,
            priority=4,
        )
        for n in range(4)
    ]
    for i in range(tasks):
        who = people[i % csms]
        if i % 2:
            due = monday + dt.timedelta(days=i % 42)
            rows.append(
                Task(
                    account=acct,
                    title=f"Open {i}",
                    assignee=who,
                    due_date=due,
                    original_due_date=due,
                    estimated_minutes=10 + i % 5,
                    required_skill="onboarding" if i % 3 else "",
                )
            )
        else:
            due = monday - dt.timedelta(days=1 + i % 28)
            rows.append(
                Task(
                    account=acct,
                    title=f"Done {i}",
                    assignee=who,
                    due_date=due,
                    original_due_date=due,
                    estimated_minutes=30,
                    status=TaskStatus.DONE,
                    closed_at=dt.datetime.combine(due, dt.time(12), tzinfo=UTC),
                    logged_minutes=20 + i % 40,
                    step=step if i % 4 == 0 else None,
                )
            )
    created = Task.objects.bulk_create(rows)
    TimeEntry.objects.bulk_create(
        TimeEntry(task=t, user=t.assignee, minutes=t.logged_minutes, logged_on=t.due_date)
        for t in created
        if t.logged_minutes
    )
    return people
