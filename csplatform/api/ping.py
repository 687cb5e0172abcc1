"""GET /api/v1/ping/: the cheapest authenticated request. It goes through
everything every API call does (request id, the API-key lookup, the tenant
context, role check) and nothing else, so a client can check its key, and
`make bench-ingest` has a floor to compare ingestion against."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework.response import Response

from csplatform.api.base import TenantAPIView


class PingView(TenantAPIView):
    @extend_schema(
        summary="Check an API key",
        responses={200: inline_serializer("Pong", {})},
    )
    def get(self, request):
        return Response({})
