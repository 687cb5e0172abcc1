"""The shared timeline across accounts."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema

from csplatform.api.base import TenantScopedViewSet, validated
from lifecycle import selectors
from lifecycle.api.filters import TimelineFilterSerializer
from lifecycle.api.serializers.activity import TimelineEntryOutputSerializer
from lifecycle.models import TimelineEntry


class TimelineViewSet(TenantScopedViewSet):
    """The shared timeline of every account: stage changes, achievements,
    escalations, notes and what other apps record."""

    model = TimelineEntry

    @extend_schema(
        summary="Timeline entries, newest first",
        parameters=[TimelineFilterSerializer],
        responses=TimelineEntryOutputSerializer(many=True),
    )
    def list(self, request):
        filters = validated(TimelineFilterSerializer, request)
        entries = selectors.timeline_for(
            account=filters.get("account"), kind=filters.get("kind", "")
        )
        return self.paginated(entries, TimelineEntryOutputSerializer)
