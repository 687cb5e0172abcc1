"""Tenant settings pages: API keys (admins only)."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from csplatform.tenancy.forms import ApiKeyForm
from csplatform.tenancy.models import ApiKey, Role
from csplatform.tenancy.services import api_key_create, api_key_revoke
from csplatform.ui.access import FORM_ERRORS, requires_role


def _render_keys(request, form, *, issued=None, status=200):
    keys = ApiKey.objects.select_related("created_by").order_by("-created_at", "-id")
    context = {"form": form, "api_keys": keys, "issued": issued}
    return render(request, "tenancy/api_keys.html", context, status=status)


@require_http_methods(["GET", "POST"])
@requires_role(Role.ADMIN)
def api_keys(request, tenant_slug):
    if request.method == "GET":
        return _render_keys(request, ApiKeyForm())
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return _render_keys(request, form, status=FORM_ERRORS)
    issued = api_key_create(
        name=form.cleaned_data["name"], role=form.cleaned_data["role"], created_by=request.user
    )
    # The secret exists only in this response; the database keeps its hash.
    response = _render_keys(request, ApiKeyForm(), issued=issued)
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@requires_role(Role.ADMIN)
def api_key_revoke_view(request, tenant_slug, pk):
    api_key = get_object_or_404(ApiKey.objects.all(), pk=pk)
    api_key_revoke(api_key=api_key)
    messages.success(request, f"Revoked the key “{api_key.name}”. It no longer works.")
    return redirect("api_keys", tenant_slug=tenant_slug)
