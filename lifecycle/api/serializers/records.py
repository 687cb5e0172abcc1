"""Contacts and contracts: children of an account, synced from a CRM."""

from __future__ import annotations

from rest_framework import serializers

from csplatform.api.model_fields import model_field
from lifecycle.api.serializers.common import AccountRefInputMixin
from lifecycle.models import ContactRole, Contract, ContractStatus


class _ChildOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    external_id = serializers.CharField(read_only=True)
    account = serializers.IntegerField(source="account_id", read_only=True)
    account_external_id = serializers.CharField(source="account.external_id", read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class ContactOutputSerializer(_ChildOutputSerializer):
    name = serializers.CharField(read_only=True)
    email = serializers.EmailField(read_only=True)
    title = serializers.CharField(read_only=True)
    role = serializers.ChoiceField(choices=ContactRole.choices, read_only=True)


class ContactUpsertInputSerializer(AccountRefInputMixin):
    name = serializers.CharField(max_length=200)
    email = serializers.EmailField(max_length=254)
    title = serializers.CharField(max_length=200, required=False, allow_blank=True)
    role = serializers.ChoiceField(choices=ContactRole.choices, required=False)


class ContactInputSerializer(ContactUpsertInputSerializer):
    external_id = serializers.CharField(max_length=100, required=False, allow_blank=True)


class ContractOutputSerializer(_ChildOutputSerializer):
    arr = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True)
    seats = serializers.IntegerField(read_only=True)
    start_date = serializers.DateField(read_only=True)
    renewal_date = serializers.DateField(read_only=True)
    status = serializers.ChoiceField(choices=ContractStatus.choices, read_only=True)


class ContractUpsertInputSerializer(AccountRefInputMixin):
    arr = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0)
    seats = model_field(Contract, "seats", required=False)
    start_date = serializers.DateField()
    renewal_date = serializers.DateField()
    status = serializers.ChoiceField(choices=ContractStatus.choices, required=False)
    # renewal_date >= start_date is checked by contract_save, against stored
    # dates too when a partial update sends only one of them.


class ContractInputSerializer(ContractUpsertInputSerializer):
    external_id = serializers.CharField(max_length=100, required=False, allow_blank=True)
