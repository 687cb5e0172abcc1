"""What happens to one account: escalations, its timeline and notes."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from csplatform.api.base import TenantScopedViewSet, validated
from lifecycle import selectors, services
from lifecycle.api.filters import AccountTimelineFilterSerializer
from lifecycle.api.serializers.activity import (
    EscalationOpenInputSerializer,
    EscalationOutputSerializer,
    NoteInputSerializer,
    TimelineEntryOutputSerializer,
)
from lifecycle.models import Account


class AccountActivityViewSet(TenantScopedViewSet):
    """Escalations, timeline and notes of one account."""

    model = Account
    input_serializers = {
        "escalations": EscalationOpenInputSerializer,
        "notes": NoteInputSerializer,
    }

    @extend_schema(
        methods=["GET"],
        summary="The account's escalations, newest first",
        responses=EscalationOutputSerializer(many=True),
    )
    @extend_schema(
        methods=["POST"],
        summary="Open an escalation (400 if one is already open)",
        request=EscalationOpenInputSerializer,
        responses={201: EscalationOutputSerializer},
    )
    @action(detail=True, methods=["get", "post"])
    def escalations(self, request, pk=None):
        account = self.get_object()
        if request.method == "GET":
            return self.paginated(selectors.escalations_for(account), EscalationOutputSerializer)
        data = EscalationOpenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        escalation = services.escalation_open(
            account=account, actor=self.actor, **data.validated_data
        )
        return Response(EscalationOutputSerializer(escalation).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="The account's timeline, newest first",
        parameters=[AccountTimelineFilterSerializer],
        responses=TimelineEntryOutputSerializer(many=True),
    )
    @action(detail=True, methods=["get"])
    def timeline(self, request, pk=None):
        account = self.get_object()
        filters = validated(AccountTimelineFilterSerializer, request)
        entries = selectors.timeline_for(account=account, kind=filters.get("kind", ""))
        return self.paginated(entries, TimelineEntryOutputSerializer)

    @extend_schema(
        summary="Add a note to the account's timeline",
        request=NoteInputSerializer,
        responses={201: TimelineEntryOutputSerializer},
    )
    @action(detail=True, methods=["post"])
    def notes(self, request, pk=None):
        account = self.get_object()
        data = NoteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entry = services.note_add(account=account, actor=self.actor, **data.validated_data)
        return Response(TimelineEntryOutputSerializer(entry).data, status=status.HTTP_201_CREATED)
