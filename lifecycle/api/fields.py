"""Lifecycle's reference fields: accounts by id or by CRM external id, within
the tenant in context (another tenant's reads as one that does not exist)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from csplatform.api.fields import TenantRelatedField
from lifecycle.models import Account


class AccountField(TenantRelatedField):
    """An account id within the tenant in context."""

    model = Account


_EXTERNAL_ID = Account._meta.get_field("external_id")


@extend_schema_field({"type": "string", "minLength": 1, "maxLength": _EXTERNAL_ID.max_length})
class AccountExternalIdField(serializers.SlugRelatedField):
    """An account by its CRM external id, within the tenant in context."""

    default_error_messages = {
        "does_not_exist": "No account has the external id {value}.",
        "blank": "Give the account's external id.",
    }

    def run_validation(self, data=serializers.empty):
        if data == "":  # DRF's related fields would read it as null
            self.fail("blank")
        return super().run_validation(data)

    def __init__(self, **kwargs):
        super().__init__(slug_field="external_id", queryset=Account.objects, **kwargs)
