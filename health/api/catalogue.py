"""Account usage summary and the feature catalogue."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from csplatform.api.base import TenantScopedViewSet, validated
from csplatform.api.fields import TenantRelatedField
from csplatform.tenancy.models import Role
from health import services
from health.models import EventName, Feature
from health.selectors import usage_summary
from lifecycle.models import Account


class FeatureSerializer(serializers.ModelSerializer):
    class Meta:
        model = Feature
        fields = ["id", "name", "description", "counts_for_adoption"]


class EventNameSerializer(serializers.ModelSerializer):
    # Only this tenant's features can be chosen (another tenant's id is a 400).
    feature = TenantRelatedField(model=Feature, allow_null=True, required=False)

    class Meta:
        model = EventName
        fields = ["id", "name", "display_name", "feature"]
        read_only_fields = ["name"]


class FeatureViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    TenantScopedViewSet,
):
    model = Feature
    serializer_class = FeatureSerializer
    filter_backends: list = []
    write_role = Role.ADMIN

    def perform_create(self, serializer):
        serializer.instance = services.feature_save(**serializer.validated_data)

    def perform_update(self, serializer):
        # feature_save takes the whole feature; a PATCH keeps what it leaves out.
        feature = serializer.instance
        current = {f: getattr(feature, f) for f in ("name", "description", "counts_for_adoption")}
        serializer.instance = services.feature_save(
            feature=feature, **{**current, **serializer.validated_data}
        )


class EventNameViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, TenantScopedViewSet
):
    model = EventName
    serializer_class = EventNameSerializer
    filter_backends: list = []
    write_role = Role.ADMIN

    def perform_update(self, serializer):
        serializer.instance = services.event_name_update(
            event_name=serializer.instance, **serializer.validated_data
        )


class UsageFilterSerializer(serializers.Serializer):
    days = serializers.IntegerField(
        min_value=1, max_value=365, default=90, help_text="How many days back, 1 to 365"
    )


class AccountUsageViewSet(TenantScopedViewSet):
    model = Account
    serializer_class = serializers.Serializer  # the summary is a plain dict
    filter_backends: list = []

    @extend_schema(
        summary="Daily usage, features used and license utilization (90 days)",
        responses={200: OpenApiTypes.OBJECT},
        parameters=[UsageFilterSerializer],
    )
    @action(detail=True, methods=["get"], url_path="usage")
    def usage(self, request, pk=None):
        account = get_object_or_404(self.get_queryset(), pk=pk)
        days = validated(UsageFilterSerializer, request)["days"]
        return Response(usage_summary(account, days=days))
