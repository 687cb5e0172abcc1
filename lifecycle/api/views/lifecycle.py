"""Stage transitions and the achievements checklist of one account."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response

from csplatform.api.base import TenantScopedViewSet
from lifecycle import selectors, services
from lifecycle.api.lookups import achievement_by_key
from lifecycle.api.serializers.accounts import (
    AccountDetailOutputSerializer,
    TransitionTargetSerializer,
)
from lifecycle.api.serializers.activity import (
    AchievementActionInputSerializer,
    ChecklistItemSerializer,
    TransitionErrorSerializer,
    TransitionInputSerializer,
    checklist_item,
)
from lifecycle.api.views.accounts import account_detail_response
from lifecycle.models import Account

ACHIEVEMENT_KEY = OpenApiParameter(
    "key", str, OpenApiParameter.PATH, description="The achievement's key, e.g. kickoff_held"
)
ACHIEVEMENT_PATH = r"achievements/(?P<key>[-a-zA-Z0-9_]+)"


class AccountLifecycleViewSet(TenantScopedViewSet):
    """The account's lifecycle stage and its achievements checklist. Forward
    moves need the current stage's required achievements, or a leader forcing
    with a reason."""

    model = Account
    input_serializers = {
        "transitions": TransitionInputSerializer,
        "achievement_complete": AchievementActionInputSerializer,
        "achievement_reopen": AchievementActionInputSerializer,
    }

    @extend_schema(
        methods=["GET"],
        summary="Stages the account can move to now",
        responses=TransitionTargetSerializer(many=True),
    )
    @extend_schema(
        methods=["POST"],
        summary="Move the account to another stage",
        request=TransitionInputSerializer,
        responses={
            200: AccountDetailOutputSerializer,
            403: OpenApiResponse(
                TransitionErrorSerializer, description="Forcing needs a leader or admin"
            ),
            409: OpenApiResponse(
                TransitionErrorSerializer,
                description="Guard not met, move not allowed, stale expected_stage, "
                "or a forced move without a reason",
            ),
        },
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def transitions(self, request, pk=None):
        account = self.get_object()
        if request.method == "GET":
            targets = services.allowed_targets(account)
            return Response(TransitionTargetSerializer(targets, many=True).data)
        data = TransitionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.account_transition(
            account_id=account.pk, actor=self.actor, role=self.role, **data.validated_data
        )
        return account_detail_response(account.pk)

    @extend_schema(
        summary="The checklist of the account's current stage",
        responses=ChecklistItemSerializer(many=True),
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def achievements(self, request, pk=None):
        account = self.get_object()
        rows = [
            checklist_item(row["achievement"], row["done"])
            for row in selectors.account_checklist(account)
        ]
        return Response(ChecklistItemSerializer(rows, many=True).data)

    @extend_schema(
        summary="Mark an achievement done",
        parameters=[ACHIEVEMENT_KEY],
        request=AchievementActionInputSerializer,
        responses=ChecklistItemSerializer,
    )
    @action(detail=True, methods=["post"], url_path=ACHIEVEMENT_PATH + "/complete")
    def achievement_complete(self, request, pk=None, key=""):
        account, achievement = self._achievement(request, key)
        done = services.achievement_complete(
            account=account, achievement=achievement, actor=self.actor
        )
        return Response(ChecklistItemSerializer(checklist_item(achievement, done)).data)

    @extend_schema(
        summary="Mark an achievement not done",
        parameters=[ACHIEVEMENT_KEY],
        request=AchievementActionInputSerializer,
        responses=ChecklistItemSerializer,
    )
    @action(detail=True, methods=["post"], url_path=ACHIEVEMENT_PATH + "/reopen")
    def achievement_reopen(self, request, pk=None, key=""):
        account, achievement = self._achievement(request, key)
        services.achievement_reopen(account=account, achievement=achievement, actor=self.actor)
        return Response(ChecklistItemSerializer(checklist_item(achievement, None)).data)

    def _achievement(self, request, key: str):
        account = self.get_object()
        data = AchievementActionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return account, achievement_by_key(account, key, data.validated_data.get("stage"))
