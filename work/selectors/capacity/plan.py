"""The plan: load against capacity per CSM and for the team over the next
six ISO weeks, overdue counts, and the last four weeks (definitions in
work.selectors.capacity)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from django.db.models import (
    Count,
    DateField,
    Exists,
    OuterRef,
    Q,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Greatest, TruncWeek
from django.utils import timezone

from csplatform.tenancy.models import Membership, Role
from work.models import (
    OPEN_STATUSES,
    OutOfOffice,
    Task,
    TaskStatus,
    TimeEntry,
    WorkSettings,
)
from work.weeks import iso_week

if TYPE_CHECKING:
    from work.selectors.capacity.accuracy import StepAccuracy
    from work.selectors.capacity.rebalance import Suggestion

PLAN_WEEKS = 6
PAST_WEEKS = 4
DEFAULT_WEEKLY_HOURS = Decimal(40)
DEFAULT_UNPLANNED_PERCENT = 20
MEMBER_ROLES = [Role.CSM, Role.LEADER, Role.ADMIN]


def week_start(day: dt.date) -> dt.date:
    """The Monday of `day`'s ISO week."""
    return iso_week(day)[0]


def _hours(minutes: Decimal | int) -> Decimal:
    return (Decimal(minutes) / 60).quantize(Decimal("0.1"), ROUND_HALF_UP)


@dataclass
class WeekLoad:
    """One CSM (or the team) in one week. Minutes are exact (and decide
    "over"); hours are the minutes / 60 rounded to 0.1."""

    week_start: dt.date
    capacity_minutes: Decimal
    task_minutes: int = 0
    tasks: int = 0
    unplanned_minutes: Decimal = Decimal(0)
    days_out: int = 0  # weekdays out of office

    @property
    def load_minutes(self) -> Decimal:
        return self.task_minutes + self.unplanned_minutes

    @property
    def capacity_hours(self) -> Decimal:
        return _hours(self.capacity_minutes)

    @property
    def task_hours(self) -> Decimal:
        return _hours(self.task_minutes)

    @property
    def unplanned_hours(self) -> Decimal:
        return _hours(self.unplanned_minutes)

    @property
    def load_hours(self) -> Decimal:
        return _hours(self.load_minutes)

    @property
    def free_hours(self) -> Decimal:
        return _hours(self.capacity_minutes - self.load_minutes)

    @property
    def over(self) -> bool:
        return self.load_minutes > self.capacity_minutes

    @property
    def utilization(self) -> int | None:
        """Load as a percentage of capacity; None without capacity."""
        if not self.capacity_minutes:
            return None if self.load_minutes else 0
        ratio = self.load_minutes * 100 / self.capacity_minutes
        return int(ratio.quantize(Decimal(1), ROUND_HALF_UP))


@dataclass
class PastWeek:
    week_start: dt.date
    planned_tasks: int = 0
    planned_minutes: int = 0
    completed_tasks: int = 0
    completed_minutes: int = 0
    logged_minutes: int = 0

    @property
    def planned_hours(self) -> Decimal:
        return _hours(self.planned_minutes)

    @property
    def completed_hours(self) -> Decimal:
        return _hours(self.completed_minutes)

    @property
    def logged_hours(self) -> Decimal:
        return _hours(self.logged_minutes)


@dataclass
class CsmCapacity:
    user_id: int
    name: str
    email: str
    role: str
    has_profile: bool
    weekly_capacity_hours: Decimal
    skills: list[str]
    takes_assignments: bool
    weeks: list[WeekLoad]
    past: list[PastWeek]
    overdue: int = 0
    # (starts_on, ends_on) of the absences touching the plan's six weeks
    absences: list[tuple[dt.date, dt.date]] = field(default_factory=list)

    @property
    def over_weeks(self) -> int:
        return sum(1 for w in self.weeks if w.over)

    def out_on(self, day: dt.date) -> bool:
        return any(start <= day <= end for start, end in self.absences)


@dataclass
class CapacityReport:
    today: dt.date
    weeks: list[dt.date]
    past_weeks: list[dt.date]
    unplanned_share_percent: int
    members: list[CsmCapacity]
    team: list[WeekLoad]
    team_past: list[PastWeek]
    accuracy: list[StepAccuracy]  # filled by capacity_report
    suggestions: list[Suggestion]  # filled by capacity_report

    @property
    def overdue(self) -> int:
        return sum(m.overdue for m in self.members)


