"""The capacity page for CS leaders: load against capacity per CSM for six
weeks (with a chart per CSM and one for the team), the last four weeks,
estimate accuracy per playbook step with a one-click estimate update, and a
rebalance suggestion that can be applied move by move or all at once."""

from __future__ import annotations

import math
from collections import defaultdict

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from csplatform.tenancy.models import Role
from csplatform.ui.access import FORM_ERRORS, requires_role
from health.charts import nice_ceiling
from work import selectors, services
from work.models import PlaybookStep
from work.selectors import WeekLoad


def capacity_chart(weeks: list[WeekLoad], *, small: bool = False) -> dict:
    """Geometry of a bar chart of load per week (task hours, then the
    unplanned share stacked on top; red when over) with capacity drawn as a
    step line: plain numbers for an inline SVG, no chart library."""
    width, height = (180, 64) if small else (640, 190)
    left, right, top, bottom = (2, 2, 4, 4) if small else (44, 12, 12, 30)
    plot_w, plot_h = width - left - right, height - top - bottom
    base = top + plot_h
    peak = max((max(w.load_hours, w.capacity_hours) for w in weeks), default=0)
    scale = nice_ceiling(math.ceil(peak))
    slot = plot_w / max(len(weeks), 1)

    def y_of(hours) -> float:
        return round(base - plot_h * float(hours) / scale, 1)

    bars, line = [], []
    for i, week in enumerate(weeks):
        x = left + slot * i
        task_top = y_of(week.task_hours)
        load_top = y_of(week.load_hours)
        bars.append(
            {
                "x": round(x + slot * 0.15, 1),
                "width": round(slot * 0.7, 1),
                "task_y": task_top,
                "task_height": round(base - task_top, 1),
                "unplanned_y": load_top,
                "unplanned_height": round(task_top - load_top, 1),
                "week": week,
                "label_x": round(x + slot / 2, 1),
            }
        )
        cap_y = y_of(week.capacity_hours)
        line += [f"{round(x, 1)},{cap_y}", f"{round(x + slot, 1)},{cap_y}"]
    return {
        "width": width,
        "height": height,
        "left": left,
        "right": width - right,
        "base": base,
        "label_y": height - 8,
        "bars": bars,
        "capacity_line": " ".join(line),
        "ticks": [{"y": y_of(scale * share), "hours": scale * share} for share in (0, 0.5, 1)],
        "small": small,
    }


def _render(request, *, status: int = 200, move_errors=None, estimate_errors=None):
    report = selectors.capacity_report(today=timezone.localdate())
    members = [{"m": m, "chart": capacity_chart(m.weeks, small=True)} for m in report.members]
    context = {
        "report": report,
        "members": members,
        "team_chart": capacity_chart(report.team),
        "move_errors": move_errors or [],
        "estimate_errors": estimate_errors or {},
    }
    return render(request, "work/capacity/page.html", context, status=status)


@require_http_methods(["GET"])
@requires_role(Role.LEADER)
def capacity_page(request, tenant_slug):
    return _render(request)


def _moves(values: list[str]) -> list[tuple[int, int]]:
    """`task_id:user_id` pairs; a ValidationError on `move` otherwise."""
    moves = []
    for value in values:
        task_id, _, user_id = (value or "").partition(":")
        if not (task_id.isdigit() and user_id.isdigit()):
            raise ValidationError(
                {"move": [f"“{value}” is not a task and a person to move it to."]}
            )
        moves.append((int(task_id), int(user_id)))
    if not moves:
        raise ValidationError({"move": ["Choose at least one suggested move."]})
    return moves


@require_POST
@requires_role(Role.LEADER)
def rebalance_apply(request, tenant_slug):
    """Apply one suggested move or all of them (each `move` is
    task_id:user_id) through tasks_reassign, all or nothing. A task id that
    is not this tenant's (unknown, or another tenant's) or a person who
    cannot take work is a 422 with the reason, and nothing moves."""
    try:
        moves = _moves(request.POST.getlist("move"))
    except ValidationError as error:
        return _render(request, status=FORM_ERRORS, move_errors=error.messages)
    by_assignee = defaultdict(list)
    for task_id, user_id in moves:
        by_assignee[user_id].append(task_id)
    moved = 0
    try:
        with transaction.atomic():
            for user_id, ids in by_assignee.items():
                moved += len(
                    services.tasks_reassign(task_ids=ids, assignee_id=user_id, actor=request.user)
                )
    except ValidationError as error:
        return _render(request, status=FORM_ERRORS, move_errors=error.messages)
    messages.success(request, f"Moved {moved} task{'' if moved == 1 else 's'}.")
    return redirect("work_capacity", tenant_slug=tenant_slug)


@require_POST
@requires_role(Role.LEADER)
def step_estimate(request, tenant_slug, pk):
    """Set a playbook step's estimate (the "Use N min" button)."""
    step = get_object_or_404(PlaybookStep.objects.select_related("playbook"), pk=pk)
    try:
        services.playbook_step_estimate_set(
            step=step,
            estimated_minutes=request.POST.get("estimated_minutes"),
            actor=request.user,
        )
    except ValidationError as error:
        return _render(request, status=FORM_ERRORS, estimate_errors={step.pk: error.messages})
    messages.success(
        request,
        f"“{step.title}” ({step.playbook.name}) is now estimated at {step.estimated_minutes} min.",
    )
    return redirect("work_capacity", tenant_slug=tenant_slug)
