"""Renewal health: contracts renewing within the horizon, by renewal date or
risk, each with its likelihood in three parts and ARR at risk. Leaders see
everyone's; a CSM's opens on their own book."""

from __future__ import annotations

from django import forms
from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from csplatform.tenancy.models import Role
from csplatform.ui.access import requires_role
from health import selectors
from health.views.portfolio import SEGMENT_BROKEN, PortfolioFilterForm, book_filters
from lifecycle.segments import SegmentFilterBroken

PAGE_SIZE = 50


class RenewalFilterForm(PortfolioFilterForm):
    order = forms.ChoiceField(
        required=False,
        choices=[("renewal", "Soonest renewal first"), ("risk", "Riskiest first")],
    )


@require_http_methods(["GET"])
@requires_role(Role.CSM)
def renewals_page(request, tenant_slug):
    form, chosen = book_filters(request, RenewalFilterForm)
    owner, segment = chosen.get("owner"), chosen.get("segment")
    try:
        report = selectors.renewal_report(
            owner_id=owner.pk if owner else None,
            segment=segment,
            order=chosen.get("order") or "renewal",
        )
    except SegmentFilterBroken as broken:
        context = {"filter_form": form, "owner": owner, "segment": segment}
        context["segment_broken"] = broken.message  # the template shows only this
        return render(request, "health/renewals.html", context, status=SEGMENT_BROKEN)
    page = Paginator(report.rows, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
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
