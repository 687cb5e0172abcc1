"""Renewal health over the API: contracts renewing within the horizon with
their likelihood in three parts, and the totals by risk."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from csplatform.api.base import TenantScopedViewSet, validated
from csplatform.api.fields import MemberField
from health import selectors
from health.models import HealthScore
from health.selectors.renewals import RISKS
from lifecycle.api.filters import SegmentField


class RenewalFilterSerializer(serializers.Serializer):
    owner = MemberField(required=False, help_text="Account owner user id")
    segment = SegmentField(required=False, help_text="Segment id")
    order = serializers.ChoiceField(
        choices=[("renewal", "Soonest renewal first"), ("risk", "Riskiest first")],
        default="renewal",
        required=False,
    )
    horizon_days = serializers.IntegerField(
        min_value=1, max_value=730, required=False, help_text="Default: the tenant's setting"
    )


class PartOutputSerializer(serializers.Serializer):
    label = serializers.CharField(read_only=True)
    value = serializers.FloatField(
        read_only=True, allow_null=True, help_text="0-100; null: no data"
    )


class ComponentOutputSerializer(serializers.Serializer):
    key = serializers.CharField(read_only=True)
    label = serializers.CharField(read_only=True)
    value = serializers.FloatField(read_only=True, allow_null=True)
    parts = PartOutputSerializer(many=True, read_only=True)


class RenewalOutputSerializer(serializers.Serializer):
    contract = serializers.IntegerField(source="contract_id", read_only=True)
    account = serializers.IntegerField(source="account_id", read_only=True)
    account_name = serializers.CharField(read_only=True)
    owner = serializers.CharField(read_only=True)
    renewal_date = serializers.DateField(read_only=True)
    days_left = serializers.IntegerField(read_only=True)
    arr = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True)
    score = serializers.IntegerField(read_only=True, allow_null=True)
    band = serializers.CharField(read_only=True)
    likelihood = serializers.FloatField(read_only=True, allow_null=True)
    known_parts = serializers.IntegerField(
        read_only=True, help_text="Parts the likelihood rests on (the rest: no data)"
    )
    risk = serializers.ChoiceField(choices=list(RISKS.items()), read_only=True)
    arr_at_risk = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True)
    components = ComponentOutputSerializer(many=True, read_only=True)


class RiskTotalSerializer(serializers.Serializer):
    risk = serializers.CharField(read_only=True)
    label = serializers.CharField(read_only=True)
    contracts = serializers.IntegerField(read_only=True)
    arr = serializers.DecimalField(max_digits=16, decimal_places=2, read_only=True)


class RenewalSummarySerializer(serializers.Serializer):
    horizon_days = serializers.IntegerField(read_only=True)
    contracts = serializers.IntegerField(read_only=True)
    arr = serializers.DecimalField(max_digits=16, decimal_places=2, read_only=True)
    arr_at_risk = serializers.DecimalField(max_digits=16, decimal_places=2, read_only=True)
    arr_unknown = serializers.DecimalField(
        max_digits=16, decimal_places=2, read_only=True, help_text="ARR with no health signal"
    )
    by_risk = RiskTotalSerializer(many=True, read_only=True)


class HealthRenewalViewSet(TenantScopedViewSet):
    model = HealthScore  # scoping only; rows are built by the selector

    def _report(self, request):
        filters = validated(RenewalFilterSerializer, request)
        owner = filters.get("owner")
        return selectors.renewal_report(
            owner_id=owner.pk if owner else None,
            segment=filters.get("segment"),
            order=filters.get("order", "renewal"),
            horizon_days=filters.get("horizon_days"),
        )

    @extend_schema(
        summary="Contracts renewing soon, with their renewal likelihood in three parts",
        parameters=[RenewalFilterSerializer],
        responses=RenewalOutputSerializer(many=True),
    )
    def list(self, request):
        return self.paginated(self._report(request).rows, RenewalOutputSerializer)

    @extend_schema(
        summary="Renewals within the horizon: contracts, ARR and ARR at risk by risk",
        parameters=[RenewalFilterSerializer],
        responses=RenewalSummarySerializer,
    )
    @action(detail=False, methods=["get"])
    def summary(self, request):
        report = self._report(request)
        return Response(
            RenewalSummarySerializer(
                {
                    "horizon_days": report.horizon_days,
                    "contracts": len(report.rows),
                    "arr": report.arr,
                    "arr_at_risk": report.arr_at_risk,
                    "arr_unknown": report.arr_unknown,
                    "by_risk": report.by_risk,
                }
            ).data
        )