def unplanned_share_percent() -> int:
    setting = WorkSettings.objects.values_list("unplanned_share_percent", flat=True).first()
    return DEFAULT_UNPLANNED_PERCENT if setting is None else setting


def _members() -> list[Membership]:
    """Members shown: a profile that takes assignments, or open tasks; csm and up."""
    has_open = Task.objects.filter(assignee_id=OuterRef("user_id"), status__in=OPEN_STATUSES)
    return list(
        Membership.objects.filter(role__in=MEMBER_ROLES)
        .annotate(has_open=Exists(has_open))
        .filter(Q(profile__takes_assignments=True) | Q(has_open=True))
        .select_related("user", "profile")
        .order_by("user__full_name", "user__email", "user_id")
    )


def _absences(profile_ids: list[int], first: dt.date, last: dt.date) -> dict[int, list]:
    found = defaultdict(list)
    if profile_ids:
        rows = OutOfOffice.objects.filter(
            profile_id__in=profile_ids, starts_on__lte=last, ends_on__gte=first
        ).values_list("profile_id", "starts_on", "ends_on")
        for profile_id, starts_on, ends_on in rows:
            found[profile_id].append((starts_on, ends_on))
    return found


def _weekdays_out(absences: list, monday: dt.date) -> int:
    days = (monday + dt.timedelta(days=i) for i in range(5))
    return sum(1 for day in days if any(s <= day <= e for s, e in absences))


def week_from(week0: dt.date):
    """The Monday of a task's due date, or of the current week if earlier
    (date_trunc answers a timestamp; cast back to a date)."""
    monday = Cast(TruncWeek("due_date"), DateField())
    return Greatest(monday, Value(week0), output_field=DateField())


def _open_load(week0: dt.date, end: dt.date, today: dt.date) -> dict:
    """(assignee, week) -> (minutes, tasks, overdue) of open tasks due before
    `end`; anything due before the current week lands in the current week."""
    # Overdue is judged by the original due date: a snoozed overdue task is
    # still overdue here (its load stays in the week it was snoozed to), even
    # when snoozed past the plan's last week.
    late = Q(original_due_date__lt=today) | Q(due_date__lt=today)
    rows = (
        Task.objects.filter(status__in=OPEN_STATUSES, assignee__isnull=False)
        .filter(Q(due_date__lt=end) | late)
        .annotate(week=week_from(week0))
        .values("assignee_id", "week")
        .annotate(
            minutes=Sum("estimated_minutes", filter=Q(due_date__lt=end)),
            tasks=Count("id", filter=Q(due_date__lt=end)),
            overdue=Count("id", filter=late),
        )
        .order_by()
    )
    return {(r["assignee_id"], r["week"]): r for r in rows}


def _overdue_by_assignee(load: dict) -> dict:
    found: dict = defaultdict(int)
    for (assignee_id, _week), row in load.items():
        found[assignee_id] += row["overdue"] or 0
    return found


def _past(first: dt.date, week0: dt.date) -> dict:
    """(user, week) -> PastWeek figures of the last four weeks: three statements."""
    tz = timezone.get_current_timezone()
    since = dt.datetime.combine(first, dt.time.min, tzinfo=tz)
    until = dt.datetime.combine(week0, dt.time.min, tzinfo=tz)
    found: dict = defaultdict(dict)
    planned = (
        Task.objects.filter(
            assignee__isnull=False, original_due_date__gte=first, original_due_date__lt=week0
        )
        .values("assignee_id", week=TruncWeek("original_due_date"))
        .annotate(minutes=Sum("estimated_minutes"), tasks=Count("id"))
        .order_by()
    )
    for r in planned:
        found[(r["assignee_id"], r["week"])].update(
            planned_tasks=r["tasks"], planned_minutes=r["minutes"]
        )
    completed = (
        Task.objects.filter(
            status=TaskStatus.DONE,
            assignee__isnull=False,
            closed_at__gte=since,
            closed_at__lt=until,
        )
        .values("assignee_id", week=TruncWeek("closed_at", output_field=DateField()))
        .annotate(minutes=Sum("estimated_minutes"), tasks=Count("id"))
        .order_by()
    )
    for r in completed:
        found[(r["assignee_id"], r["week"])].update(
            completed_tasks=r["tasks"], completed_minutes=r["minutes"]
        )
    logged = (
        TimeEntry.objects.filter(user__isnull=False, logged_on__gte=first, logged_on__lt=week0)
        .values("user_id", week=TruncWeek("logged_on"))
        .annotate(minutes=Sum("minutes"))
        .order_by()
    )
    for r in logged:
        found[(r["user_id"], r["week"])]["logged_minutes"] = r["minutes"]
    return found


