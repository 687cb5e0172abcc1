"""Query-string filters for the list endpoints. Each filter serializer
validates the query string (bad values are 400 with the parameter named) and
narrows a queryset that already comes from a tenant-scoped manager or a
lifecycle selector; related rows are joined so a page costs the same number
of queries for 3 rows as for 300."""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework import serializers

from csplatform.api.fields import MemberField, TenantRelatedField
from lifecycle.api.fields import AccountField
from lifecycle.models import ContactRole, ContractStatus, Segment, Stage, Tier


class SegmentField(TenantRelatedField):
    model = Segment


class AccountFilterSerializer(serializers.Serializer):
    search = serializers.CharField(
        required=False, help_text="Part of the name, or the exact external id"
    )
    stage = serializers.ChoiceField(choices=Stage.choices, required=False)
    owner = MemberField(required=False, help_text="Owner user id")
    tier = serializers.ChoiceField(choices=Tier.choices, required=False)
    segment = SegmentField(required=False, help_text="Segment id")
    # true or false; left out, no filter (an empty value is no boolean)
    escalated = serializers.BooleanField(required=False)


def account_selector_kwargs(data: dict) -> dict:
    """Map validated account filters onto selectors.account_list's arguments."""
    return {
        "search": data.get("search", ""),
        "stage": data.get("stage", ""),
        "owner_id": data["owner"].pk if data.get("owner") else None,
        "tier": data.get("tier", ""),
        "segment": data.get("segment"),
        "escalated": data.get("escalated"),
    }


class ContactFilterSerializer(serializers.Serializer):
    account = AccountField(required=False, help_text="Account id")
    email = serializers.CharField(required=False, help_text="Exact email (any case)")
    role = serializers.ChoiceField(choices=ContactRole.choices, required=False)


def contacts_filter(qs: QuerySet, data: dict) -> QuerySet:
    if data.get("account"):
        qs = qs.filter(account=data["account"])
    if data.get("email"):
        qs = qs.filter(email__iexact=data["email"].strip())
    if data.get("role"):
        qs = qs.filter(role=data["role"])
    return qs.select_related("account")


class ContractFilterSerializer(serializers.Serializer):
    account = AccountField(required=False, help_text="Account id")
    status = serializers.ChoiceField(choices=ContractStatus.choices, required=False)
    renewal_before = serializers.DateField(
        required=False, help_text="Renewal on or before this date"
    )
    renewal_after = serializers.DateField(required=False, help_text="Renewal on or after this date")


def contracts_filter(qs: QuerySet, data: dict) -> QuerySet:
    if data.get("account"):
        qs = qs.filter(account=data["account"])
    if data.get("status"):
        qs = qs.filter(status=data["status"])
    if data.get("renewal_before"):
        qs = qs.filter(renewal_date__lte=data["renewal_before"])
    if data.get("renewal_after"):
        qs = qs.filter(renewal_date__gte=data["renewal_after"])
    return qs.select_related("account")


class EscalationFilterSerializer(serializers.Serializer):
    open = serializers.BooleanField(required=False, help_text="true: only open ones")
    account = AccountField(required=False, help_text="Account id")


def escalations_filter(qs: QuerySet, data: dict) -> QuerySet:
    if data.get("open") is not None:
        qs = qs.filter(resolved_at__isnull=data["open"])
    if data.get("account"):
        qs = qs.filter(account=data["account"])
    return qs.select_related("opened_by", "resolved_by")


class TimelineFilterSerializer(serializers.Serializer):
    account = AccountField(required=False, help_text="Account id")
    kind = serializers.CharField(required=False, help_text="Entry kind, e.g. note, stage_changed")


class AccountTimelineFilterSerializer(serializers.Serializer):
    kind = serializers.CharField(required=False, help_text="Entry kind, e.g. note, stage_changed")
