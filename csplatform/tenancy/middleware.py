"""Resolve the tenant of each request and run the request inside its context.

Pages carry the tenant in the URL (`/t/<tenant_slug>/…`) and need a
membership; the API uses the API key's tenant, or for a signed-in user the
`X-Tenant` header or the tenant last opened in the browser. Everything after
this middleware (views, templates, serializers) runs in one transaction with
the row-level-security setting applied.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable

from django.db import transaction
from django.http import Http404
from django.urls import Resolver404, resolve

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.services import (
    api_key_resolve,
    api_key_touch,
    membership_for,
    memberships_of_user,
)

logger = logging.getLogger(__name__)

SESSION_TENANT_KEY = "csp_tenant_slug"
# Our REST API, and the Segment-compatible ingestion paths.
API_PREFIXES = ("/api/v1/", "/v1/")


def _bearer(request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    if header.lower().startswith("basic "):
        # Segment's write-key convention: the key is the Basic-auth user.
        try:
            decoded = base64.b64decode(header[6:].strip()).decode()
        except (ValueError, UnicodeDecodeError):
            return "invalid"
        return decoded.split(":", 1)[0] or "invalid"
    return request.headers.get("X-Api-Key")


def after_request_transaction(request, fn: Callable[[], object]) -> None:
    """Run `fn()` once the request's transaction has ended, committed or not,
    in the same tenant context and a transaction of its own: for what must
    outlive a rollback (a 5xx's row in the ingestion log). Best effort: a
    failure is logged, never answered."""
    request.csp_after_transaction.append(fn)


class TenantContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.csp_after_transaction = []
        request.tenant = None
        request.membership = None
        request.api_key = None
        request.tenant_role = None
        request.csp_auth_error = None
        if request.path_info.startswith(API_PREFIXES):
            return self._api(request)
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return self.get_response(request)
        slug = match.kwargs.get("tenant_slug")
        if slug is None or not request.user.is_authenticated:
            # Unauthenticated page requests reach the view, which redirects to login.
            return self.get_response(request)
        membership = membership_for(request.user, slug)
        if membership is None:
            raise Http404("No such workspace")
        if request.session.get(SESSION_TENANT_KEY) != slug:
            request.session[SESSION_TENANT_KEY] = slug  # the API's default tenant
        return self._run(request, membership=membership)

    def _api(self, request):
        secret = _bearer(request)
        if secret:
            api_key = api_key_resolve(secret)
            if api_key is None:
                request.csp_auth_error = "Invalid or revoked API key."
                return self.get_response(request)
            request.api_key = api_key
            request.tenant = api_key.tenant
            request.tenant_role = api_key.role
            context = {"role": api_key.role, "api_key_id": api_key.pk}
            return self._in_context(request, context, touch=lambda: api_key_touch(api_key=api_key))
        if request.user.is_authenticated:
            slug = request.headers.get("X-Tenant") or request.session.get(SESSION_TENANT_KEY)
            if slug:
                membership = membership_for(request.user, slug)
            else:
                mine = memberships_of_user(request.user)
                membership = mine[0] if len(mine) == 1 else None
            if membership is None:
                request.csp_auth_error = (
                    "Choose a tenant with the X-Tenant header (its slug)."
                    if not slug
                    else "You are not a member of that tenant."
                )
                return self.get_response(request)
            return self._run(request, membership=membership)
        return self.get_response(request)

    def _run(self, request, *, membership):
        request.membership = membership
        request.tenant = membership.tenant
        request.tenant_role = membership.role
        return self._in_context(request, {"user_id": request.user.pk, "role": membership.role})

    def _in_context(self, request, context: dict, *, touch: Callable | None = None):
        try:
            with tenant_context(request.tenant, **context):
                if touch is not None:
                    touch()
                return self._respond(request)
        finally:
            for fn in request.csp_after_transaction:
                try:
                    with tenant_context(request.tenant, **context):
                        fn()
                except Exception:
                    logger.exception(
                        "Work after the request's transaction failed [request %s]",
                        getattr(request, "request_id", "-"),
                    )

    def _respond(self, request):
        response = self.get_response(request)
        if response.status_code >= 500:
            # Django turned an exception into this response before it reached
            # us; roll the request's transaction back as ATOMIC_REQUESTS would.
            transaction.set_rollback(True)
        return response
