"""Reads of who does the work: the team (profiles with their upcoming
absences), the skill list, the groups and the members who can take work."""

from __future__ import annotations

import datetime as dt

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from csplatform.tenancy.models import Membership, User
from work.models import CsmGroup, CsmGroupMember, CsmProfile, OutOfOffice, Skill
from work.services.assignment import WORKING_ROLES


def skill_list() -> QuerySet[Skill]:
    return Skill.objects.order_by("label", "id")


def team_profiles(*, today: dt.date | None = None) -> QuerySet[CsmProfile]:
    """Profiles of csm, leader and admin members, each with `upcoming_absences`
    (current and future ones), by name."""
    today = today or timezone.localdate()
    return (
        CsmProfile.objects.filter(membership__role__in=WORKING_ROLES)
        .select_related("user", "membership")
        .prefetch_related(
            Prefetch(
                "absences",
                queryset=OutOfOffice.objects.filter(ends_on__gte=today).order_by("starts_on"),
                to_attr="upcoming_absences",
            )
        )
        .order_by("user__full_name", "user__email", "id")
    )


def csm_group_list() -> QuerySet[CsmGroup]:
    """Groups by name with `ordered_members` (users in turn order)."""
    return CsmGroup.objects.prefetch_related(
        Prefetch(
            "members",
            queryset=CsmGroupMember.objects.select_related("user").order_by("position", "id"),
            to_attr="ordered_members",
        )
    ).order_by("name", "id")


def working_members() -> QuerySet[User]:
    """Users who can be given work here (csm, leader, admin), by name."""
    return User.objects.filter(
        pk__in=Membership.objects.filter(role__in=WORKING_ROLES).values("user_id")
    ).order_by("full_name", "email")
