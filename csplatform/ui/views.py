"""Pages of the shell: where a signed-in user lands, and the tenant switcher."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from csplatform.ui.access import request_memberships


@login_required
def home(request):
    """One workspace: straight to its accounts. Several (or none): the switcher."""
    memberships = request_memberships(request)
    if len(memberships) == 1:
        return redirect("accounts", tenant_slug=memberships[0].tenant.slug)
    return redirect("tenant_switcher")


@login_required
def tenant_switcher(request):
    return render(request, "ui/tenant_switcher.html", {"memberships": request_memberships(request)})
