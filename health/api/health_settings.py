"""The tenant's health settings: the inputs of the measures that are not per
profile. Leaders read them; admins change them (which re-scores the tenant)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from csplatform.api.base import TenantAPIView
from csplatform.tenancy.models import Role
from health import services


class HealthSettingsSerializer(serializers.Serializer):
    support_event_name = serializers.CharField(
        max_length=200, help_text="The usage event that counts as a support ticket"
    )
    engagement_kinds = serializers.ListField(
        child=serializers.CharField(max_length=50),
        help_text="Timeline kinds that count as CSM contact (see the timeline's kinds)",
    )
    nps_window_days = serializers.IntegerField(
        min_value=1, max_value=3650, help_text="NPS answers older than this are ignored"
    )
    renewal_horizon_days = serializers.IntegerField(
        min_value=1, max_value=3650, help_text="Contracts renewing within this are judged"
    )
    outcome_due_days = serializers.IntegerField(
        min_value=1,
        max_value=3650,
        help_text="A stage's required outcomes fall due this many days after entering it",
    )


class HealthSettingsView(TenantAPIView):
    read_role = Role.LEADER
    write_role = Role.ADMIN
    serializer_class = HealthSettingsSerializer  # the browsable API's form

    @extend_schema(summary="The tenant's health settings", responses=HealthSettingsSerializer)
    def get(self, request):
        return Response(HealthSettingsSerializer(services.health_defaults_ensure()).data)

    @extend_schema(
        summary="Change health settings (re-scores every account)",
        request=HealthSettingsSerializer,
        responses=HealthSettingsSerializer,
    )
    def patch(self, request):
        data = HealthSettingsSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        health = services.health_settings_update(**data.validated_data)
        return Response(HealthSettingsSerializer(health).data)
