"""The team page (leaders and admins): profiles, out of office, skills,
groups and the unplanned share; bad input is 422 at the field; other roles
and other tenants are refused."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Role
from tests.conftest import make_user
from tests.pages.conftest import url
from work import services
from work.models import (
    CsmGroup,
    CsmGroupMember,
    CsmProfile,
    OutOfOffice,
    PlaybookStep,
    Skill,
    WorkSettings,
)

pytestmark = pytest.mark.django_db

SOON = dt.date.today() + dt.timedelta(days=10)


@pytest.fixture
def profile(inside, users):
    with inside():
        services.csm_profiles_ensure()
        return CsmProfile.objects.get(user=users[Role.CSM])


def test_leader_sees_every_working_member(page, tenant, users):
    response = page(Role.LEADER).get(url("work_team", tenant))
    assert response.status_code == 200
    html = response.content.decode()
    for role in (Role.CSM, Role.LEADER, Role.ADMIN):
        assert users[role].display_name in html
    assert users[Role.VIEWER].display_name not in html
    assert "Onboarding" in html  # the default skills


@pytest.mark.parametrize("role", [Role.VIEWER, Role.CSM])
def test_other_roles_are_refused(page, tenant, inside, profile, role):
    client = page(role)
    assert client.get(url("work_team", tenant)).status_code == 403
    with inside():
        skill = Skill.objects.get(key="training")
        group = services.csm_group_save(name="G", member_ids=[profile.user_id])
        absence = services.out_of_office_add(profile=profile, starts_on=SOON, ends_on=SOON)
    posts = [
        (url("work_profile_update", tenant, profile.pk), {"weekly_capacity_hours": 1}),
        (url("work_absence_add", tenant, profile.pk), {"starts_on": SOON, "ends_on": SOON}),
        (url("work_absence_remove", tenant, absence.pk), {}),
        (url("work_skill_add", tenant), {"label": "Sales"}),
        (url("work_skill_remove", tenant, skill.pk), {}),
        (url("work_group_create", tenant), {"name": "H", "member_ids": [profile.user_id]}),
        (url("work_group_update", tenant, group.pk), {"name": "H"}),
        (url("work_group_delete", tenant, group.pk), {}),
        (url("work_settings_update", tenant), {"unplanned_share_percent": 50}),
    ]
    for target, data in posts:
        assert client.post(target, data).status_code == 403, target
    with inside():
        assert CsmProfile.objects.get(pk=profile.pk).weekly_capacity_hours == 40
        assert OutOfOffice.objects.filter(pk=absence.pk).exists()
        assert Skill.objects.filter(pk=skill.pk).exists()
        assert CsmGroup.objects.filter(name="G").exists()
        assert not Skill.objects.filter(label="Sales").exists()


def test_profile_update_and_its_errors(page, tenant, inside, profile):
    client = page(Role.LEADER)
    target = url("work_profile_update", tenant, profile.pk)
    ok = client.post(
        target,
        {
            "skills": ["technical", "training"],
            "weekly_capacity_hours": "30",
            "takes_assignments": "",
        },
    )
    assert ok.status_code == 302
    with inside():
        profile.refresh_from_db()
    assert sorted(profile.skills) == ["technical", "training"]
    assert profile.weekly_capacity_hours == Decimal("30") and not profile.takes_assignments
    bad = client.post(target, {"skills": ["nope"], "weekly_capacity_hours": "500"})
    assert bad.status_code == 422
    html = bad.content.decode()
    assert f'id="profile{profile.pk}_skills_error"' in html
    assert f'id="profile{profile.pk}_weekly_capacity_hours_error"' in html


def test_out_of_office_add_remove_and_errors(page, tenant, inside, profile):
    client = page(Role.LEADER)
    target = url("work_absence_add", tenant, profile.pk)
    ok = client.post(target, {"starts_on": SOON, "ends_on": SOON + dt.timedelta(days=2)})
    assert ok.status_code == 302
    page_html = client.get(url("work_team", tenant)).content.decode()
    assert f"{SOON:%Y-%m-%d}" in page_html
    bad = client.post(target, {"starts_on": SOON, "ends_on": SOON - dt.timedelta(days=1)})
    assert bad.status_code == 422
    assert f'id="absence{profile.pk}_ends_on_error"' in bad.content.decode()
    with inside():
        absence = OutOfOffice.objects.get(profile=profile)
    assert client.post(url("work_absence_remove", tenant, absence.pk)).status_code == 302
    with inside():
        assert not OutOfOffice.objects.exists()


def test_skills_add_and_remove(page, tenant, inside):
    client = page(Role.ADMIN)
    assert (
        client.post(url("work_skill_add", tenant), {"label": "Data migration"}).status_code == 302
    )
    dup = client.post(url("work_skill_add", tenant), {"label": "Data Migration"})
    assert dup.status_code == 422 and 'id="skill_key_error"' in dup.content.decode()
    with inside():
        skill = Skill.objects.get(key="data-migration")
        used = Skill.objects.get(key="technical")  # the default playbooks need it
        assert PlaybookStep.objects.filter(required_skill="technical").exists()
    refused = client.post(url("work_skill_remove", tenant, used.pk))
    assert refused.status_code == 422 and "require this skill" in refused.content.decode()
    assert client.post(url("work_skill_remove", tenant, skill.pk)).status_code == 302
    with inside():
        assert not Skill.objects.filter(pk=skill.pk).exists()
        assert Skill.objects.filter(pk=used.pk).exists()


def test_groups_create_edit_delete(page, tenant, inside, users):
    client = page(Role.LEADER)
    members = [users[Role.LEADER].pk, users[Role.CSM].pk]
    ok = client.post(url("work_group_create", tenant), {"name": "Pod", "member_ids": members})
    assert ok.status_code == 302
    with inside():
        group = CsmGroup.objects.get(name="Pod")
    bad = client.post(url("work_group_create", tenant), {"name": "", "member_ids": []})
    assert bad.status_code == 422
    assert 'id="new_group_name_error"' in bad.content.decode()
    assert 'id="new_group_member_ids_error"' in bad.content.decode()
    viewer = client.post(
        url("work_group_update", tenant, group.pk),
        {"name": "Pod", "member_ids": [users[Role.VIEWER].pk]},
    )
    assert viewer.status_code == 422  # not a choice: viewers do no work
    edited = client.post(
        url("work_group_update", tenant, group.pk),
        {"name": "Pod A", "member_ids": [users[Role.CSM].pk]},
    )
    assert edited.status_code == 302
    with inside():
        assert CsmGroup.objects.get(pk=group.pk).name == "Pod A"
        assert list(CsmGroupMember.objects.values_list("user_id", flat=True)) == [
            users[Role.CSM].pk
        ]
    assert client.post(url("work_group_delete", tenant, group.pk)).status_code == 302
    with inside():
        assert not CsmGroup.objects.exists()


def test_unplanned_share(page, tenant, inside):
    client = page(Role.LEADER)
    target = url("work_settings_update", tenant)
    assert client.post(target, {"unplanned_share_percent": 30}).status_code == 302
    bad = client.post(target, {"unplanned_share_percent": 95})
    assert bad.status_code == 422
    assert 'id="settings_unplanned_share_percent_error"' in bad.content.decode()
    with inside():
        assert WorkSettings.objects.get().unplanned_share_percent == 30


def test_another_tenants_rows_are_404(page, tenant, other_tenant):
    with tenant_context(other_tenant):
        stranger = make_user(other_tenant, Role.CSM)
        services.csm_profiles_ensure()
        profile = CsmProfile.objects.get(user=stranger)
        absence = services.out_of_office_add(profile=profile, starts_on=SOON, ends_on=SOON)
        group = services.csm_group_save(name="Theirs", member_ids=[stranger.pk])
        skill = Skill.objects.get(key="executive")
    client = page(Role.ADMIN)
    assert (
        client.post(
            url("work_profile_update", tenant, profile.pk), {"weekly_capacity_hours": 1}
        ).status_code
        == 404
    )
    assert (
        client.post(
            url("work_absence_add", tenant, profile.pk), {"starts_on": SOON, "ends_on": SOON}
        ).status_code
        == 404
    )
    assert client.post(url("work_absence_remove", tenant, absence.pk)).status_code == 404
    assert client.post(url("work_skill_remove", tenant, skill.pk)).status_code == 404
    assert client.post(url("work_group_update", tenant, group.pk), {"name": "x"}).status_code == 404
    assert client.post(url("work_group_delete", tenant, group.pk)).status_code == 404
    with tenant_context(other_tenant):
        assert OutOfOffice.objects.filter(pk=absence.pk).exists()
        assert CsmGroup.objects.filter(pk=group.pk).exists()
        assert Skill.objects.filter(pk=skill.pk).exists()


def test_team_page_costs_the_same_for_3_and_30_members(page, tenant, inside):
    client = page(Role.LEADER)

    def count(more: int) -> tuple[int, int]:
        added = [make_user(tenant, Role.CSM) for _ in range(more)]
        with inside():
            services.csm_profiles_ensure()
            for user in added:
                profile = CsmProfile.objects.get(user=user)
                services.out_of_office_add(profile=profile, starts_on=SOON, ends_on=SOON)
            if added:
                services.csm_group_save(
                    name=f"Group {CsmGroup.objects.count()}", member_ids=[u.pk for u in added]
                )
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url("work_team", tenant))
        assert response.status_code == 200
        return len(ctx.captured_queries), response.content.decode().count('id="profile-')

    count(0)  # warm, and the leader/admin/csm profiles exist from here on
    few, few_rows = count(3)
    many, many_rows = count(27)
    assert many_rows - few_rows == 27
    assert many == few
