from __future__ import annotations

from rest_framework import serializers

from lifecycle.api.fields import AccountExternalIdField, AccountField


def no_nul_characters(value) -> None:
    """PostgreSQL cannot store U+0000 in JSON text; refuse it as bad input."""

    def walk(node):
        if isinstance(node, str):
            return "\x00" in node
        if isinstance(node, dict):
            return any(walk(k) or walk(v) for k, v in node.items())
        if isinstance(node, list):
            return any(walk(item) for item in node)
        return False

    if walk(value):
        raise serializers.ValidationError("Null characters are not allowed.")


class _ExternalIdSerializer(serializers.Serializer):
    external_id = serializers.CharField(max_length=100)


def external_id_from_path(value: str) -> str:
    """The external id in an upsert URL, checked like a body field (400, not 500)."""
    data = _ExternalIdSerializer(data={"external_id": value})
    data.is_valid(raise_exception=True)
    return data.validated_data["external_id"]


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    email = serializers.EmailField(read_only=True)


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(read_only=True)


class AccountRefInputMixin(serializers.Serializer):
    """`account` by id or `account_external_id` by CRM id: a sync knows only
    external ids. Required unless the request is a partial update."""

    account = AccountField(required=False)
    account_external_id = AccountExternalIdField(required=False, write_only=True)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        by_external_id = attrs.pop("account_external_id", None)
        if by_external_id is not None:
            if "account" in attrs and attrs["account"] != by_external_id:
                raise serializers.ValidationError(
                    {"account_external_id": ["Names a different account than `account`."]}
                )
            attrs["account"] = by_external_id
        if "account" not in attrs and not self.partial:
            raise serializers.ValidationError(
                {"account": ["Give the account's id, or its external id in account_external_id."]}
            )
        return attrs
