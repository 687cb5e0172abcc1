"""Access rules shared by every tenant page: signed in, a member (the tenant
middleware answers 404 otherwise), and a role high enough (403 otherwise)."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404

from csplatform.tenancy.models import Role, role_at_least
from csplatform.tenancy.services import memberships_of_user

# Status of a page that re-renders a form with field errors. 422 rather than
# 400: htmx swaps it in like any 4xx here, and django-htmx's DEBUG overlay
# (which replaces the whole document on 400/403/404/500) leaves it alone.
FORM_ERRORS = 422

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def requires_role(read: str = Role.VIEWER, *, write: str | None = None):
    """Gate a tenant page view by the member's role.

    `read` is needed for GET/HEAD; `write` (default: `read`, and never below
    csm) for every other method, so a viewer's POST is refused by
    construction, whatever the view does.
    """
    write = write or read
    if not role_at_least(write, Role.CSM):
        write = Role.CSM

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if getattr(request, "tenant", None) is None:
                raise Http404("No workspace")
            needed = read if request.method in SAFE_METHODS else write
            if not role_at_least(request.tenant_role, needed):
                raise PermissionDenied("Your role in this workspace does not allow this.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def request_memberships(request) -> list:
    """The signed-in user's memberships, read once per request."""
    if not request.user.is_authenticated:
        return []
    cached = getattr(request, "_csp_memberships", None)
    if cached is None:
        cached = request._csp_memberships = memberships_of_user(request.user)
    return cached
