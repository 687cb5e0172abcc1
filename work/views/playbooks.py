"""Playbook pages: the list (every member reads it), a playbook with its
ordered steps and, for leaders and admins, the editor; and the "Work" card
of the account page (open tasks, active runs, "Start playbook" for csm+),
loaded lazily by htmx like the health card."""

from __future__ import annotations

import secrets

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from csplatform.tenancy.models import Role, role_at_least
from csplatform.ui.access import FORM_ERRORS, requires_role
from lifecycle.forms import apply_errors
from lifecycle.views.common import get_account
from work import selectors, services
from work.forms_playbooks import PlaybookForm, StartForm, StepForm
from work.models import Playbook, PlaybookRun, PlaybookStep


# -- the account page's Work card --------------------------------------------
def work_panel_context(request, account) -> dict:
    """What the account page needs for the placeholder: a URL, no query."""
    return {"url": reverse("work_account", args=[request.tenant.slug, account.pk])}


def _start_form(data=None) -> StartForm:
    playbooks = selectors.playbook_list(active=True)
    form = StartForm(data, playbooks=playbooks, initial={"nonce": secrets.token_urlsafe(12)})
    return form


def may_cancel_runs(request, account) -> bool:
    """Cancelling a run cancels its open tasks, whoever has them: leaders and
    admins anywhere, a CSM on the accounts they own."""
    return role_at_least(request.tenant_role, Role.LEADER) or (
        role_at_least(request.tenant_role, Role.CSM) and account.owner_id == request.user.pk
    )


def _work_card(request, account, *, start_form=None, notice: str = "", status: int = 200):
    context = {
        "account": account,
        "tasks": selectors.account_open_tasks(account=account),
        "runs": selectors.account_active_runs(account=account),
        "start_form": start_form or _start_form(),
        "notice": notice,
        "can_cancel": may_cancel_runs(request, account),
    }
    return render(request, "work/playbooks/account_work.html", context, status=status)


@require_GET
@requires_role(Role.VIEWER)
def account_work(request, tenant_slug, pk):
    return _work_card(request, get_account(pk))


def _back(request, account, notice: str):
    """htmx swaps the fresh card in; a plain form post goes back to the page."""
    if request.htmx:
        return _work_card(request, account, notice=notice)
    messages.success(request, notice)
    return redirect("account", tenant_slug=request.tenant.slug, pk=account.pk)


@require_POST
@requires_role(Role.VIEWER, write=Role.CSM)
def account_playbook_start(request, tenant_slug, pk):
    account = get_account(pk)
    form = _start_form(request.POST)
    if form.is_valid():
        playbook = Playbook.objects.filter(pk=form.cleaned_data["playbook"]).first()
        try:
            _run, created = services.playbook_start(
                playbook=playbook,
                account=account,
                occurrence_key=f"manual:{request.user.pk}:{form.cleaned_data['nonce']}",
                actor=request.user,
                reason=form.cleaned_data["reason"] or f"Started by {request.user.display_name}",
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            if created:
                return _back(request, account, f"Started “{playbook.name}”.")
            return _back(request, account, f"“{playbook.name}” was already started by this form.")
    if "nonce" in form.errors:  # a hidden field: say it where it shows
        form.add_error(None, "This form is out of date; reload the page and try again.")
    return _work_card(request, account, start_form=form, status=FORM_ERRORS)


@require_POST
@requires_role(Role.VIEWER, write=Role.CSM)
def run_cancel(request, tenant_slug, pk):
    run = get_object_or_404(PlaybookRun.objects.select_related("account", "playbook"), pk=pk)
    if not may_cancel_runs(request, run.account):
        raise PermissionDenied("A CSM cancels playbooks on the accounts they own.")
    services.playbook_run_cancel(
        run=run, actor=request.user, reason=f"Cancelled by {request.user.display_name}"
    )
    return _back(request, run.account, f"Cancelled “{run.playbook.name}” and its open tasks.")


# -- playbooks ---------------------------------------------------------------
def _list_page(request, form=None, status=200):
    context = {
        "playbooks": list(selectors.playbook_list()),
        "form": form or PlaybookForm(auto_id="new_playbook_%s"),
    }
    return render(request, "work/playbooks/list.html", context, status=status)


@require_GET
@requires_role(Role.VIEWER)
def playbook_list(request, tenant_slug):
    return _list_page(request)


@require_POST
@requires_role(Role.VIEWER, write=Role.LEADER)
def playbook_create(request, tenant_slug):
    form = PlaybookForm(request.POST, auto_id="new_playbook_%s")
    if form.is_valid():
        try:
            playbook = services.playbook_save(actor=request.user, **form.service_kwargs())
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, f"Created “{playbook.name}”. Add its steps below.")
            return redirect("work_playbook", tenant_slug=tenant_slug, pk=playbook.pk)
    return _list_page(request, form, status=FORM_ERRORS)


