"""Related fields that resolve ids through the tenant-scoped managers at
request time, so another tenant's id reads exactly like one that does not
exist ("does not exist"), never as a row that could be linked."""

from __future__ import annotations

from rest_framework import serializers

from csplatform.tenancy.models import Membership, User
from lifecycle.models import Account


def _members():
    # Membership.objects is scoped to the tenant in context (and RLS agrees).
    return User.objects.filter(memberships__in=Membership.objects.all())


class MemberField(serializers.PrimaryKeyRelatedField):
    """A user id; only members of the current tenant resolve."""

    def __init__(self, **kwargs):
        # The manager (not a queryset) keeps the class importable without a tenant.
        super().__init__(queryset=User.objects, **kwargs)

    def get_queryset(self):
        return _members()


class MemberEmailField(serializers.SlugRelatedField):
    """A member's email, for integrations that know people by email."""

    def __init__(self, **kwargs):
        super().__init__(slug_field="email", queryset=User.objects, **kwargs)

    def get_queryset(self):
        return _members()

    def to_internal_value(self, data):
        return super().to_internal_value(str(data).strip().lower())


class AccountField(serializers.PrimaryKeyRelatedField):
    """An account id within the tenant in context."""

    def __init__(self, **kwargs):
        super().__init__(queryset=Account.objects, **kwargs)


class AccountExternalIdField(serializers.SlugRelatedField):
    """An account by its CRM external id, within the tenant in context."""

    def __init__(self, **kwargs):
        super().__init__(slug_field="external_id", queryset=Account.objects, **kwargs)
