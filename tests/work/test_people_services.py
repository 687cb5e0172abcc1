"""Skills, CSM profiles, out of office, groups and work settings."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from csplatform.tenancy.models import Membership, Role
from tests.conftest import make_user
from work import services
from work.models import CsmGroupMember, CsmProfile, Playbook, PlaybookStep, Skill, WorkSettings

pytestmark = pytest.mark.django_db


def errors_of(call, **kwargs) -> dict:
    with pytest.raises(ValidationError) as error:
        call(**kwargs)
    return error.value.message_dict


def test_profiles_are_made_for_working_members_only(in_tenant, users):
    created = services.csm_profiles_ensure()
    assert created == 3  # csm, leader, admin; not the viewer
    assert set(CsmProfile.objects.values_list("user_id", flat=True)) == {
        users[r].pk for r in (Role.CSM, Role.LEADER, Role.ADMIN)
    }
    assert services.csm_profiles_ensure() == 0
    viewer = Membership.objects.get(user=users[Role.VIEWER])
    assert services.csm_profile_ensure(membership=viewer) is None
    csm = Membership.objects.get(user=users[Role.CSM])
    assert services.csm_profile_ensure(membership=csm).user == users[Role.CSM]


def test_profile_update_checks_skills_and_hours(in_tenant, users):
    services.csm_profiles_ensure()
    profile = CsmProfile.objects.get(user=users[Role.CSM])
    services.csm_profile_update(
        profile=profile, skills=["technical", "onboarding"], weekly_capacity_hours="32.5"
    )
    profile.refresh_from_db()
    assert profile.skills == ["technical", "onboarding"]
    assert profile.weekly_capacity_hours == Decimal("32.5")
    assert "skills" in errors_of(services.csm_profile_update, profile=profile, skills=["juggling"])
    for bad in (-1, 169, "many"):
        assert "weekly_capacity_hours" in errors_of(
            services.csm_profile_update, profile=profile, weekly_capacity_hours=bad
        )
    services.csm_profile_update(profile=profile, takes_assignments=False)
    profile.refresh_from_db()
    assert profile.takes_assignments is False and profile.skills == ["technical", "onboarding"]


def test_skills_add_rename_and_delete(in_tenant, users):
    skill = services.skill_save(label="Data migration")
    assert skill.key == "data-migration"
    assert "key" in errors_of(services.skill_save, label="Data Migration")
    assert "label" in errors_of(services.skill_save, label="  ")
    services.skill_save(skill=skill, label="Data moves")
    assert Skill.objects.get(pk=skill.pk).key == "data-migration"
    services.csm_profiles_ensure()
    profile = CsmProfile.objects.get(user=users[Role.CSM])
    services.csm_profile_update(profile=profile, skills=["data-migration", "technical"])
    step = PlaybookStep.objects.create(
        playbook=Playbook.objects.create(name="P"), title="S", required_skill="data-migration"
    )
    assert "skill" in errors_of(services.skill_delete, skill=skill)
    step.delete()
    services.skill_delete(skill=skill)
    profile.refresh_from_db()
    assert profile.skills == ["technical"]
    assert not Skill.objects.filter(key="data-migration").exists()


def test_out_of_office_dates_are_checked(in_tenant, users):
    services.csm_profiles_ensure()
    profile = CsmProfile.objects.get(user=users[Role.CSM])
    day = dt.date(2030, 5, 6)
    absence = services.out_of_office_add(
        profile=profile, starts_on=day, ends_on=day + dt.timedelta(days=4), note="Holiday"
    )
    assert "ends_on" in errors_of(
        services.out_of_office_add,
        profile=profile,
        starts_on=day,
        ends_on=day - dt.timedelta(days=1),
    )
    missing = errors_of(services.out_of_office_add, profile=profile, starts_on=None, ends_on=None)
    assert set(missing) == {"starts_on", "ends_on"}
    # A typo'd year is refused by field, not planned around for decades.
    far = errors_of(
        services.out_of_office_add,
        profile=profile,
        starts_on=dt.date(1999, 12, 31),
        ends_on=dt.date(9999, 1, 1),
    )
    assert set(far) == {"starts_on", "ends_on"}
    assert "Choose a day from 2000-01-01" in far["starts_on"][0]
    services.out_of_office_remove(absence=absence)
    assert not profile.absences.exists()


def test_groups_keep_turn_order_and_only_working_members(in_tenant, users, other_tenant):
    group = services.csm_group_save(
        name="Pod", member_ids=[users[Role.LEADER].pk, users[Role.CSM].pk]
    )
    order = list(CsmGroupMember.objects.filter(group=group).values_list("user_id", flat=True))
    assert order == [users[Role.LEADER].pk, users[Role.CSM].pk]
    outsider = make_user(other_tenant, Role.CSM)
    for bad in ([users[Role.VIEWER].pk], [outsider.pk], []):
        assert "member_ids" in errors_of(services.csm_group_save, name="Other", member_ids=bad)
    assert "name" in errors_of(services.csm_group_save, name="Pod", member_ids=[users[Role.CSM].pk])
    services.csm_group_save(group=group, name="Pod", member_ids=[users[Role.CSM].pk])
    assert list(CsmGroupMember.objects.filter(group=group).values_list("user_id", flat=True)) == [
        users[Role.CSM].pk
    ]


def test_unplanned_share_is_0_to_90(in_tenant):
    services.work_settings_update(unplanned_share_percent=35)
    assert WorkSettings.objects.get().unplanned_share_percent == 35
    for bad in (-1, 91, "x", None):
        assert "unplanned_share_percent" in errors_of(
            services.work_settings_update, unplanned_share_percent=bad
        )
    assert WorkSettings.objects.get().unplanned_share_percent == 35
