"""Health profiles: which measures judge which accounts, with what weights and
band thresholds. Leaders and admins edit them (every save re-scores the
tenant) and preview how many accounts an edit would move between bands."""

from __future__ import annotations

from django.core.validators import MinLengthValidator
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from csplatform.api.base import TenantScopedViewSet
from csplatform.tenancy.models import Role
from health import selectors, services
from health.api.scores import ProfileField
from health.measures import BY_NAME
from health.models import HealthProfile, Measure, ProfileMeasure
from health.services.profiles import (
    MEASURE_PARTS,
    MIN_MEASURES,
    PLAIN_NAME,
    PROFILE_DEFAULTS,
    SETTINGS,
)
from lifecycle.api.filters import SegmentField
from lifecycle.api.serializers.common import ErrorSerializer


class ProfileMeasureSerializer(serializers.Serializer):
    measure = serializers.ChoiceField(choices=Measure.choices)
    label = serializers.SerializerMethodField()
    weight = serializers.IntegerField()
    bad = serializers.FloatField(help_text="Raw value worth 0 points")
    good = serializers.FloatField(
        help_text="Raw value worth 100 points (under bad: lower is better)"
    )

    def get_label(self, line) -> str:
        return BY_NAME[line.measure].label if line.measure in BY_NAME else line.measure


class ProfileOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    stage = serializers.CharField(read_only=True, help_text="Empty: any stage")
    segment = serializers.IntegerField(source="segment_id", read_only=True, allow_null=True)
    position = serializers.IntegerField(read_only=True, help_text="Lower is tried first")
    is_default = serializers.BooleanField(read_only=True)
    red_below = serializers.IntegerField(read_only=True)
    green_from = serializers.IntegerField(read_only=True)
    drop_alert_points = serializers.IntegerField(read_only=True)
    measures = ProfileMeasureSerializer(many=True, read_only=True, source="measures.all")
    last_error = serializers.CharField(
        read_only=True,
        help_text="Why the last re-score left this profile out (its segment's filter cannot "
        "run); empty when it scores",
    )
    last_error_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="Since when"
    )


class ProfileMeasureInputSerializer(serializers.ModelSerializer):
    """One measure line, converted to types; its limits are the model's."""

    class Meta:
        model = ProfileMeasure
        fields = ["measure", *MEASURE_PARTS]
        extra_kwargs = {
            # The message does not echo what was sent: it may not be printable.
            "measure": {"error_messages": {"invalid_choice": "Not a measure of the list."}},
            "bad": {"help_text": "Raw value worth 0 points"},
            "good": {"help_text": "Raw value worth 100 points (under bad: lower is better)"},
        }


def _part_default(part: str):
    return ProfileMeasure._meta.get_field(part).get_default()


@extend_schema_field(ProfileMeasureInputSerializer(many=True))
class MeasureLinesField(serializers.Field):
    """The measure lines, by measure: {measure: {weight, bad, good}}. A line's
    errors are under its measure's name (`measures.nps.good`), or its
    position when it names no measure. Each line is whole, even in a PATCH:
    giving `measures` replaces them all."""

    default_error_messages = {"not_a_list": "A list of measure lines."}

    def to_internal_value(self, data):
        if not isinstance(data, list):
            self.fail("not_a_list")
        lines: dict[str, dict] = {}
        errors: dict[str, object] = {}
        for i, item in enumerate(data):
            line = ProfileMeasureInputSerializer(data=item)
            # By the name sent when it is a plain one (even an unknown one).
            name = item.get("measure") if isinstance(item, dict) else None
            key = name if isinstance(name, str) and PLAIN_NAME.fullmatch(name) else str(i)
            if not line.is_valid():
                errors.setdefault(key, line.errors)
            elif key in lines:
                errors[key] = {"measure": ["Each measure once."]}
            else:
                # A part left out (only weight may be) takes the model's default.
                lines[key] = {
                    part: line.validated_data.get(part, _part_default(part))
                    for part in MEASURE_PARTS
                }
        if errors:
            raise serializers.ValidationError(errors)
        return lines

    def to_representation(self, value):  # pragma: no cover (input only)
        return value


class ProfileInputSerializer(serializers.ModelSerializer):
    """A profile as sent: types and the model's limits; the service checks
    the rules (health_profile_save)."""

    # The validator tells the schema (minItems); the service holds the rule.
    measures = MeasureLinesField(
        validators=[MinLengthValidator(MIN_MEASURES, "Include at least one measure.")]
    )
    segment = SegmentField(required=False, allow_null=True, help_text="Segment id, or null")

    class Meta:
        model = HealthProfile
        fields = ["name", "measures", "segment", *SETTINGS]
        extra_kwargs = {
            "stage": {"help_text": "Empty: any stage"},
            "position": {"help_text": "Lower is tried first"},
        }


