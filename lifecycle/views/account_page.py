"""The account page: everything about one account, read by every role."""

from __future__ import annotations

from datetime import timedelta

from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from csplatform.tenancy.models import Role, role_at_least
from csplatform.ui.access import requires_role
from lifecycle import panels, selectors, services, timeline
from lifecycle.forms import (
    ContactForm,
    ContractForm,
    EscalationOpenForm,
    EscalationResolveForm,
    NoteForm,
)
from lifecycle.models import Account, Contact, Contract, Stage
from lifecycle.views.common import get_account

TIMELINE_PAGE_SIZE = 20


def timeline_page(request, account: Account):
    kind = request.GET.get("kind", "")
    if kind not in timeline.kinds():
        kind = ""
    entries = selectors.timeline_for(account=account, kind=kind)
    page = Paginator(entries, TIMELINE_PAGE_SIZE).get_page(request.GET.get("tpage"))
    for entry in page:
        entry.kind_label = timeline.label(entry.kind)
    return {"timeline_page": page, "kind": kind, "timeline_kinds": timeline.kinds()}


def stage_stays(account: Account) -> dict:
    stays = list(selectors.stage_history_for(account))
    totals: dict[str, timedelta] = {}
    for stay in stays:
        totals[stay.stage] = totals.get(stay.stage, timedelta()) + stay.duration
    return {
        "stays": list(reversed(stays)),
        "stage_totals": [
            {"label": stage.label, "duration": totals[stage.value]}
            for stage in Stage
            if stage.value in totals
        ],
    }


def account_context(request, account: Account, *, forms=None, rejection=None) -> dict:
    """The whole page; `forms` replaces blank forms with bound, errored ones
    and `rejection` explains a refused stage move."""
    escalations = list(selectors.escalations_for(account))
    context = {
        "account": account,
        "checklist": selectors.account_checklist(account),
        "contacts": Contact.objects.filter(account=account).order_by("name", "id"),
        "contracts": Contract.objects.filter(account=account).order_by("-renewal_date", "-id"),
        "escalations": escalations,
        "open_escalation": next((e for e in escalations if e.is_open), None),
        "panels": panels.render_context(request, account),
        "rejection": rejection,
        "stage_path": [s for s in Stage if s != Stage.CHURNED or account.stage == Stage.CHURNED],
        **stage_stays(account),
        **timeline_page(request, account),
    }
    if role_at_least(request.tenant_role, Role.CSM):
        context.update(
            targets=services.allowed_targets(account),
            note_form=NoteForm(auto_id="note_%s"),
            contact_form=ContactForm(auto_id="contact_%s"),
            contract_form=ContractForm(auto_id="contract_%s"),
            escalation_form=EscalationOpenForm(auto_id="escalation_%s"),
            resolve_form=EscalationResolveForm(auto_id="resolve_%s"),
        )
    context.update(forms or {})
    return context


def render_account(request, account: Account, *, status: int = 200, **kwargs):
    return render(
        request,
        "lifecycle/account.html",
        account_context(request, account, **kwargs),
        status=status,
    )


@require_http_methods(["GET"])
@requires_role(Role.VIEWER)
def account_detail(request, tenant_slug, pk):
    return render_account(request, get_account(pk))


@require_http_methods(["GET"])
@requires_role(Role.VIEWER)
def account_timeline(request, tenant_slug, pk):
    """The timeline panel alone, for the kind filter and paging without a reload."""
    account = get_account(pk)
    context = {"account": account, **timeline_page(request, account)}
    return render(request, "lifecycle/account/_timeline.html", context)