def capacity_plan(*, today: dt.date | None = None) -> CapacityReport:
    """The capacity report without the estimate accuracy and rebalance parts
    (see capacity_report for everything)."""
    today = today or timezone.localdate()
    week0 = week_start(today)
    weeks = [week0 + dt.timedelta(weeks=i) for i in range(PLAN_WEEKS)]
    end = week0 + dt.timedelta(weeks=PLAN_WEEKS)
    past_weeks = [week0 - dt.timedelta(weeks=PAST_WEEKS - i) for i in range(PAST_WEEKS)]
    share = unplanned_share_percent()
    memberships = _members()
    profiles = [m.profile for m in memberships if _profile(m) is not None]
    absences = _absences([p.pk for p in profiles], week0, end - dt.timedelta(days=1))
    load = _open_load(week0, end, today)
    past = _past(past_weeks[0], week0)
    overdue_of = _overdue_by_assignee(load)

    members = []
    for m in memberships:
        profile = _profile(m)
        hours = profile.weekly_capacity_hours if profile else DEFAULT_WEEKLY_HOURS
        out = absences.get(profile.pk, []) if profile else []
        cells = []
        for monday in weeks:
            days_out = _weekdays_out(out, monday)
            capacity = Decimal(hours) * 12 * (5 - days_out)  # hours x 60 x days / 5
            row = load.get((m.user_id, monday), {})
            cells.append(
                WeekLoad(
                    week_start=monday,
                    capacity_minutes=capacity,
                    task_minutes=row.get("minutes", 0),
                    tasks=row.get("tasks", 0),
                    unplanned_minutes=capacity * share / 100,
                    days_out=days_out,
                )
            )
        members.append(
            CsmCapacity(
                user_id=m.user_id,
                name=m.user.display_name,
                email=m.user.email,
                role=m.role,
                has_profile=profile is not None,
                weekly_capacity_hours=Decimal(hours),
                skills=list(profile.skills) if profile else [],
                takes_assignments=profile.takes_assignments if profile else True,
                weeks=cells,
                past=[PastWeek(week_start=w, **past.get((m.user_id, w), {})) for w in past_weeks],
                overdue=overdue_of.get(m.user_id, 0),
                absences=out,
            )
        )
    return CapacityReport(
        today=today,
        weeks=weeks,
        past_weeks=past_weeks,
        unplanned_share_percent=share,
        members=members,
        team=_team_weeks(members, weeks),
        team_past=_team_past(members, past_weeks),
        accuracy=[],
        suggestions=[],
    )


def _profile(membership: Membership):
    try:
        return membership.profile
    except Membership.profile.RelatedObjectDoesNotExist:
        return None


def _team_weeks(members: list[CsmCapacity], weeks: list[dt.date]) -> list[WeekLoad]:
    team = []
    for i, monday in enumerate(weeks):
        cells = [m.weeks[i] for m in members]
        team.append(
            WeekLoad(
                week_start=monday,
                capacity_minutes=sum((c.capacity_minutes for c in cells), Decimal(0)),
                task_minutes=sum(c.task_minutes for c in cells),
                tasks=sum(c.tasks for c in cells),
                unplanned_minutes=sum((c.unplanned_minutes for c in cells), Decimal(0)),
                days_out=sum(c.days_out for c in cells),
            )
        )
    return team


def _team_past(members: list[CsmCapacity], past_weeks: list[dt.date]) -> list[PastWeek]:
    team = []
    for i, monday in enumerate(past_weeks):
        rows = [m.past[i] for m in members]
        team.append(
            PastWeek(
                week_start=monday,
                **{
                    name: sum(getattr(r, name) for r in rows)
                    for name in (
                        "planned_tasks",
                        "planned_minutes",
                        "completed_tasks",
                        "completed_minutes",
                        "logged_minutes",
                    )
                },
            )
        )
    return team
