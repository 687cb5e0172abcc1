"""NPS responses: integrations post survey answers (POST /api/v1/nps, safe to
repeat with an external_id) and read them back, filtered by account and
category."""

from __future__ import annotations

from django.db import IntegrityError
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from csplatform.api.base import TenantScopedViewSet, validated
from csplatform.tenancy.models import Role
from health import selectors, services
from health.models import NpsResponse
from lifecycle.api.fields import AccountExternalIdField, AccountField
from lifecycle.models import Contact


class ContactField(serializers.PrimaryKeyRelatedField):
    """A contact id within the tenant in context."""

    def __init__(self, **kwargs):
        super().__init__(queryset=Contact.objects, **kwargs)


class NpsInputSerializer(serializers.Serializer):
    account_id = AccountExternalIdField(
        required=False,
        help_text="The account's external id (as in the events API)",
        error_messages={"does_not_exist": "No account has the external id {value}."},
    )
    account = AccountField(
        required=False,
        help_text="Or the account's internal id",
        error_messages={"does_not_exist": "No account has the id {pk_value}."},
    )
    score = serializers.IntegerField(min_value=0, max_value=10)
    respondent = serializers.CharField(
        max_length=254, required=False, allow_blank=True, help_text="Who answered (any id)"
    )
    email = serializers.EmailField(required=False, help_text="Who answered, by email")
    contact = ContactField(required=False, allow_null=True, help_text="Contact id at the account")
    comment = serializers.CharField(required=False, allow_blank=True, default="")
    responded_at = serializers.DateTimeField(required=False, help_text="Default: now")
    external_id = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        default="",
        help_text="Your id of the answer: a repeat with the same id is stored once",
    )

    def validate(self, attrs):
        by_external_id = attrs.pop("account_id", None)
        if by_external_id is not None:
            if "account" in attrs and attrs["account"] != by_external_id:
                raise serializers.ValidationError(
                    {"account_id": ["Names a different account than `account`."]}
                )
            attrs["account"] = by_external_id
        if "account" not in attrs:
            raise serializers.ValidationError(
                {"account_id": ["Give the account's external id, or its id in `account`."]}
            )
        email = attrs.pop("email", "")
        if not attrs.get("respondent"):
            attrs["respondent"] = email
        return attrs


class NpsOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    account = serializers.IntegerField(source="account_id", read_only=True)
    account_external_id = serializers.CharField(source="account.external_id", read_only=True)
    contact = serializers.IntegerField(source="contact_id", read_only=True, allow_null=True)
    respondent = serializers.CharField(read_only=True)
    score = serializers.IntegerField(read_only=True)
    category = serializers.ChoiceField(choices=list(selectors.NPS_CATEGORIES), read_only=True)
    comment = serializers.CharField(read_only=True)
    responded_at = serializers.DateTimeField(read_only=True)
    source = serializers.CharField(read_only=True)
    external_id = serializers.CharField(read_only=True)


class NpsFilterSerializer(serializers.Serializer):
    account = AccountField(required=False, help_text="Account id")
    category = serializers.ChoiceField(choices=list(selectors.NPS_CATEGORIES), required=False)


class NpsResponseViewSet(TenantScopedViewSet):
    """NPS answers: posted by integrations (csm keys and up), read by anyone."""

    model = NpsResponse
    write_role = Role.CSM
    input_serializers = {"create": NpsInputSerializer}

    @extend_schema(
        summary="NPS responses, newest first",
        parameters=[NpsFilterSerializer],
        responses=NpsOutputSerializer(many=True),
    )
    def list(self, request):
        filters = validated(NpsFilterSerializer, request)
        responses = selectors.nps_response_list(
            account=filters.get("account"), category=filters.get("category", "")
        )
        return self.paginated(responses, NpsOutputSerializer)

    @extend_schema(
        summary="Record an NPS answer",
        description="Give the account by `account_id` (its external id) or `account` "
        "(its id). With `external_id`, a repeat is stored once: the first post answers "
        "201, a repeat 200 with the response stored the first time.",
        request=NpsInputSerializer,
        responses={
            201: OpenApiResponse(NpsOutputSerializer, description="Recorded"),
            200: OpenApiResponse(NpsOutputSerializer, description="Already recorded"),
        },
        examples=[
            OpenApiExample(
                "An answer",
                value={
                    "account_id": "acme-001",
                    "score": 9,
                    "email": "pat@acme.test",
                    "comment": "Reports save us hours",
                    "external_id": "survey-42-pat",
                },
                request_only=True,
            )
        ],
    )
    def create(self, request):
        data = NpsInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            response, created = services.nps_response_record(**data.validated_data)
        except IntegrityError:
            # The same external id committed by a concurrent request: a replay.
            external_id = data.validated_data["external_id"]
            if not external_id:
                raise
            response = selectors.nps_response_list().get(external_id=external_id)
            created = False
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        fresh = selectors.nps_response_list().get(pk=response.pk)
        return Response(NpsOutputSerializer(fresh).data, status=code)