def _step_form(data=None, *, steps, editing=None, initial=None, prefix=None):
    return StepForm(
        data,
        skills=list(selectors.skill_list()),
        members=list(selectors.working_members()),
        groups=list(selectors.csm_group_list()),
        steps=steps,
        editing=editing,
        initial=initial,
        prefix=prefix,
    )


def _detail_page(request, playbook, *, edit_form=None, step_form=None, status=200):
    steps = list(selectors.playbook_steps().filter(playbook=playbook))
    context = {
        "playbook": playbook,
        "steps": steps,
        "runs": selectors.playbook_runs(playbook=playbook),
    }
    if request.tenant_role in (Role.LEADER, Role.ADMIN):
        context["edit_form"] = edit_form or PlaybookForm(
            initial={
                "name": playbook.name,
                "description": playbook.description,
                "stage": playbook.stage,
                "is_active": playbook.is_active,
            },
            auto_id="playbook_%s",
        )
        context["step_form"] = step_form or _step_form(steps=steps, prefix="new")
    return render(request, "work/playbooks/detail.html", context, status=status)


def _playbook(pk) -> Playbook:
    return get_object_or_404(Playbook.objects.all(), pk=pk)


@require_http_methods(["GET", "POST"])
@requires_role(Role.VIEWER, write=Role.LEADER)
def playbook_detail(request, tenant_slug, pk):
    playbook = _playbook(pk)
    if request.method == "GET":
        return _detail_page(request, playbook)
    form = PlaybookForm(request.POST, auto_id="playbook_%s")
    if form.is_valid():
        try:
            services.playbook_save(playbook=playbook, actor=request.user, **form.service_kwargs())
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "Saved the playbook.")
            return redirect("work_playbook", tenant_slug=tenant_slug, pk=playbook.pk)
    playbook.refresh_from_db()
    return _detail_page(request, playbook, edit_form=form, status=FORM_ERRORS)


@require_POST
@requires_role(Role.VIEWER, write=Role.LEADER)
def playbook_delete(request, tenant_slug, pk):
    playbook = _playbook(pk)
    if services.playbook_delete(playbook=playbook):
        messages.success(request, f"Deleted “{playbook.name}”.")
    else:
        messages.success(
            request, f"“{playbook.name}” has runs, so it was switched off rather than deleted."
        )
    return redirect("work_playbooks", tenant_slug=tenant_slug)


@require_POST
@requires_role(Role.VIEWER, write=Role.LEADER)
def step_create(request, tenant_slug, pk):
    playbook = _playbook(pk)
    steps = list(selectors.playbook_steps().filter(playbook=playbook))
    form = _step_form(request.POST, steps=steps, prefix="new")
    if form.is_valid():
        try:
            step = services.playbook_step_save(
                playbook=playbook, actor=request.user, **form.service_kwargs()
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, f"Added the step “{step.title}”.")
            return redirect("work_playbook", tenant_slug=tenant_slug, pk=playbook.pk)
    return _detail_page(request, playbook, step_form=form, status=FORM_ERRORS)


@require_http_methods(["GET", "POST"])
@requires_role(Role.LEADER)
def step_edit(request, tenant_slug, pk, step_pk):
    playbook = _playbook(pk)
    step = get_object_or_404(PlaybookStep.objects.filter(playbook=playbook), pk=step_pk)
    steps = list(selectors.playbook_steps().filter(playbook=playbook))
    data = request.POST if request.method == "POST" else None
    form = _step_form(data, steps=steps, editing=step, initial=StepForm.initial_for(step))
    status = 200
    if data is not None:
        if form.is_valid():
            try:
                services.playbook_step_save(
                    playbook=playbook, step=step, actor=request.user, **form.service_kwargs()
                )
            except ValidationError as error:
                apply_errors(form, error)
            else:
                messages.success(request, f"Saved the step “{form.cleaned_data['title']}”.")
                return redirect("work_playbook", tenant_slug=tenant_slug, pk=playbook.pk)
        status = FORM_ERRORS
    context = {"playbook": playbook, "step": step, "form": form}
    return render(request, "work/playbooks/step_form.html", context, status=status)


@require_POST
@requires_role(Role.VIEWER, write=Role.LEADER)
def step_delete(request, tenant_slug, pk, step_pk):
    playbook = _playbook(pk)
    step = get_object_or_404(PlaybookStep.objects.filter(playbook=playbook), pk=step_pk)
    services.playbook_step_delete(step=step)
    messages.success(request, f"Removed the step “{step.title}”.")
    return redirect("work_playbook", tenant_slug=tenant_slug, pk=playbook.pk)
