"""Writes on one task, from its queue row or its own page: start, complete,
skip, cancel, reopen (one endpoint), snooze, log time, outcome note,
reassign. An htmx post from the queue gets the row back, re-rendered in
place (a closed task becomes a "Done ✓" row with Undo); from the task page
the page; a plain form post is redirected back. Field errors answer 422 in
the row, a move the task's status does not allow 409, someone else's task
403 (a CSM), another tenant's task 404."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from csplatform.tenancy.models import Role
from csplatform.ui.access import FORM_ERRORS, requires_role
from lifecycle.forms import apply_errors
from work import selectors, services
from work.errors import TaskTransitionRejected
from work.forms_queue import OutcomeForm, ReassignForm, SnoozeForm, TimeLogForm, TransitionForm
from work.models import OPEN_STATUSES, Task
from work.views.queue import can_act, is_leader, members, render_task_page


def task_for_write(request, pk: int) -> Task:
    task = get_object_or_404(Task.objects.select_related("account"), pk=pk)
    if not can_act(request, task):
        raise PermissionDenied(
            "A CSM acts on their own tasks and unassigned ones on their accounts."
        )
    return task


def _answer(request, task_id: int, *, status=200, forms=None, conflict="", notice="", message=""):
    """Answer as the module docstring says."""
    from_detail = request.POST.get("view") == "detail"
    if status == 200 and not request.htmx:
        if message:
            messages.success(request, message)
        if from_detail:
            return redirect("work_task", tenant_slug=request.tenant.slug, pk=task_id)
        back = reverse("work_queue", args=[request.tenant.slug])
        user = request.POST.get("user", "")
        return redirect(f"{back}?user={user}" if user.isdigit() else back)
    if from_detail or not request.htmx:
        return render_task_page(
            request, task_id, status=status, forms=forms, conflict=conflict, notice=notice
        )
    task = selectors.queue_row(task_id)
    leader = is_leader(request)
    queue_user = request.POST.get("user", "")
    context = {
        "task": task,
        "forms": forms or {},
        "conflict": conflict,
        "notice": notice,
        "is_leader": leader,
        "members": members() if leader else [],
        "today": timezone.localdate(),
        "queue_user_id": int(queue_user) if queue_user.isdigit() else request.user.pk,
        "can_act": True,
        "view": "row",
    }
    return render(request, "work/queue/_task_row.html", context, status=status)


@require_GET
@requires_role(Role.CSM)
def task_forms(request, tenant_slug, pk):
    """The snooze/time/note/reassign forms of one row, loaded when opened."""
    task = task_for_write(request, pk)
    leader = is_leader(request)
    queue_user = request.GET.get("user", "")
    context = {
        "task": task,
        "forms": {},
        "is_leader": leader,
        "members": members() if leader else [],
        "today": timezone.localdate(),
        "queue_user_id": int(queue_user) if queue_user.isdigit() else request.user.pk,
        "view": "row",
    }
    return render(request, "work/queue/_task_forms.html", context)


@require_POST
@requires_role(Role.CSM)
def task_transition(request, tenant_slug, pk):
    task = task_for_write(request, pk)
    form = TransitionForm(request.POST, auto_id=f"task{pk}_transition_%s")
    if not form.is_valid():
        return _answer(request, pk, status=FORM_ERRORS, forms={"transition": form})
    action = form.cleaned_data["action"]
    try:
        task = services.task_transition(
            task=task, action=action, actor=request.user, outcome=form.cleaned_data["outcome"]
        )
    except TaskTransitionRejected as rejected:
        return _answer(request, pk, status=409, conflict=rejected.message)
    notice = services.TASK_ACTIONS[action].custom["notice"]
    return _answer(request, pk, notice=notice, message=f"{notice}: {task.title}")


def _form_action(request, pk, form_class, name: str, save, notice: str):
    task = task_for_write(request, pk)
    form = form_class(request.POST, auto_id=f"task{pk}_{name}_%s")
    if form.is_valid():
        try:
            save(task, form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        except TaskTransitionRejected as rejected:
            return _answer(request, pk, status=409, conflict=rejected.message)
        else:
            return _answer(request, pk, notice=notice, message=f"{notice}: {task.title}")
    return _answer(request, pk, status=FORM_ERRORS, forms={name: form})


@require_POST
@requires_role(Role.CSM)
def task_snooze(request, tenant_slug, pk):
    return _form_action(
        request,
        pk,
        SnoozeForm,
        "snooze",
        lambda task, data: services.task_snooze(task=task, until=data["until"], actor=request.user),
        "Snoozed",
    )


@require_POST
@requires_role(Role.CSM)
def task_time_log(request, tenant_slug, pk):
    return _form_action(
        request,
        pk,
        TimeLogForm,
        "time",
        lambda task, data: services.task_time_log(task=task, actor=request.user, **data),
        "Time logged",
    )


@require_POST
@requires_role(Role.CSM)
def task_outcome(request, tenant_slug, pk):
    return _form_action(
        request,
        pk,
        OutcomeForm,
        "outcome",
        lambda task, data: services.task_outcome_set(
            task=task, outcome=data["outcome"], actor=request.user
        ),
        "Outcome noted",
    )


@require_POST
@requires_role(Role.LEADER)
def task_reassign(request, tenant_slug, pk):
    task = task_for_write(request, pk)
    form = ReassignForm(request.POST, members=members(), auto_id=f"task{pk}_reassign_%s")
    if form.is_valid():
        if task.status not in OPEN_STATUSES:
            return _answer(request, pk, status=409, conflict="Only an open task can be reassigned.")
        try:
            services.tasks_reassign(
                task_ids=[task.pk], assignee_id=form.cleaned_data["assignee"], actor=request.user
            )
        except ValidationError as error:
            form.apply_errors(error)
        else:
            return _answer(request, pk, notice="Reassigned", message=f"Reassigned: {task.title}")
    return _answer(request, pk, status=FORM_ERRORS, forms={"reassign": form})
