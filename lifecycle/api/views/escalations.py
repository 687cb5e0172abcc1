"""Escalations across accounts, and resolving one."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.response import Response

from csplatform.api.base import TenantScopedViewSet, validated
from lifecycle import services
from lifecycle.api.filters import EscalationFilterSerializer, escalations_filter
from lifecycle.api.serializers.activity import (
    EscalationOutputSerializer,
    EscalationResolveInputSerializer,
)
from lifecycle.models import Escalation


class EscalationViewSet(mixins.RetrieveModelMixin, TenantScopedViewSet):
    """Escalations across accounts; an escalation is a flag with its own
    open/resolve history, independent of the stage."""

    model = Escalation
    serializer_class = EscalationOutputSerializer
    input_serializers = {"resolve": EscalationResolveInputSerializer}

    def scope(self, queryset):
        return queryset.select_related("opened_by", "resolved_by")

    @extend_schema(
        parameters=[EscalationFilterSerializer], responses=EscalationOutputSerializer(many=True)
    )
    def list(self, request):
        filters = validated(EscalationFilterSerializer, request)
        return self.paginated(
            escalations_filter(self.get_queryset(), filters), EscalationOutputSerializer
        )

    @extend_schema(
        summary="Resolve an open escalation",
        request=EscalationResolveInputSerializer,
        responses=EscalationOutputSerializer,
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        escalation = self.get_object()
        data = EscalationResolveInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        escalation = services.escalation_resolve(
            escalation=escalation, actor=self.actor, **data.validated_data
        )
        return Response(EscalationOutputSerializer(escalation).data)
