"""Renewal health: contracts renewing within the horizon, by renewal date or
risk, each with its likelihood in three parts and ARR at risk. Leaders see
everyone's; a CSM's opens on their own book."""

from __future__ import annotations

from django import forms
from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from csplatform.tenancy.models import Role, role_at_least
from csplatform.ui.access import requires_role
from health import selectors
from health.views.portfolio import PortfolioFilterForm
from lifecycle.forms import tenant_members
from lifecycle.models import Segment

PAGE_SIZE = 50


class RenewalFilterForm(PortfolioFilterForm):
    order = forms.ChoiceField(
        required=False,
        choices=[("renewal", "Soonest renewal first"), ("risk", "Riskiest first")],
    )


@require_http_methods(["GET"])
@requires_role(Role.CSM)
def renewals_page(request, tenant_slug):
    data = request.GET.copy()
    if "owner" not in data and not role_at_least(request.tenant_role, Role.LEADER):
        data["owner"] = str(request.user.pk)
    form = RenewalFilterForm(
        data, owners=tenant_members(), segments=Segment.objects.order_by("name")
    )
    form.is_valid()
    chosen = getattr(form, "cleaned_data", {})
    owner, segment = chosen.get("owner"), chosen.get("segment")
    report = selectors.renewal_report(
        owner_id=owner.pk if owner else None,
        segment=segment,
        order=chosen.get("order") or "renewal",
    )
    page = Paginator(report.rows, PAGE_SIZE).get_page(request.GET.get("page"))
    query = data.copy()
    query.pop("page", None)
    context = {
        "filter_form": form,
        "owner": owner,
        "segment": segment,
        "report": report,
        "page": page,
        "query": query.urlencode(),
    }
    return render(request, "health/renewals.html", context)
