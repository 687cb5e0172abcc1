"""Stage moves, achievements, escalations, timeline, notes and segments."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from lifecycle import timeline
from lifecycle.api.serializers.common import UserRefSerializer
from lifecycle.models import NOTE_MAX_LENGTH, NoteKind, Stage
from lifecycle.segments import filters_json_schema


class TransitionInputSerializer(serializers.Serializer):
    to_stage = serializers.ChoiceField(choices=Stage.choices)
    expected_stage = serializers.ChoiceField(
        choices=Stage.choices,
        required=False,
        help_text="The stage you saw; if the account has moved since, the answer is 409",
    )
    force = serializers.BooleanField(
        default=False, help_text="Skip missing achievements (leader or admin, with a reason)"
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class TransitionErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(read_only=True)
    code = serializers.ChoiceField(
        choices=["not_allowed", "guard", "stale", "forbidden", "reason_required"],
        read_only=True,
    )
    missing = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="Required achievements not done"
    )


class ChecklistItemSerializer(serializers.Serializer):
    key = serializers.CharField(read_only=True)
    title = serializers.CharField(read_only=True)
    stage = serializers.ChoiceField(choices=Stage.choices, read_only=True)
    required = serializers.BooleanField(read_only=True)
    position = serializers.IntegerField(read_only=True)
    done = serializers.BooleanField(read_only=True)
    completed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    completed_by = UserRefSerializer(read_only=True, allow_null=True)


def checklist_item(achievement, done) -> dict:
    """One row of the checklist from a StageAchievement and its completion (or None)."""
    return {
        "key": achievement.key,
        "title": achievement.title,
        "stage": achievement.stage,
        "required": achievement.required,
        "position": achievement.position,
        "done": done is not None,
        "completed_at": done.completed_at if done else None,
        "completed_by": done.completed_by if done else None,
    }


class AchievementActionInputSerializer(serializers.Serializer):
    stage = serializers.ChoiceField(
        choices=Stage.choices,
        required=False,
        help_text="Which stage's achievement, when the key exists in several "
        "(default: the account's current stage first)",
    )


class EscalationOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    account = serializers.IntegerField(source="account_id", read_only=True)
    reason = serializers.CharField(read_only=True)
    opened_at = serializers.DateTimeField(read_only=True)
    opened_by = UserRefSerializer(read_only=True, allow_null=True)
    is_open = serializers.BooleanField(read_only=True)
    resolved_at = serializers.DateTimeField(read_only=True, allow_null=True)
    resolved_by = UserRefSerializer(read_only=True, allow_null=True)
    resolution = serializers.CharField(read_only=True)


class EscalationOpenInputSerializer(serializers.Serializer):
    reason = serializers.CharField()


class EscalationResolveInputSerializer(serializers.Serializer):
    resolution = serializers.CharField()


class TimelineEntryOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    account = serializers.IntegerField(source="account_id", read_only=True)
    kind = serializers.CharField(read_only=True)
    kind_label = serializers.SerializerMethodField()
    occurred_at = serializers.DateTimeField(read_only=True)
    actor = UserRefSerializer(read_only=True, allow_null=True)
    title = serializers.CharField(read_only=True)
    body = serializers.CharField(read_only=True)
    payload = serializers.DictField(read_only=True)

    def get_kind_label(self, entry) -> str:
        return timeline.label(entry.kind)


class NoteInputSerializer(serializers.Serializer):
    # The schema declares the service's limit (lifecycle.models.NOTE_MAX_LENGTH).
    body = serializers.CharField(max_length=NOTE_MAX_LENGTH)
    kind = serializers.ChoiceField(
        choices=NoteKind.choices,
        default=NoteKind.NOTE,
        help_text="A note, or a logged meeting or call (they count as CSM contact)",
    )


@extend_schema_field(filters_json_schema())
class SegmentFiltersField(serializers.JSONField):
    """Any JSON here; segment_save checks it against the filter grammar and
    names the bad part by dotted path (`filters.arr_min`)."""

    def to_internal_value(self, data):
        if getattr(data, "is_json_string", False):  # a form's text: parse it
            return super().to_internal_value(data)
        # Parsed JSON as it is: an infinite number (1e999999) is then refused
        # by the grammar as `filters.arr_min`, not as the whole `filters`.
        return data


class SegmentOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    filters = serializers.DictField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class SegmentInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(max_length=300, required=False, allow_blank=True)
    filters = SegmentFiltersField()
