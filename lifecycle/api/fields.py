"""Lifecycle's reference fields: accounts by id or by CRM external id, within
the tenant in context (another tenant's reads as one that does not exist)."""

from __future__ import annotations

from rest_framework import serializers

from csplatform.api.fields import TenantRelatedField
from lifecycle.models import Account


class AccountField(TenantRelatedField):
    """An account id within the tenant in context."""

    model = Account


class AccountExternalIdField(serializers.SlugRelatedField):
    """An account by its CRM external id, within the tenant in context."""

    default_error_messages = {"does_not_exist": "No account has the external id {value}."}

    def __init__(self, **kwargs):
        super().__init__(slug_field="external_id", queryset=Account.objects, **kwargs)