class ProfilePreviewInputSerializer(ProfileInputSerializer):
    id = ProfileField(required=False, help_text="The profile being edited; leave out for a new one")

    class Meta(ProfileInputSerializer.Meta):
        fields = ["id", *ProfileInputSerializer.Meta.fields]


class BandMoveSerializer(serializers.Serializer):
    # "from" is a keyword, so the fields are declared by name below.
    accounts = serializers.IntegerField(read_only=True)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.CharField(read_only=True)
        fields["to"] = serializers.CharField(read_only=True)
        return fields


class ProfilePreviewOutputSerializer(serializers.Serializer):
    moves = BandMoveSerializer(many=True, read_only=True)


def _current(profile: HealthProfile) -> dict:
    return {
        "name": profile.name,
        "measures": {
            m.measure: {part: getattr(m, part) for part in MEASURE_PARTS}
            for m in profile.measures.all()
        },
        **{key: getattr(profile, key) for key in PROFILE_DEFAULTS},
    }


def profile_fields(data: dict, profile: HealthProfile | None) -> dict:
    """The whole profile for health_profile_save: what the request gave, the
    rest from the profile as stored (or the defaults for a new one)."""
    given = dict(data)
    base = _current(profile) if profile is not None else dict(PROFILE_DEFAULTS)
    return {**base, **given, "profile": profile}


class HealthProfileViewSet(mixins.RetrieveModelMixin, TenantScopedViewSet):
    """Health profiles in the order they are tried; leaders and admins edit."""

    model = HealthProfile
    serializer_class = ProfileOutputSerializer
    write_role = Role.LEADER
    input_serializers = {
        "create": ProfileInputSerializer,
        "update": ProfileInputSerializer,
        "partial_update": ProfileInputSerializer,
        "preview": ProfilePreviewInputSerializer,
    }

    def scope(self, queryset):
        return queryset.prefetch_related("measures")

    def _render(self, profile: HealthProfile, code=status.HTTP_200_OK) -> Response:
        fresh = selectors.health_profile_list().get(pk=profile.pk)
        return Response(ProfileOutputSerializer(fresh).data, status=code)

    @extend_schema(responses=ProfileOutputSerializer(many=True))
    def list(self, request):
        return self.paginated(selectors.health_profile_list(), ProfileOutputSerializer)

    @extend_schema(
        summary="Create a profile (re-scores every account)",
        request=ProfileInputSerializer,
        responses={201: ProfileOutputSerializer},
    )
    def create(self, request):
        data = ProfileInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        profile = services.health_profile_save(**profile_fields(data.validated_data, None))
        return self._render(profile, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Edit a profile (re-scores every account)",
        request=ProfileInputSerializer,
        responses=ProfileOutputSerializer,
    )
    def update(self, request, pk=None, partial=False):
        profile = self.get_object()
        data = ProfileInputSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        profile = services.health_profile_save(**profile_fields(data.validated_data, profile))
        return self._render(profile)

    @extend_schema(
        summary="Edit some fields of a profile (re-scores every account)",
        request=ProfileInputSerializer,
        responses=ProfileOutputSerializer,
    )
    def partial_update(self, request, pk=None):
        return self.update(request, pk=pk, partial=True)

    @extend_schema(
        summary="Delete a profile (re-scores every account); never the default one",
        responses={204: None, 400: OpenApiResponse(description="The default profile")},
    )
    def destroy(self, request, pk=None):
        services.health_profile_delete(profile=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="How many accounts an edit would move between bands; stores nothing",
        request=ProfilePreviewInputSerializer,
        responses={200: ProfilePreviewOutputSerializer, 400: ErrorSerializer},
    )
    @action(detail=False, methods=["post"])
    def preview(self, request):
        # Editing a profile, the body may give only what changes.
        editing = isinstance(request.data, dict) and request.data.get("id") is not None
        data = ProfilePreviewInputSerializer(data=request.data, partial=editing)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        profile = fields.pop("id", None)
        moves = services.health_profile_preview(**profile_fields(fields, profile))
        order = {"red": 0, "yellow": 1, "green": 2}
        rows = [
            {"from": old, "to": new, "accounts": count}
            for (old, new), count in sorted(
                moves.items(), key=lambda m: (order.get(m[0][0], -1), order.get(m[0][1], -1))
            )
        ]
        return Response(ProfilePreviewOutputSerializer({"moves": rows}).data)
