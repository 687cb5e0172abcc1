"""The accounts list, and creating and editing an account."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from csplatform.tenancy.models import Role
from csplatform.ui.access import FORM_ERRORS, requires_role
from lifecycle import selectors, services
from lifecycle.forms import AccountFilterForm, AccountForm, apply_errors, tenant_members
from lifecycle.models import Account, Segment, Stage
from lifecycle.segments import SegmentFilterBroken
from lifecycle.selectors import account_owner_candidates
from lifecycle.views.common import back_to_account, get_account

PAGE_SIZE = 50


def _funnel() -> list[dict]:
    counts = selectors.stage_counts()
    total = sum(counts.values()) or 1
    return [
        {
            "stage": stage.value,
            "label": stage.label,
            "count": counts.get(stage.value, 0),
            "percent": round(100 * counts.get(stage.value, 0) / total),
        }
        for stage in Stage
    ]


@require_http_methods(["GET"])
@requires_role(Role.VIEWER)
def account_list(request, tenant_slug):
    form = AccountFilterForm(
        request.GET or None, owners=tenant_members(), segments=Segment.objects.all()
    )
    status, broken = 200, None
    try:
        accounts = selectors.account_list(**form.filters())
    except SegmentFilterBroken as error:
        # The page still draws its filters, so another segment can be chosen.
        status, broken, accounts = 409, error.message, Account.objects.none()
    page = Paginator(accounts, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"filter_form": form, "page": page, "funnel": _funnel(), "segment_broken": broken}
    if request.htmx and request.htmx.target == "account-results":
        return render(request, "lifecycle/_account_results.html", context, status=status)
    return render(request, "lifecycle/account_list.html", context, status=status)


def _account_form_response(request, form, *, account=None, status=200):
    return render(
        request, "lifecycle/account_form.html", {"form": form, "account": account}, status=status
    )


@require_http_methods(["GET", "POST"])
@requires_role(Role.CSM)
def account_new(request, tenant_slug):
    form = AccountForm(request.POST or None, owners=account_owner_candidates())
    if request.method == "GET":
        return _account_form_response(request, form)
    if form.is_valid():
        try:
            account = services.account_create(actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            return back_to_account(request, account, f"Created {account.name}.")
    return _account_form_response(request, form, status=FORM_ERRORS)


@require_http_methods(["GET", "POST"])
@requires_role(Role.CSM)
def account_edit(request, tenant_slug, pk):
    account = get_account(pk)
    initial = {
        "name": account.name,
        "owner": account.owner_id,
        "tier": account.tier,
        "industry": account.industry,
    }
    form = AccountForm(
        request.POST or None, initial=initial, owners=account_owner_candidates(), editing=True
    )
    if request.method == "GET":
        return _account_form_response(request, form, account=account)
    if form.is_valid():
        try:
            services.account_update(account=account, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            return back_to_account(request, account, "Saved the account.")
    account.refresh_from_db()  # the failed update may have set attributes in memory
    return _account_form_response(request, form, account=account, status=FORM_ERRORS)


@requires_role(Role.VIEWER)
def workspace_home(request, tenant_slug):
    return redirect("accounts", tenant_slug=tenant_slug)
