"""Related fields that resolve ids through the tenant-scoped managers at
request time, so another tenant's id reads exactly like one that does not
exist (a 400 naming the field), never as a row that could be linked."""

from __future__ import annotations

from rest_framework import serializers

from csplatform.api.parsers import BIGINT
from csplatform.tenancy.models import Membership, User


class TenantRelatedField(serializers.PrimaryKeyRelatedField):
    """An id of `model` within the tenant in context."""

    default_error_messages = {
        "does_not_exist": "No such {model} in this workspace: {pk_value}.",
        "incorrect_type": "Give an id (a whole number), not {data_type}.",
    }

    def __init__(self, model=None, **kwargs):
        self.model = model or self.model
        # The manager (not a queryset) keeps the class importable without a tenant.
        kwargs.setdefault("queryset", self.model.objects)
        super().__init__(**kwargs)

    def get_queryset(self):
        return self.model.objects.all()

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("incorrect_type", data_type=type(data).__name__)
        try:
            pk = int(data)
        except (TypeError, ValueError):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if not 0 < pk <= BIGINT:
            self.fail("does_not_exist", model=self._label(), pk_value=pk)
        try:
            return self.get_queryset().get(pk=pk)
        except self.model.DoesNotExist:
            self.fail("does_not_exist", model=self._label(), pk_value=pk)

    def _label(self) -> str:
        return str(self.model._meta.verbose_name)

    def fail(self, key, **kwargs):
        kwargs.setdefault("model", self._label())
        super().fail(key, **kwargs)


def _members():
    # Membership.objects is scoped to the tenant in context (and RLS agrees).
    return User.objects.filter(memberships__in=Membership.objects.all())


class MemberField(TenantRelatedField):
    """A user id; only members of the current tenant resolve."""

    model = User
    default_error_messages = {"does_not_exist": "No member of this workspace has id {pk_value}."}

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
