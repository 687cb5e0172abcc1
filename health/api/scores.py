"""Health scores over the API: an account's score card with its working, its
history, the CSM's sentiment, and the list of current scores."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from csplatform.api.base import TenantScopedViewSet, validated
from csplatform.api.fields import MemberField
from health import selectors, services
from health.models import Band, HealthProfile, HealthScore
from lifecycle.api.filters import SegmentField
from lifecycle.api.serializers.common import ErrorSerializer, UserRefSerializer
from lifecycle.models import Account


class MeasureLineOutputSerializer(serializers.Serializer):
    measure = serializers.CharField(read_only=True)
    label = serializers.CharField(read_only=True)
    unit = serializers.CharField(read_only=True, help_text="What the raw value counts")
    raw = serializers.FloatField(read_only=True, allow_null=True)
    inputs = serializers.DictField(read_only=True, help_text="The figures the raw value came from")
    points = serializers.FloatField(read_only=True, allow_null=True, help_text="0 to 100")
    weight = serializers.IntegerField(read_only=True)
    share = serializers.FloatField(
        read_only=True, allow_null=True, help_text="% of the score after re-weighting"
    )
    contribution = serializers.FloatField(
        read_only=True, allow_null=True, help_text="Points this measure adds to the score"
    )
    missing = serializers.BooleanField(read_only=True, help_text="No data: left out")
    measured = serializers.CharField(
        read_only=True, help_text="What was measured, in words; when missing, why"
    )
    change_since_last_week = serializers.FloatField(read_only=True, allow_null=True)


class ScoreCardOutputSerializer(serializers.Serializer):
    account = serializers.IntegerField(source="account_id", read_only=True)
    score = serializers.IntegerField(read_only=True, allow_null=True)
    band = serializers.CharField(read_only=True, help_text="red, yellow, green; empty: no data")
    band_label = serializers.CharField(read_only=True)
    profile = serializers.CharField(read_only=True, help_text="Name of the profile that judged it")
    scored_at = serializers.DateTimeField(read_only=True)
    score_week_ago = serializers.IntegerField(read_only=True, allow_null=True)
    change_since_last_week = serializers.IntegerField(read_only=True, allow_null=True)
    reweighted = serializers.BooleanField(
        read_only=True, help_text="Some measures had no data; the rest carry the score"
    )
    missing = serializers.ListField(child=serializers.CharField(), read_only=True)
    breakdown = MeasureLineOutputSerializer(source="lines", many=True, read_only=True)


class HistoryFilterSerializer(serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=365, default=90)


class HistoryPointOutputSerializer(serializers.Serializer):
    day = serializers.DateField(read_only=True)
    score = serializers.IntegerField(read_only=True, allow_null=True)
    band = serializers.CharField(read_only=True)


class SentimentInputSerializer(serializers.Serializer):
    value = serializers.ChoiceField(choices=Band.choices)
    comment = serializers.CharField(help_text="Why: what the next reader needs")


class SentimentOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    account = serializers.IntegerField(source="account_id", read_only=True)
    value = serializers.CharField(read_only=True)
    comment = serializers.CharField(read_only=True)
    set_by = UserRefSerializer(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)


class AccountHealthViewSet(TenantScopedViewSet):
    """Per account: the score card, its history and the CSM's sentiment."""

    model = Account
    input_serializers = {"sentiment": SentimentInputSerializer}

    @extend_schema(
        summary="The account's health score with its working",
        responses={
            200: ScoreCardOutputSerializer,
            404: OpenApiResponse(ErrorSerializer, description="No such account, or not scored yet"),
        },
    )
    @action(detail=True, methods=["get"])
    def health(self, request, pk=None):
        card = selectors.score_card(self.get_object())
        if card is None:
            return Response(
                {"detail": "This account has not been scored yet.", "code": "not_scored"},
                status=status.HTTP_404_NOT_FOUND,
            )
        return Response(ScoreCardOutputSerializer(card).data)

    @extend_schema(
        summary="One point per day: the day's last score and band",
        description="A plain array, oldest day first: one trend line of at most `days` "
        "points, not paginated.",
        parameters=[HistoryFilterSerializer],
        responses=HistoryPointOutputSerializer(many=True),
    )
    # A series bounded by `days` (365 at most) that a chart draws whole, so it
    # is an array, documented as one, rather than pages of 50.
    @action(detail=True, methods=["get"], url_path="health/history", pagination_class=None)
    def health_history(self, request, pk=None):
        account = self.get_object()
        days = validated(HistoryFilterSerializer, request)["days"]
        points = selectors.score_history(account, days=days)
        return Response(HistoryPointOutputSerializer(points, many=True).data)

    @extend_schema(
        methods=["GET"],
        summary="The CSM's sentiments about the account, newest first",
        responses=SentimentOutputSerializer(many=True),
    )
    @extend_schema(
        methods=["POST"],
        summary="Set the CSM's sentiment (red, yellow, green) with why",
        request=SentimentInputSerializer,
        responses={201: SentimentOutputSerializer},
    )
    @action(detail=True, methods=["get", "post"])
    def sentiment(self, request, pk=None):
        account = self.get_object()
        if request.method == "GET":
            return self.paginated(selectors.sentiments_for(account), SentimentOutputSerializer)
        data = SentimentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sentiment = services.csm_sentiment_set(
            account=account, actor=self.actor, **data.validated_data
        )
        return Response(SentimentOutputSerializer(sentiment).data, status=status.HTTP_201_CREATED)


class ProfileField(serializers.PrimaryKeyRelatedField):
    """A health profile of the tenant in context (another tenant's id is a 400)."""

    def __init__(self, **kwargs):
        super().__init__(queryset=HealthProfile.objects, **kwargs)


class ScoreFilterSerializer(serializers.Serializer):
    band = serializers.ChoiceField(choices=Band.choices, required=False)
    profile = ProfileField(required=False, help_text="Health profile id")
    owner = MemberField(required=False, help_text="Owner user id")
    segment = SegmentField(required=False, help_text="Segment id: its accounts now")
    ordering = serializers.ChoiceField(
        choices=["score", "-score"],
        default="score",
        help_text="score: lowest first (default); -score: highest first",
    )


class ScoredAccountSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    external_id = serializers.CharField(read_only=True)
    stage = serializers.CharField(read_only=True)
    owner = UserRefSerializer(read_only=True, allow_null=True)


class ProfileRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)


class ScoreOutputSerializer(serializers.Serializer):
    account = ScoredAccountSerializer(read_only=True)
    score = serializers.IntegerField(read_only=True, allow_null=True)
    band = serializers.CharField(read_only=True)
    profile = ProfileRefSerializer(read_only=True, allow_null=True)
    scored_at = serializers.DateTimeField(read_only=True)


class HealthScoreViewSet(TenantScopedViewSet):
    """Every account's current score, for portfolio views and exports."""

    model = HealthScore

    @extend_schema(
        summary="Current health scores, lowest first",
        parameters=[ScoreFilterSerializer],
        responses=ScoreOutputSerializer(many=True),
    )
    def list(self, request):
        filters = validated(ScoreFilterSerializer, request)
        owner = filters.get("owner")
        scores = selectors.health_score_list(
            band=filters.get("band", ""),
            profile=filters.get("profile"),
            owner_id=owner.pk if owner else None,
            segment=filters.get("segment"),
            descending=filters["ordering"] == "-score",
        )
        return self.paginated(scores, ScoreOutputSerializer)
