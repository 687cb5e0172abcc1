"""Who does the work: the tenant's skill list, CSM profiles (skills, weekly
capacity, whether automatic assignment may pick them, out of office),
round-robin groups and the work settings.

None of these belong to an account, so they write no timeline; every one
runs in a transaction and raises field-level ValidationErrors.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Func, Value
from django.utils.text import slugify

from csplatform.tenancy.models import Membership, Role, User, role_at_least
from csplatform.validation import fields_check, fields_clean
from work.models import (
    CsmGroup,
    CsmGroupMember,
    CsmProfile,
    OutOfOffice,
    PlaybookStep,
    Skill,
    WorkSettings,
)
from work.services.assignment import WORKING_ROLES


# -- skills ------------------------------------------------------------------
@transaction.atomic
def skill_save(*, label: str, key: str = "", skill: Skill | None = None) -> Skill:
    """Add a skill (its key is made from the label when not given) or rename
    one. The key of an existing skill never changes: profiles and steps
    refer to it."""
    label = fields_clean(Skill, label=(label or "").strip())["label"]
    if skill is not None:
        skill.label = label
        skill.save(update_fields=["label", "updated_at"])
        return skill
    key = slugify(key or label)[:50]
    if not key:
        raise ValidationError({"key": ["Use letters or digits in the key."]})
    if Skill.objects.filter(key=key).exists():
        raise ValidationError({"key": [f"There is already a skill with the key “{key}”."]})
    try:
        with transaction.atomic():
            return Skill.objects.create(key=key, label=label)
    except IntegrityError:
        raise ValidationError(
            {"key": [f"There is already a skill with the key “{key}”."]}
        ) from None


@transaction.atomic
def skill_delete(*, skill: Skill) -> None:
    """Remove a skill and take it off every profile. Refused while a
    playbook step requires it (change those steps first)."""
    used = PlaybookStep.objects.filter(required_skill=skill.key).count()
    if used:
        raise ValidationError(
            {"skill": [f"{used} playbook step{'s' if used != 1 else ''} require this skill."]}
        )
    CsmProfile.objects.filter(skills__contains=[skill.key]).update(
        skills=Func("skills", Value(skill.key), function="array_remove")
    )
    skill.delete()


def skill_keys() -> set[str]:
    return set(Skill.objects.values_list("key", flat=True))


# -- profiles ----------------------------------------------------------------
def csm_profile_ensure(*, membership: Membership) -> CsmProfile | None:
    """The member's CSM profile, created on first need; None for a viewer,
    who does no work."""
    if not role_at_least(membership.role, Role.CSM):
        return None
    profile, _ = CsmProfile.objects.get_or_create(
        membership=membership, defaults={"user_id": membership.user_id}
    )
    return profile


@transaction.atomic
def csm_profiles_ensure() -> int:
    """Profiles for every csm, leader and admin of the tenant that has none
    yet, in one insert; returns how many were created."""
    missing = list(Membership.objects.filter(role__in=WORKING_ROLES, profile__isnull=True))
    CsmProfile.objects.bulk_create(
        [CsmProfile(membership_id=m.pk, user_id=m.user_id) for m in missing],
        ignore_conflicts=True,
    )
    return len(missing)


@transaction.atomic
def csm_profile_update(
    *,
    profile: CsmProfile,
    skills: list[str] | None = None,
    weekly_capacity_hours: Decimal | float | int | str | None = None,
    takes_assignments: bool | None = None,
    actor: User | None = None,
) -> CsmProfile:
    """Change what a CSM can do and how much; only the given fields change.
    Skills must be keys of the tenant's skill list."""
    errors: dict[str, list[str]] = {}
    changed: list[str] = []
    if skills is not None:
        wanted = list(dict.fromkeys(s.strip() for s in skills if s and s.strip()))
        unknown = sorted(set(wanted) - skill_keys())
        if unknown:
            errors["skills"] = [f"Unknown skill: {', '.join(unknown)}. Add it to the skill list."]
        profile.skills = wanted
        changed.append("skills")
    if weekly_capacity_hours is not None:
        # The bounds (0-168) and the digits are the model field's.
        clean, field_errors = fields_check(CsmProfile, weekly_capacity_hours=weekly_capacity_hours)
        errors.update(field_errors)
        if clean:
            profile.weekly_capacity_hours = clean["weekly_capacity_hours"]
            changed.append("weekly_capacity_hours")
    if takes_assignments is not None:
        profile.takes_assignments = bool(takes_assignments)
        changed.append("takes_assignments")
    if errors:
        raise ValidationError(errors)
    if changed:
        profile.save(update_fields=[*changed, "updated_at"])
    return profile


