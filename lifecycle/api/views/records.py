"""Contacts and contracts: list, read, create, update, and upsert by external
id. Both share one shape, so one base class holds the handlers."""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from csplatform.api.base import TenantScopedViewSet, validated
from lifecycle import services
from lifecycle.api.filters import (
    ContactFilterSerializer,
    ContractFilterSerializer,
    contacts_filter,
    contracts_filter,
)
from lifecycle.api.serializers.common import external_id_from_path
from lifecycle.api.serializers.records import (
    ContactInputSerializer,
    ContactOutputSerializer,
    ContactUpsertInputSerializer,
    ContractInputSerializer,
    ContractOutputSerializer,
    ContractUpsertInputSerializer,
)
from lifecycle.models import Contact, Contract

EXTERNAL_ID = OpenApiParameter(
    "external_id", str, OpenApiParameter.PATH, description="The record's id in your CRM"
)


class _RecordViewSet(mixins.RetrieveModelMixin, TenantScopedViewSet):
    """Subclasses set serializer_class (output), input_serializers for
    create/update/partial_update/upsert, and filter_class."""

    filter_class: type

    def scope(self, queryset):
        return queryset.select_related("account")

    def filter_records(self, queryset, filters):
        raise NotImplementedError

    def save_record(self, instance, **fields):
        raise NotImplementedError

    def upsert_record(self, external_id, **fields):
        raise NotImplementedError

    def _render(self, instance, code=status.HTTP_200_OK):
        return Response(self.serializer_class(instance).data, status=code)

    def list(self, request):
        filters = validated(self.filter_class, request)
        return self.paginated(
            self.filter_records(self.get_queryset(), filters), self.serializer_class
        )

    def create(self, request):
        data = self.input_serializers["create"](data=request.data)
        data.is_valid(raise_exception=True)
        return self._render(self.save_record(None, **data.validated_data), status.HTTP_201_CREATED)

    def update(self, request, pk=None, partial=False):
        instance = self.get_object()
        data = self.input_serializers["update"](data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        return self._render(self.save_record(instance, **data.validated_data))

    def partial_update(self, request, pk=None):
        return self.update(request, pk=pk, partial=True)

    @action(detail=False, methods=["put"], url_path=r"external/(?P<external_id>[^/]+)")
    def upsert(self, request, external_id: str):
        data = self.input_serializers["upsert"](data=request.data)
        data.is_valid(raise_exception=True)
        external_id = external_id_from_path(external_id)
        instance, created = self.upsert_record(external_id, **data.validated_data)
        return self._render(instance, status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def _schema(noun: str, output, input_class, upsert_class, filter_class):
    return extend_schema_view(
        list=extend_schema(parameters=[filter_class], responses=output(many=True)),
        create=extend_schema(request=input_class, responses={201: output}),
        update=extend_schema(request=input_class, responses=output),
        partial_update=extend_schema(request=input_class, responses=output),
        upsert=extend_schema(
            summary=f"Create or update a {noun} by its external id",
            description=f"Safe to repeat: 201 when the {noun} was created, 200 when updated.",
            parameters=[EXTERNAL_ID],
            request=upsert_class,
            responses={
                200: OpenApiResponse(output, description="Updated"),
                201: OpenApiResponse(output, description="Created"),
            },
        ),
    )


@_schema(
    "contact",
    ContactOutputSerializer,
    ContactInputSerializer,
    ContactUpsertInputSerializer,
    ContactFilterSerializer,
)
class ContactViewSet(_RecordViewSet):
    """People at customer accounts. `account` takes an account id, or give the
    account's CRM id in `account_external_id`."""

    model = Contact
    serializer_class = ContactOutputSerializer
    input_serializers = {
        "create": ContactInputSerializer,
        "update": ContactInputSerializer,
        "partial_update": ContactInputSerializer,
        "upsert": ContactUpsertInputSerializer,
    }
    filter_class = ContactFilterSerializer

    def filter_records(self, queryset, filters):
        return contacts_filter(queryset, filters)

    def save_record(self, instance, **fields):
        return services.contact_save(contact=instance, actor=self.actor, **fields)

    def upsert_record(self, external_id, **fields):
        return services.contact_upsert(external_id=external_id, actor=self.actor, **fields)


@_schema(
    "contract",
    ContractOutputSerializer,
    ContractInputSerializer,
    ContractUpsertInputSerializer,
    ContractFilterSerializer,
)
class ContractViewSet(_RecordViewSet):
    """Contracts of customer accounts (ARR, seats, dates). `account` takes an
    account id, or give the account's CRM id in `account_external_id`."""

    model = Contract
    serializer_class = ContractOutputSerializer
    input_serializers = {
        "create": ContractInputSerializer,
        "update": ContractInputSerializer,
        "partial_update": ContractInputSerializer,
        "upsert": ContractUpsertInputSerializer,
    }
    filter_class = ContractFilterSerializer

    def filter_records(self, queryset, filters):
        return contracts_filter(queryset, filters)

    def save_record(self, instance, **fields):
        return services.contract_save(contract=instance, actor=self.actor, **fields)

    def upsert_record(self, external_id, **fields):
        return services.contract_upsert(external_id=external_id, actor=self.actor, **fields)
