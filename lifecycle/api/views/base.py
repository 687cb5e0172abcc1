from __future__ import annotations

from rest_framework import serializers
from rest_framework.response import Response

from csplatform.tenancy.api import TenantScopedViewSet


class ApiViewSet(TenantScopedViewSet):
    # Each list reads its query string through its own filter serializer
    # (lifecycle.api.filters), which also documents the parameters.
    filter_backends: list = []
    # Handlers pick their serializers explicitly; this map only tells the
    # browsable API which form to draw for an action.
    input_serializers: dict[str, type[serializers.Serializer]] = {}

    def get_serializer_class(self):
        return (
            self.input_serializers.get(self.action)
            or self.serializer_class
            or serializers.Serializer
        )

    def paginated(self, queryset, output_class) -> Response:
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(output_class(page, many=True).data)

    @property
    def role(self) -> str | None:
        return self.request._request.tenant_role
