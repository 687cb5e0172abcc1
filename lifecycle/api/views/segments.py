"""Segments: saved filters over accounts. Leaders and admins edit them."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from csplatform.api.base import TenantScopedViewSet
from csplatform.tenancy.models import Role
from lifecycle import selectors, services
from lifecycle.api.serializers.accounts import AccountOutputSerializer
from lifecycle.api.serializers.activity import SegmentInputSerializer, SegmentOutputSerializer
from lifecycle.models import Segment


class SegmentViewSet(mixins.RetrieveModelMixin, TenantScopedViewSet):
    """Saved filters over accounts; leaders and admins create and edit them."""

    model = Segment
    serializer_class = SegmentOutputSerializer
    write_role = Role.LEADER
    input_serializers = {
        "create": SegmentInputSerializer,
        "update": SegmentInputSerializer,
        "partial_update": SegmentInputSerializer,
    }

    @extend_schema(responses=SegmentOutputSerializer(many=True))
    def list(self, request):
        return self.paginated(self.get_queryset().order_by("name", "id"), SegmentOutputSerializer)

    @extend_schema(request=SegmentInputSerializer, responses={201: SegmentOutputSerializer})
    def create(self, request):
        data = SegmentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        segment = services.segment_save(**data.validated_data)
        return Response(SegmentOutputSerializer(segment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=SegmentInputSerializer, responses=SegmentOutputSerializer)
    def update(self, request, pk=None, partial=False):
        segment = self.get_object()
        data = SegmentInputSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        # segment_save takes the whole segment; a PATCH keeps what it leaves out.
        current = {
            "name": segment.name,
            "description": segment.description,
            "filters": segment.filters,
        }
        segment = services.segment_save(segment=segment, **{**current, **data.validated_data})
        return Response(SegmentOutputSerializer(segment).data)

    @extend_schema(request=SegmentInputSerializer, responses=SegmentOutputSerializer)
    def partial_update(self, request, pk=None):
        return self.update(request, pk=pk, partial=True)

    @extend_schema(
        summary="Accounts in the segment now", responses=AccountOutputSerializer(many=True)
    )
    @action(detail=True, methods=["get"])
    def accounts(self, request, pk=None):
        segment = self.get_object()
        return self.paginated(selectors.account_list(segment=segment), AccountOutputSerializer)