@transaction.atomic
def out_of_office_add(
    *, profile: CsmProfile, starts_on: dt.date | None, ends_on: dt.date | None, note: str = ""
) -> OutOfOffice:
    errors: dict[str, list[str]] = {}
    if starts_on is None:
        errors["starts_on"] = ["Give the first day away."]
    if ends_on is None:
        errors["ends_on"] = ["Give the last day away."]
    if not errors and ends_on < starts_on:
        errors["ends_on"] = ["The last day cannot be before the first."]
    note = (note or "").strip()
    days = {k: v for k, v in (("starts_on", starts_on), ("ends_on", ends_on)) if v is not None}
    for name, messages in fields_check(OutOfOffice, note=note, **days)[1].items():
        errors.setdefault(name, messages)
    if errors:
        raise ValidationError(errors)
    return OutOfOffice.objects.create(
        profile=profile, starts_on=starts_on, ends_on=ends_on, note=note
    )


@transaction.atomic
def out_of_office_remove(*, absence: OutOfOffice) -> None:
    absence.delete()


# -- groups ------------------------------------------------------------------
@transaction.atomic
def csm_group_save(*, name: str, member_ids: list[int], group: CsmGroup | None = None) -> CsmGroup:
    """Create or edit a round-robin group; `member_ids` in turn order, each a
    csm, leader or admin of the tenant. The cursor stays where it was (it
    wraps around a shorter list)."""
    name = (name or "").strip()
    errors = fields_check(CsmGroup, name=name)[1]
    if not errors and (
        CsmGroup.objects.filter(name=name).exclude(pk=getattr(group, "pk", None)).exists()
    ):
        errors["name"] = ["There is already a group with this name."]
    ids = list(dict.fromkeys(int(i) for i in member_ids or []))
    working = set(
        Membership.objects.filter(user_id__in=ids, role__in=WORKING_ROLES).values_list(
            "user_id", flat=True
        )
    )
    if set(ids) - working:
        errors["member_ids"] = ["Choose CSMs, leaders or admins of this workspace."]
    elif not ids:
        errors["member_ids"] = ["Choose at least one member."]
    if errors:
        raise ValidationError(errors)
    if group is None:
        group = CsmGroup.objects.create(name=name)
    else:
        group.name = name
        group.save(update_fields=["name", "updated_at"])
        CsmGroupMember.objects.filter(group=group).delete()
    CsmGroupMember.objects.bulk_create(
        [CsmGroupMember(group=group, user_id=uid, position=i) for i, uid in enumerate(ids)]
    )
    return group


@transaction.atomic
def csm_group_delete(*, group: CsmGroup) -> None:
    """Steps that assigned round-robin in this group fall back to
    least-loaded (the step keeps its rule; the group is gone)."""
    group.delete()


# -- settings ----------------------------------------------------------------
def work_settings_get() -> WorkSettings:
    settings, _ = WorkSettings.objects.get_or_create()
    return settings


@transaction.atomic
def work_settings_update(*, unplanned_share_percent: int | str | None) -> WorkSettings:
    """The share of every CSM's weekly hours kept free for unplanned work
    (0-90 %); assignment plans only the rest."""
    share = fields_clean(WorkSettings, unplanned_share_percent=unplanned_share_percent)[
        "unplanned_share_percent"
    ]
    work_settings_get()
    settings = WorkSettings.objects.select_for_update().get()
    settings.unplanned_share_percent = share
    settings.save(update_fields=["unplanned_share_percent", "updated_at"])
    return settings
