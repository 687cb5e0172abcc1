"""Writes from the account page. Each answers with a redirect back to the
page on success, and with the page (its form showing field errors, or the
refused move explained) and a 4xx status otherwise. The page's forms post
through htmx and swap only the main area, so neither case reloads it."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_POST

from csplatform.tenancy.models import Role
from csplatform.ui.access import FORM_ERRORS, requires_role
from lifecycle import services
from lifecycle.errors import TransitionRejected
from lifecycle.forms import (
    AchievementToggleForm,
    ContactForm,
    ContractForm,
    EscalationOpenForm,
    EscalationResolveForm,
    NoteForm,
    TransitionForm,
    apply_errors,
)
from lifecycle.models import Escalation, NoteKind, Stage, StageAchievement
from lifecycle.views.account_page import render_account
from lifecycle.views.common import back_to_account, get_account


@require_POST
@requires_role(Role.CSM)
def account_transition(request, tenant_slug, pk):
    account = get_account(pk)
    form = TransitionForm(request.POST)
    if not form.is_valid():
        rejection = TransitionRejected("Choose a stage to move to.", code="invalid")
        return render_account(request, account, rejection=rejection, status=FORM_ERRORS)
    data = form.cleaned_data
    try:
        services.account_transition(
            account_id=account.pk,
            to_stage=data["to_stage"],
            expected_stage=data["expected_stage"],
            force=data["force"],
            reason=data["reason"],
            actor=request.user,
            role=request.tenant_role,
        )
    except TransitionRejected as rejected:
        rejected.to_stage = data["to_stage"]
        rejected.to_label = Stage(data["to_stage"]).label
        account.refresh_from_db()
        status = 403 if rejected.code == "forbidden" else 409
        return render_account(request, account, rejection=rejected, status=status)
    label = Stage(data["to_stage"]).label
    return back_to_account(request, account, f"Moved {account.name} to {label}.")


@require_POST
@requires_role(Role.CSM)
def achievement_toggle(request, tenant_slug, pk, achievement_id):
    account = get_account(pk)
    achievement = get_object_or_404(StageAchievement.objects.all(), pk=achievement_id)
    form = AchievementToggleForm(request.POST)
    form.is_valid()
    if form.cleaned_data.get("done"):
        services.achievement_complete(account=account, achievement=achievement, actor=request.user)
        return back_to_account(request, account, f"Done: {achievement.title}.")
    services.achievement_reopen(account=account, achievement=achievement, actor=request.user)
    return back_to_account(request, account, f"Reopened: {achievement.title}.")


def _submit(request, account, form, form_name: str, save, message: str):
    """Validate `form`, call `save(cleaned_data)`, and answer as described above."""
    if form.is_valid():
        try:
            save(form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            return back_to_account(request, account, message)
    return render_account(request, account, forms={form_name: form}, status=FORM_ERRORS)


@require_POST
@requires_role(Role.CSM)
def note_add(request, tenant_slug, pk):
    account = get_account(pk)
    return _submit(
        request,
        account,
        NoteForm(request.POST, auto_id="note_%s"),
        "note_form",
        lambda data: services.note_add(
            account=account,
            body=data["body"],
            kind=data["kind"] or NoteKind.NOTE,
            actor=request.user,
        ),
        "Added to the timeline.",
    )


@require_POST
@requires_role(Role.CSM)
def contact_add(request, tenant_slug, pk):
    account = get_account(pk)
    return _submit(
        request,
        account,
        ContactForm(request.POST, auto_id="contact_%s"),
        "contact_form",
        lambda data: services.contact_save(account=account, actor=request.user, **data),
        "Contact added.",
    )


@require_POST
@requires_role(Role.CSM)
def contract_add(request, tenant_slug, pk):
    account = get_account(pk)
    return _submit(
        request,
        account,
        ContractForm(request.POST, auto_id="contract_%s"),
        "contract_form",
        lambda data: services.contract_save(account=account, actor=request.user, **data),
        "Contract added.",
    )


@require_POST
@requires_role(Role.CSM)
def escalation_open(request, tenant_slug, pk):
    account = get_account(pk)
    return _submit(
        request,
        account,
        EscalationOpenForm(request.POST, auto_id="escalation_%s"),
        "escalation_form",
        lambda data: services.escalation_open(
            account=account, reason=data["reason"], actor=request.user
        ),
        "Escalation opened.",
    )


@require_POST
@requires_role(Role.CSM)
def escalation_resolve(request, tenant_slug, pk, escalation_id):
    account = get_account(pk)
    escalation = get_object_or_404(Escalation.objects.filter(account=account), pk=escalation_id)
    return _submit(
        request,
        account,
        EscalationResolveForm(request.POST, auto_id="resolve_%s"),
        "resolve_form",
        lambda data: services.escalation_resolve(
            escalation=escalation, resolution=data["resolution"], actor=request.user
        ),
        "Escalation resolved.",
    )
