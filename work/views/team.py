"""The team page (leaders and admins): each CSM's skills, weekly hours,
whether automatic assignment may pick them and their time out of office;
the tenant's skill list, round-robin groups and the unplanned-work share.
Every form posts to its own URL; a bad one re-renders the page with 422 and
the messages at its fields."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from csplatform.tenancy.models import Role
from csplatform.ui.access import FORM_ERRORS, requires_role
from lifecycle.forms import apply_errors
from work import selectors, services
from work.forms_playbooks import (
    AbsenceForm,
    GroupForm,
    ProfileForm,
    SkillForm,
    WorkSettingsForm,
)
from work.models import CsmGroup, CsmProfile, OutOfOffice, Skill


def _team_page(request, *, bound: dict | None = None, status: int = 200):
    """`bound` maps a form's key to the submitted form to show in its place."""
    bound = bound or {}
    services.csm_profiles_ensure()  # members added since the last visit get a profile
    skills = list(selectors.skill_list())
    members = list(selectors.working_members())
    rows = []
    for profile in selectors.team_profiles():
        rows.append(
            {
                "profile": profile,
                "form": bound.get(("profile", profile.pk))
                or ProfileForm(
                    skills=skills,
                    initial={
                        "skills": profile.skills,
                        "weekly_capacity_hours": profile.weekly_capacity_hours,
                        "takes_assignments": profile.takes_assignments,
                    },
                    auto_id=f"profile{profile.pk}_%s",
                ),
                "absence_form": bound.get(("absence", profile.pk))
                or AbsenceForm(auto_id=f"absence{profile.pk}_%s"),
            }
        )
    groups = [
        {
            "group": group,
            "form": bound.get(("group", group.pk))
            or GroupForm(
                members=members,
                initial={
                    "name": group.name,
                    "member_ids": [m.user_id for m in group.ordered_members],
                },
                auto_id=f"group{group.pk}_%s",
            ),
        }
        for group in selectors.csm_group_list()
    ]
    settings = services.work_settings_get()
    context = {
        "rows": rows,
        "skills": skills,
        "skill_form": bound.get("skill") or SkillForm(auto_id="skill_%s"),
        "groups": groups,
        "group_form": bound.get("group") or GroupForm(members=members, auto_id="new_group_%s"),
        "settings_form": bound.get("settings")
        or WorkSettingsForm(
            initial={"unplanned_share_percent": settings.unplanned_share_percent},
            auto_id="settings_%s",
        ),
        "skill_error": bound.get("skill_error", ""),
    }
    return render(request, "work/team/team.html", context, status=status)


def _done(request, message: str):
    messages.success(request, message)
    return redirect("work_team", tenant_slug=request.tenant.slug)


def _submit(request, key, form, save, message: str):
    """Validate `form`, run `save(cleaned_data)`; 422 with the errors otherwise."""
    if form.is_valid():
        try:
            save(form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            return _done(request, message)
    return _team_page(request, bound={key: form}, status=FORM_ERRORS)


@require_GET
@requires_role(Role.LEADER)
def team(request, tenant_slug):
    return _team_page(request)


@require_POST
@requires_role(Role.LEADER)
def profile_update(request, tenant_slug, pk):
    profile = get_object_or_404(CsmProfile.objects.select_related("user"), pk=pk)
    form = ProfileForm(request.POST, skills=list(selectors.skill_list()), auto_id=f"profile{pk}_%s")
    return _submit(
        request,
        ("profile", pk),
        form,
        lambda d: services.csm_profile_update(profile=profile, actor=request.user, **d),
        f"Saved {profile.user.display_name}'s profile.",
    )


@require_POST
@requires_role(Role.LEADER)
def absence_add(request, tenant_slug, pk):
    profile = get_object_or_404(CsmProfile.objects.select_related("user"), pk=pk)
    form = AbsenceForm(request.POST, auto_id=f"absence{pk}_%s")
    return _submit(
        request,
        ("absence", pk),
        form,
        lambda d: services.out_of_office_add(profile=profile, **d),
        f"Added time out of office for {profile.user.display_name}.",
    )


@require_POST
@requires_role(Role.LEADER)
def absence_remove(request, tenant_slug, pk):
    absence = get_object_or_404(OutOfOffice.objects.all(), pk=pk)
    services.out_of_office_remove(absence=absence)
    return _done(request, "Removed the time out of office.")


@require_POST
@requires_role(Role.LEADER)
def skill_add(request, tenant_slug):
    form = SkillForm(request.POST, auto_id="skill_%s")
    return _submit(request, "skill", form, lambda d: services.skill_save(**d), "Added the skill.")


@require_POST
@requires_role(Role.LEADER)
def skill_remove(request, tenant_slug, pk):
    skill = get_object_or_404(Skill.objects.all(), pk=pk)
    try:
        services.skill_delete(skill=skill)
    except ValidationError as error:
        message = " ".join(error.messages)
        return _team_page(
            request, bound={"skill_error": f"{skill.label}: {message}"}, status=FORM_ERRORS
        )
    return _done(request, f"Removed the skill “{skill.label}”.")


@require_POST
@requires_role(Role.LEADER)
def group_create(request, tenant_slug):
    form = GroupForm(
        request.POST, members=list(selectors.working_members()), auto_id="new_group_%s"
    )
    return _submit(
        request, "group", form, lambda d: services.csm_group_save(**d), "Added the group."
    )


@require_POST
@requires_role(Role.LEADER)
def group_update(request, tenant_slug, pk):
    group = get_object_or_404(CsmGroup.objects.all(), pk=pk)
    form = GroupForm(
        request.POST, members=list(selectors.working_members()), auto_id=f"group{pk}_%s"
    )
    return _submit(
        request,
        ("group", pk),
        form,
        lambda d: services.csm_group_save(group=group, **d),
        "Saved the group.",
    )


@require_POST
@requires_role(Role.LEADER)
def group_delete(request, tenant_slug, pk):
    group = get_object_or_404(CsmGroup.objects.all(), pk=pk)
    services.csm_group_delete(group=group)
    return _done(request, f"Removed the group “{group.name}”.")


@require_POST
@requires_role(Role.LEADER)
def settings_update(request, tenant_slug):
    form = WorkSettingsForm(request.POST, auto_id="settings_%s")
    return _submit(
        request,
        "settings",
        form,
        lambda d: services.work_settings_update(**d),
        "Saved the unplanned share.",
    )
