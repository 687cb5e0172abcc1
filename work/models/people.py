"""Who does the work: CSM profiles (skills, weekly capacity, out of office),
the tenant's skill list, groups for round-robin assignment, and settings."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q

from csplatform.tenancy.models import Membership, TenantScopedModel
from work.models.limits import UNPLANNED_SHARE_VALIDATORS, WEEKLY_HOURS_VALIDATORS, work_day


class Skill(TenantScopedModel):
    """A skill the tenant assigns work by (onboarding, technical, training...)."""

    key = models.SlugField(max_length=50)
    label = models.CharField(max_length=100, error_messages={"blank": "Name the skill."})

    class Meta:
        ordering = ["label", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "key"], name="skill_key_unique"),
        ]

    def __str__(self) -> str:
        return self.label


class CsmProfile(TenantScopedModel):
    """A member's working profile: what they can do and how many hours a week
    they have for it. One per membership; `user` is denormalised from it so
    that assignment queries join tasks to profiles without the membership."""

    membership = models.OneToOneField(Membership, on_delete=models.CASCADE, related_name="profile")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="csm_profiles"
    )
    skills = ArrayField(models.SlugField(max_length=50), default=list, blank=True)
    weekly_capacity_hours = models.DecimalField(
        max_digits=5,
        decimal_places=1,
        default=40,
        validators=WEEKLY_HOURS_VALIDATORS,
    )
    takes_assignments = models.BooleanField(
        default=True, help_text="Whether automatic assignment may pick this person"
    )

    class Meta:
        ordering = ["user__email", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="csmprofile_user_unique"),
        ]

    def __str__(self) -> str:
        return f"Profile of {self.user}"


class OutOfOffice(TenantScopedModel):
    profile = models.ForeignKey(CsmProfile, on_delete=models.CASCADE, related_name="absences")
    starts_on = models.DateField(validators=[work_day])
    ends_on = models.DateField(validators=[work_day])
    note = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["starts_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gte=F("starts_on")), name="outofoffice_ends_after_start"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "ends_on"], name="outofoffice_ends")]


class CsmGroup(TenantScopedModel):
    """A pool of CSMs that a playbook step assigns round-robin."""

    name = models.CharField(max_length=100, error_messages={"blank": "Name the group."})
    # Position in the member list of the next assignment.
    cursor = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="csmgroup_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class CsmGroupMember(TenantScopedModel):
    group = models.ForeignKey(CsmGroup, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["group", "user"], name="csmgroupmember_unique"),
        ]


class WorkSettings(TenantScopedModel):
    """Per-tenant knobs of work management."""

    unplanned_share_percent = models.PositiveSmallIntegerField(
        default=20,
        validators=UNPLANNED_SHARE_VALIDATORS,
        help_text="Share of each CSM's capacity kept for unplanned work",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant"], name="worksettings_one_per_tenant"),
        ]
