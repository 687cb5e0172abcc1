"""Who gets a playbook step's task, decided when the task is created.

The step's `assignee_rule` picks first:

- `owner`: the account owner. When the owner is out of office on the due
  date, or their CSM profile says they take no assignments, the task goes to
  the least-loaded CSM with the step's skill instead.
- `user`: the named person; when they are out of office on the due date (or
  no longer a CSM, leader or admin here) the same least-loaded fallback.
- `round_robin`: the group's members in position order, starting at the
  group's cursor and skipping anyone out of office on the due date or who
  takes no assignments; the
  cursor moves past the person picked. The group row is locked
  (`select_for_update`) so two concurrent starts never pick the same person
  for the same turn. A group with nobody available falls back to
  least-loaded.
- `least_loaded`: see `least_loaded_user`.

When nobody qualifies at all the task goes to the account owner (someone
answerable for the account sees it), or stays unassigned if there is none.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import (
    Case,
    Exists,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce

from csplatform.tenancy.models import Membership, Role, User
from lifecycle.models import Account
from work.models import (
    OPEN_STATUSES,
    AssigneeRule,
    CsmGroup,
    CsmGroupMember,
    CsmProfile,
    OutOfOffice,
    PlaybookStep,
    Task,
    WorkSettings,
)
from work.weeks import iso_week

WORKING_ROLES = [Role.CSM, Role.LEADER, Role.ADMIN]
DEFAULT_UNPLANNED_SHARE = 20  # WorkSettings' default, for a tenant without a row


@dataclass(frozen=True)
class Assignment:
    user: User | None
    reason: str


def _away_on(day: dt.date, profile_ref: str = "pk"):
    """Exists(): the profile at OuterRef(profile_ref) is out of office on `day`."""
    return Exists(
        OutOfOffice.objects.filter(
            profile_id=OuterRef(profile_ref), starts_on__lte=day, ends_on__gte=day
        )
    )


def least_loaded_user(*, skill: str, due_date: dt.date, estimated_minutes: int) -> User | None:
    """The CSM with the most free minutes in the ISO week (Mon-Sun) of
    `due_date`, in one query.

    Candidates: CSM profiles that take assignments, have `skill` (any profile
    when blank), are not out of office on `due_date`, and whose membership is
    csm, leader or admin. Load is the estimated minutes of their open and
    in-progress tasks due that week; free minutes are
    weekly_capacity_hours * 60 * (1 - unplanned_share_percent / 100) - load.
    Among those with at least `estimated_minutes` free, the one with the most
    free minutes wins (ties: lowest user id). When nobody has room, the one
    with the most free minutes still gets it: the work has to land somewhere,
    and the capacity page shows the overload.
    """
    monday, sunday = iso_week(due_date)
    load = (
        Task.objects.filter(
            assignee_id=OuterRef("user_id"),
            status__in=OPEN_STATUSES,
            due_date__gte=monday,
            due_date__lte=sunday,
        )
        .order_by()
        .values("assignee_id")
        .annotate(minutes=Sum("estimated_minutes"))
        .values("minutes")
    )
    share = Subquery(WorkSettings.objects.order_by().values("unplanned_share_percent")[:1])
    candidates = CsmProfile.objects.filter(
        takes_assignments=True, membership__role__in=WORKING_ROLES
    ).exclude(_away_on(due_date))
    if skill:
        candidates = candidates.filter(skills__contains=[skill])
    best = (
        candidates.annotate(
            load=Coalesce(Subquery(load, output_field=IntegerField()), Value(0)),
            share=Coalesce(share, Value(DEFAULT_UNPLANNED_SHARE)),
            free=Cast(F("weekly_capacity_hours"), FloatField())
            * Value(60.0)
            * (Value(100.0) - Cast(F("share"), FloatField()))
            / Value(100.0)
            - Cast(F("load"), FloatField()),
            has_room=Case(
                When(free__gte=float(estimated_minutes), then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            ),
        )
        .select_related("user")
        .order_by("-has_room", "-free", "user_id")
        .first()
    )
    return best.user if best is not None else None


def _available(user_id: int, due_date: dt.date, *, needs_assignments: bool) -> bool:
    """Whether `user_id` is a working member here, not out of office on
    `due_date` and (when `needs_assignments`) not opted out of assignments.
    A member without a CSM profile has no absences and takes work."""
    membership = (
        Membership.objects.filter(user_id=user_id, role__in=WORKING_ROLES)
        .annotate(
            away=Exists(
                OutOfOffice.objects.filter(
                    profile__membership_id=OuterRef("pk"),
                    starts_on__lte=due_date,
                    ends_on__gte=due_date,
                )
            ),
            opted_out=Exists(
                CsmProfile.objects.filter(membership_id=OuterRef("pk"), takes_assignments=False)
            ),
        )
        .values("away", "opted_out")
        .first()
    )
    if membership is None or membership["away"]:
        return False
    return not (needs_assignments and membership["opted_out"])


def _round_robin(group_id: int, due_date: dt.date) -> User | None:
    group = CsmGroup.objects.select_for_update().filter(pk=group_id).first()
    if group is None:
        return None
    members = list(
        CsmGroupMember.objects.filter(group=group)
        .annotate(
            working=Exists(
                Membership.objects.filter(user_id=OuterRef("user_id"), role__in=WORKING_ROLES)
            ),
            away=Exists(
                OutOfOffice.objects.filter(
                    profile__user_id=OuterRef("user_id"),
                    starts_on__lte=due_date,
                    ends_on__gte=due_date,
                )
            ),
            opted_out=Exists(
                CsmProfile.objects.filter(user_id=OuterRef("user_id"), takes_assignments=False)
            ),
        )
        .select_related("user")
        .order_by("position", "id")
    )
    if not members:
        return None
    n = len(members)
    start = group.cursor % n
    for offset in range(n):
        index = (start + offset) % n
        member = members[index]
        if member.working and not member.away and not member.opted_out:
            group.cursor = (index + 1) % n
            group.save(update_fields=["cursor", "updated_at"])
            return member.user
    return None


def step_assignment(*, step: PlaybookStep, account: Account, due_date: dt.date) -> Assignment:
    """`step_assignee` with the reason in words (shown on the timeline and
    handy in tests)."""
    rule = step.assignee_rule
    why = ""
    if rule == AssigneeRule.USER and step.assignee_user_id:
        if _available(step.assignee_user_id, due_date, needs_assignments=False):
            return Assignment(step.assignee_user, "the step names this person")
        why = "the named person is away or no longer works here; "
    elif rule == AssigneeRule.OWNER and account.owner_id:
        if _available(account.owner_id, due_date, needs_assignments=True):
            return Assignment(account.owner, "account owner")
        why = "the owner is out of office or takes no assignments; "
    elif rule == AssigneeRule.ROUND_ROBIN and step.assignee_group_id:
        picked = _round_robin(step.assignee_group_id, due_date)
        if picked is not None:
            return Assignment(picked, "next in the group's round-robin")
        why = "nobody in the group is available; "
    elif rule == AssigneeRule.OWNER:
        why = "the account has no owner; "
    picked = least_loaded_user(
        skill=step.required_skill, due_date=due_date, estimated_minutes=step.estimated_minutes
    )
    if picked is not None:
        skill = f" with {step.required_skill}" if step.required_skill else ""
        return Assignment(picked, f"{why}least-loaded CSM{skill} that week")
    if account.owner_id:
        return Assignment(account.owner, f"{why}nobody qualifies; the account owner")
    return Assignment(None, f"{why}nobody qualifies; unassigned")


def step_assignee(*, step: PlaybookStep, account: Account, due_date: dt.date) -> User | None:
    """The assignee of `step`'s task on `account` due on `due_date` (rules in
    the module docstring)."""
    return step_assignment(step=step, account=account, due_date=due_date).user
