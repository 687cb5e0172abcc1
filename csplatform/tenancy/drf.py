"""DRF plumbing named in settings.REST_FRAMEWORK: authentication by API key or
session, and role checks. Kept free of rest_framework.views imports, which
load these classes at import time."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.permissions import SAFE_METHODS, BasePermission

from csplatform.tenancy.models import ApiKey, Role, role_at_least


class ApiKeyPrincipal:
    """`request.user` for calls made with an API key."""

    is_authenticated = True
    is_anonymous = False
    pk = None

    def __init__(self, api_key: ApiKey):
        self.api_key = api_key

    def __str__(self) -> str:
        return f"API key {self.api_key.name}"


class ApiKeyAuthentication(BaseAuthentication):
    """The middleware resolved the key; this reports the outcome to DRF."""

    def authenticate(self, request):
        django_request = request._request
        if django_request.csp_auth_error:
            raise exceptions.AuthenticationFailed(django_request.csp_auth_error)
        if django_request.api_key is not None:
            return ApiKeyPrincipal(django_request.api_key), django_request.api_key
        return None

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class TenantSessionAuthentication(SessionAuthentication):
    """A signed-in browser user, acting for the tenant the middleware chose."""

    def authenticate(self, request):
        django_request = request._request
        if django_request.membership is None:
            return None
        user = getattr(django_request, "user", None)
        if not user or not user.is_active:
            return None
        self.enforce_csrf(request)
        return user, django_request.membership


class HasTenantRole(BasePermission):
    """Reads need any role; writes need `write_role` (csm unless a view raises it)."""

    message = "Your role does not allow this."

    def has_permission(self, request, view):
        role = request._request.tenant_role
        if role is None:
            return False
        if request.method in SAFE_METHODS:
            return role_at_least(role, getattr(view, "read_role", Role.VIEWER))
        needed = getattr(view, "write_roles", {}).get(getattr(view, "action", None))
        return role_at_least(role, needed or getattr(view, "write_role", Role.CSM))
