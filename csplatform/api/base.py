"""The tenant base every API view builds on. Requests reach a view only
inside the tenant context the middleware set (fail closed: no context, no
answer), querysets come from the models' tenant-scoped managers, and a
subclass cannot swap any of that out: `__init_subclass__` refuses a class
that sets its own `queryset`, authentication or permissions, or overrides
`get_queryset` instead of the `scope()` hook. PostgreSQL's row-level
security holds the same line underneath."""

from __future__ import annotations

from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.viewsets import GenericViewSet

from csplatform.api.parsers import SafeJSONParser
from csplatform.tenancy.context import current
from csplatform.tenancy.models import Role

# Ids are bigints: anything else in an id's place of the URL is no route (404).
ID_PATTERN = r"[0-9]{1,18}"

_LOCKED = ("authentication_classes", "permission_classes", "queryset")


class TenantScoped:
    # The API takes JSON only: one parser, whose limits (NUL, lone surrogates,
    # depth, finite numbers, size) hold for every body, and one media type
    # in the schema. Form bodies cannot carry the nested objects anyway.
    parser_classes = [SafeJSONParser]
    read_role = Role.VIEWER
    write_role = Role.CSM
    # {action or method: role} for writes that need more than write_role.
    write_roles: dict[str, str] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__module__ == __name__:
            return  # the bases below
        for name in _LOCKED:
            if name in cls.__dict__:
                raise TypeError(f"{cls.__name__} may not set {name}: the tenant base owns it.")
        if "get_queryset" in cls.__dict__:
            raise TypeError(f"{cls.__name__} may not override get_queryset; narrow it in scope().")

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if current() is None:
            # Authentication passed but no tenant was chosen: never run unscoped.
            raise exceptions.NotAuthenticated("No tenant for this request.")

    @property
    def actor(self):
        """The user behind the call, or None for an API key."""
        user = self.request.user
        return user if getattr(user, "pk", None) else None

    @property
    def role(self) -> str | None:
        return self.request._request.tenant_role


class TenantAPIView(TenantScoped, APIView):
    """A bare endpoint (no model), still inside the tenant and its roles."""


class TenantScopedViewSet(TenantScoped, GenericViewSet):
    """Always scoped: the queryset comes from the model's fail-closed tenant
    manager, never from a class attribute evaluated without a tenant."""

    model = None  # set by subclasses
    lookup_value_regex = ID_PATTERN
    # Each list reads its query string through its own filter serializer,
    # which also documents the parameters.
    filter_backends: list = []
    # Handlers pick their serializers explicitly; this map only tells the
    # browsable API and the schema which body an action takes.
    input_serializers: dict[str, type[serializers.Serializer]] = {}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation, no tenant
            return self.model.all_tenants.none()
        return self.scope(self.model.objects.all())

    def scope(self, queryset):
        """Hook for select_related/prefetch and per-view narrowing."""
        return queryset

    def get_serializer_class(self):
        return (
            self.input_serializers.get(self.action)
            or self.serializer_class
            or serializers.Serializer
        )

    def paginated(self, queryset, output_class) -> Response:
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(output_class(page, many=True).data)


def validated(filter_class: type[serializers.Serializer], request) -> dict:
    """Validate the query string with `filter_class`; 400 naming the parameter."""
    # .dict() so a missing boolean reads as absent rather than as False.
    f = filter_class(data=request.query_params.dict(), context={"request": request})
    f.is_valid(raise_exception=True)
    return f.validated_data
