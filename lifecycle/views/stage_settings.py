"""Admins configure each stage's achievements checklist."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Max
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from csplatform.tenancy.models import Role
from csplatform.ui.access import FORM_ERRORS, requires_role
from lifecycle import services
from lifecycle.forms import StageAchievementForm, apply_errors
from lifecycle.models import Stage, StageAchievement


def _stages() -> list[dict]:
    by_stage: dict[str, list[StageAchievement]] = {stage.value: [] for stage in Stage}
    for achievement in StageAchievement.objects.order_by("stage", "position", "id"):
        by_stage.setdefault(achievement.stage, []).append(achievement)
    return [
        {"stage": stage.value, "label": stage.label, "achievements": by_stage[stage.value]}
        for stage in Stage
    ]


def _save(request, form, achievement=None):
    """Save through the service; None when the form (now with errors) is invalid."""
    if not form.is_valid():
        return None
    try:
        return services.stage_achievement_save(achievement=achievement, **form.cleaned_data)
    except ValidationError as error:
        apply_errors(form, error)
        return None


@require_http_methods(["GET", "POST"])
@requires_role(Role.ADMIN)
def stage_settings(request, tenant_slug):
    if request.method == "POST":
        form = StageAchievementForm(request.POST)
        saved = _save(request, form)
        if saved is not None:
            messages.success(request, f"Added “{saved.title}” to {saved.get_stage_display()}.")
            return redirect("stage_settings", tenant_slug=tenant_slug)
        status = FORM_ERRORS
    else:
        stage = request.GET.get("stage") if request.GET.get("stage") in Stage.values else None
        next_position = StageAchievement.objects.filter(stage=stage or Stage.ONBOARDING).aggregate(
            top=Max("position")
        )["top"]
        form = StageAchievementForm(
            initial={
                "stage": stage or Stage.ONBOARDING,
                "position": 0 if next_position is None else next_position + 1,
                "required": True,
            }
        )
        status = 200
    return render(
        request,
        "lifecycle/stage_settings.html",
        {"stages": _stages(), "form": form},
        status=status,
    )


@require_http_methods(["GET", "POST"])
@requires_role(Role.ADMIN)
def stage_achievement_edit(request, tenant_slug, pk):
    achievement = get_object_or_404(StageAchievement.objects.all(), pk=pk)
    if request.method == "POST":
        form = StageAchievementForm(request.POST)
        saved = _save(request, form, achievement)
        if saved is not None:
            messages.success(request, f"Saved “{saved.title}”.")
            return redirect("stage_settings", tenant_slug=tenant_slug)
        achievement.refresh_from_db()
        status = FORM_ERRORS
    else:
        form = StageAchievementForm(
            initial={
                field: getattr(achievement, field)
                for field in ("stage", "title", "key", "required", "position")
            }
        )
        status = 200
    return render(
        request,
        "lifecycle/stage_achievement_form.html",
        {"form": form, "achievement": achievement},
        status=status,
    )


@require_POST
@requires_role(Role.ADMIN)
def stage_achievement_delete(request, tenant_slug, pk):
    achievement = get_object_or_404(StageAchievement.objects.all(), pk=pk)
    services.stage_achievement_delete(achievement=achievement)
    messages.success(request, f"Deleted “{achievement.title}”.")
    return redirect("stage_settings", tenant_slug=tenant_slug)
