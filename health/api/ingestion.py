"""The ingestion log: the mixin that records each ingestion request, and the
read API integrators use to see what was accepted and rejected, and why."""

from __future__ import annotations

from functools import partial

from django.db import connection
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from csplatform.api.base import TenantAPIView, TenantScopedViewSet
from csplatform.tenancy.context import current
from csplatform.tenancy.middleware import after_request_transaction
from csplatform.tenancy.models import Role
from health.models import IngestionLog, IngestionSource
from health.selectors import ingestion_errors, ingestion_summary
from health.services import ingestion_request_record


def broken() -> bool:
    return connection.needs_rollback


def _reason(data: object) -> str:
    """The message of a refused request (the error body's detail)."""
    if isinstance(data, dict):
        if isinstance(data.get("detail"), str):
            return data["detail"]
        for value in data.values():
            if isinstance(value, list) and value:
                value = value[0]
            if isinstance(value, str):
                return value
    return ""


class IngestionLogged:
    """For the ingestion views: log every POST that reached a tenant, whatever
    its answer, with the request id its response carries. In the request's
    own transaction; when that one rolls back (a 5xx, or a statement that
    failed), right after it in one of its own. A bad key has no tenant to
    log under."""

    ingestion_source = IngestionSource.EVENTS

    def finalize_response(self, request, response, *args, **kwargs):
        ctx = current()
        status = response.status_code
        if request.method == "POST" and ctx is not None:
            data = getattr(response, "data", None)
            record = partial(
                ingestion_request_record,
                api_key_id=ctx.api_key_id,
                source=self.ingestion_source,
                status=status,
                result=data if status < 400 and isinstance(data, dict) else None,
                detail=_reason(data) if status >= 400 else "",
                request_id=getattr(request._request, "request_id", ""),
            )
            # A statement that failed (e.g. a value out of range, answered
            # 400) has doomed the transaction, and a 5xx rolls it back.
            if status >= 500 or broken():
                after_request_transaction(request._request, record)
            else:
                record()
        return super().finalize_response(request, response, *args, **kwargs)


class IngestionCountsSerializer(serializers.Serializer):
    requests = serializers.IntegerField()
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected_events = serializers.IntegerField(help_text="Events refused inside accepted requests")
    rejected_requests = serializers.IntegerField(
        help_text="Whole requests refused (4xx) or failed (5xx)"
    )
    rate_limited = serializers.IntegerField(help_text="Requests answered 429")


class IngestionHourSerializer(IngestionCountsSerializer):
    hour = serializers.DateTimeField(help_text="Start of the hour (UTC)")


class IngestionKeySerializer(serializers.Serializer):
    api_key_id = serializers.IntegerField(allow_null=True, help_text="null: no key (a session)")
    name = serializers.CharField()
    prefix = serializers.CharField()
    hours = IngestionHourSerializer(many=True, help_text="Hours with activity, newest first")
    totals = IngestionCountsSerializer()


class IngestionSummarySerializer(serializers.Serializer):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    rate_limited_available = serializers.BooleanField(
        help_text="false when the rate-limit counters could not be read"
    )
    keys = IngestionKeySerializer(many=True)


class IngestionErrorSerializer(serializers.ModelSerializer):
    api_key_name = serializers.CharField(source="api_key.name", default=None, allow_null=True)
    request_id = serializers.CharField(
        read_only=True, help_text="The response's X-Request-ID: what the server's log shows"
    )
    errors = serializers.ListField(
        child=serializers.DictField(),
        help_text="The first rejected events as {index, reason}",
    )

    class Meta:
        model = IngestionLog
        fields = [
            "id",
            "received_at",
            "api_key",
            "api_key_name",
            "source",
            "status",
            "accepted",
            "duplicates",
            "rejected",
            "errors",
            "detail",
            "request_id",
        ]
        read_only_fields = fields


class IngestionSummaryView(TenantAPIView):
    """Read-only. A csm-role key (what ingestion needs) may read it, so an
    integration can check its own deliveries."""

    read_role = Role.CSM

    @extend_schema(
        summary="Ingestion in the last 24 hours, per API key per hour",
        responses={200: IngestionSummarySerializer},
    )
    def get(self, request):
        return Response(IngestionSummarySerializer(ingestion_summary()).data)


class IngestionErrorViewSet(TenantScopedViewSet):
    model = IngestionLog
    serializer_class = IngestionErrorSerializer
    filter_backends: list = []
    read_role = Role.CSM

    @extend_schema(
        summary="Rejected ingestion requests and events, newest first",
        responses={200: IngestionErrorSerializer(many=True)},
    )
    @action(detail=False, methods=["get"])
    def errors(self, request):
        page = self.paginate_queryset(ingestion_errors())
        return self.get_paginated_response(IngestionErrorSerializer(page, many=True).data)
