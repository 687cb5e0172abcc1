from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from csplatform.api.base import TenantScopedViewSet, validated
from lifecycle import selectors, services
from lifecycle.api.filters import AccountFilterSerializer, account_selector_kwargs
from lifecycle.api.serializers.accounts import (
    AccountCreateInputSerializer,
    AccountDetailOutputSerializer,
    AccountInputSerializer,
    AccountOutputSerializer,
    AccountUpsertInputSerializer,
)
from lifecycle.api.serializers.common import external_id_from_path
from lifecycle.models import Account

EXTERNAL_ID = OpenApiParameter(
    "external_id", str, OpenApiParameter.PATH, description="The account's id in your CRM"
)


def account_detail_response(account_id: int, status_code: int = status.HTTP_200_OK) -> Response:
    """The account as stored now, with ARR, next renewal and the moves allowed now."""
    account = selectors.account_list().get(pk=account_id)
    account.allowed_transitions = services.allowed_targets(account)
    return Response(AccountDetailOutputSerializer(account).data, status=status_code)


class AccountViewSet(TenantScopedViewSet):
    """Customer accounts: list with filters, read, create, update, and upsert by
    external id for CRM syncs."""

    model = Account
    serializer_class = AccountOutputSerializer
    input_serializers = {
        "create": AccountCreateInputSerializer,
        "update": AccountInputSerializer,
        "partial_update": AccountInputSerializer,
        "upsert": AccountUpsertInputSerializer,
    }

    def scope(self, queryset):
        # account_list reads the same tenant-scoped manager, adding ARR and next renewal.
        return selectors.account_list()

    @extend_schema(
        parameters=[AccountFilterSerializer], responses=AccountOutputSerializer(many=True)
    )
    def list(self, request):
        filters = validated(AccountFilterSerializer, request)
        accounts = selectors.account_list(**account_selector_kwargs(filters))
        return self.paginated(accounts, AccountOutputSerializer)

    @extend_schema(responses=AccountDetailOutputSerializer)
    def retrieve(self, request, pk=None):
        return account_detail_response(self.get_object().pk)

    @extend_schema(
        request=AccountCreateInputSerializer, responses={201: AccountDetailOutputSerializer}
    )
    def create(self, request):
        data = AccountCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        account = services.account_create(actor=self.actor, **data.validated_data)
        return account_detail_response(account.pk, status.HTTP_201_CREATED)

    @extend_schema(request=AccountInputSerializer, responses=AccountDetailOutputSerializer)
    def update(self, request, pk=None, partial=False):
        account = self.get_object()
        data = AccountInputSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        services.account_update(account=account, actor=self.actor, **data.validated_data)
        return account_detail_response(account.pk)

    @extend_schema(request=AccountInputSerializer, responses=AccountDetailOutputSerializer)
    def partial_update(self, request, pk=None):
        return self.update(request, pk=pk, partial=True)

    @extend_schema(
        summary="Create or update an account by its external id",
        description="Safe to repeat: 201 when the account was created, 200 when updated.",
        parameters=[EXTERNAL_ID],
        request=AccountUpsertInputSerializer,
        responses={
            200: OpenApiResponse(AccountDetailOutputSerializer, description="Updated"),
            201: OpenApiResponse(AccountDetailOutputSerializer, description="Created"),
        },
    )
    @action(detail=False, methods=["put"], url_path=r"external/(?P<external_id>[^/]+)")
    def upsert(self, request, external_id: str):
        data = AccountUpsertInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        account, created = services.account_upsert(
            external_id=external_id_from_path(external_id), actor=self.actor, **data.validated_data
        )
        return account_detail_response(
            account.pk, status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )
