"""The usage panel of the account page, and the same content as a page of
its own for browsers without JavaScript."""

from __future__ import annotations

from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_http_methods

from csplatform.tenancy.models import Role
from csplatform.ui.access import requires_role
from health.charts import usage_chart
from health.selectors import account_usage_panel
from lifecycle.views.common import get_account


def panel_context(request, account) -> dict:
    """What the account page needs for the placeholder: a URL, no query."""
    return {"url": reverse("account_usage", args=[request.tenant.slug, account.pk])}


@require_http_methods(["GET"])
@requires_role(Role.VIEWER)
def account_usage(request, tenant_slug, pk):
    account = get_account(pk)
    usage = account_usage_panel(account)
    context = {"account": account, "usage": usage, "chart": usage_chart(usage["series"])}
    # htmx loads the panel into the account page; a plain visit gets a page.
    template = "health/_account_usage.html" if request.htmx else "health/account_usage.html"
    response = render(request, template, context)
    # one URL, two bodies: caches must not hand the fragment to a plain visit
    patch_vary_headers(response, ("HX-Request",))
    return response
