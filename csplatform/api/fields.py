"""Related fields that resolve ids through the tenant-scoped managers at
request time, so another tenant's id reads exactly like one that does not
exist (a 400 naming the field), never as a row that could be linked."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import RegexValidator
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
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
    """A member's email, for integrations that know people by email. No one
    is null; an empty text is not an email (DRF's related fields would read
    it as null)."""

    default_error_messages = {"blank": "Give a member's email, or null for no one."}

    def run_validation(self, data=serializers.empty):
        if data == "":
            self.fail("blank")
        return super().run_validation(data)

    def __init__(self, **kwargs):
        super().__init__(slug_field="email", queryset=User.objects, **kwargs)

    def get_queryset(self):
        return _members()

    def to_internal_value(self, data):
        return super().to_internal_value(str(data).strip().lower())


# The schema of these fields, as the code reads them.


class TenantIdSchema(OpenApiSerializerFieldExtension):
    """An id is a whole number from 1 to the largest bigint."""

    target_class = TenantRelatedField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        return {"type": "integer", "minimum": 1, "maximum": BIGINT}


class MemberEmailSchema(OpenApiSerializerFieldExtension):
    target_class = MemberEmailField

    def map_serializer_field(self, auto_schema, direction):
        return {"type": "string", "format": "email", "minLength": 1}


class DecimalSchema(OpenApiSerializerFieldExtension):
    """A decimal is sent as a JSON number or as a numeric text, within the
    field's digits and bounds (DRF reads both). The decimal places are in
    the description: multipleOf is not exact for binary numbers."""

    target_class = serializers.DecimalField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        field = self.target
        if direction == "response" or field.max_digits is None:
            return auto_schema._map_serializer_field(field, direction, bypass_extensions=True)
        places = field.decimal_places or 0
        whole = field.max_digits - places
        largest = Decimal(10) ** whole - Decimal(10) ** -places
        least = field.min_value if field.min_value is not None else -largest
        most = field.max_value if field.max_value is not None else largest
        sign = "-?" if least < 0 else ""
        fraction = rf"(\.\d{{1,{places}}})?" if places else ""
        return {
            "oneOf": [
                {"type": "number", "minimum": float(least), "maximum": float(most)},
                {"type": "string", "pattern": rf"^{sign}\d{{1,{whole}}}{fraction}$"},
            ],
            "description": f"At most {places} decimal places",
        }


# Some character str.strip() keeps (DRF trims with it). Spelled out: a
# schema's \s is ECMAScript's, which differs from Python's (\x1c-\x1f, \x85).
PYTHON_SPACES = "\t-\r\x1c- \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NOT_ONLY_SPACES = f"[^{PYTHON_SPACES}]"


class TrimmedTextSchema(OpenApiSerializerFieldExtension):
    """DRF trims a text before it checks it is not blank: one that must not
    be blank needs a character that is not a space."""

    target_class = serializers.CharField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        field = self.target
        schema = auto_schema._map_serializer_field(field, direction, bypass_extensions=True)
        if (
            direction == "request"
            and field.trim_whitespace
            and not field.allow_blank
            and schema.get("type") == "string"
            and "pattern" not in schema
            # A field with its own pattern (RegexField) says it there.
            and not any(isinstance(v, RegexValidator) for v in field.validators)
        ):
            schema["pattern"] = NOT_ONLY_SPACES
        return schema
