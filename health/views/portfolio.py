"""The health portfolio: accounts and ARR by band, the week's biggest
movers and the measures accounts lack data for, for the whole tenant, one
owner's book or a segment. Leaders and admins see everyone's; a CSM's
opens on their own book."""

from __future__ import annotations

from django import forms
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from csplatform.tenancy.models import Role, role_at_least
from csplatform.ui.access import requires_role
from health import selectors
from lifecycle.forms import tenant_members
from lifecycle.models import Segment
from lifecycle.segments import SegmentFilterBroken

# A segment whose stored filter cannot run: the page keeps its filters (pick
# another segment) and says which segment is broken, with a 409.
SEGMENT_BROKEN = 409


class PortfolioFilterForm(forms.Form):
    # Choices are read once per request (a list), so validating and
    # rendering them costs no further query.
    owner = forms.ChoiceField(required=False)
    segment = forms.ChoiceField(required=False)

    def __init__(self, *args, owners, segments, **kwargs):
        super().__init__(*args, **kwargs)
        self.owner_list, self.segment_list = list(owners), list(segments)
        self.fields["owner"].choices = [("", "Anyone")] + [
            (u.pk, u.display_name) for u in self.owner_list
        ]
        self.fields["segment"].choices = [("", "Any segment")] + [
            (s.pk, s.name) for s in self.segment_list
        ]

    def clean_owner(self):
        return self._pick(self.owner_list, self.data.get("owner"))

    def clean_segment(self):
        return self._pick(self.segment_list, self.data.get("segment"))

    @staticmethod
    def _pick(items, raw):
        if raw in (None, ""):
            return None
        found = next((item for item in items if str(item.pk) == str(raw)), None)
        if found is None:
            raise forms.ValidationError("Choose one of the list.")
        return found


def book_filters(request, form_class=None) -> tuple[forms.Form, dict]:
    """The owner/segment filter of a leader's page, read from the query
    string. A CSM's page opens on their own book; "Anyone" shows the tenant's."""
    data = request.GET.copy()
    if "owner" not in data and not role_at_least(request.tenant_role, Role.LEADER):
        data["owner"] = str(request.user.pk)
    form = (form_class or PortfolioFilterForm)(
        data, owners=tenant_members(), segments=Segment.objects.order_by("name")
    )
    form.is_valid()
    return form, getattr(form, "cleaned_data", {})


@require_http_methods(["GET"])
@requires_role(Role.CSM)
def portfolio_page(request, tenant_slug):
    form, chosen = book_filters(request)
    owner, segment = chosen.get("owner"), chosen.get("segment")
    context = {"filter_form": form, "owner": owner, "segment": segment}
    try:
        context |= selectors.portfolio(owner_id=owner.pk if owner else None, segment=segment)
    except SegmentFilterBroken as broken:
        context["segment_broken"] = broken.message
        return render(request, "health/portfolio.html", context, status=SEGMENT_BROKEN)
    return render(request, "health/portfolio.html", context)
