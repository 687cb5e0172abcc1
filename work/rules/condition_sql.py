"""The SQL of rule conditions over Account: the ARR of active contracts and
custom-attribute tests on the JSON column (a segment's members are
lifecycle's `segment_members_q`). Values reach these already checked by the
grammar (work.rules.conditions)."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import (
    CharField,
    DecimalField,
    Func,
    JSONField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.fields.json import DataContains, KeyTextTransform, KeyTransform
from django.db.models.functions import Coalesce
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    LessThan,
    LessThanOrEqual,
)

from lifecycle.models import Contract, ContractStatus


def arr_total():
    """Per account (OuterRef pk): the ARR of its active contracts, 0 if none."""
    total = (
        Contract.objects.filter(account_id=OuterRef("pk"), status=ContractStatus.ACTIVE)
        .values("account_id")
        .annotate(total=Sum("arr"))
        .values("total")
    )
    return Coalesce(
        Subquery(total),
        Value(Decimal(0)),
        output_field=DecimalField(max_digits=16, decimal_places=2),
    )


class JsonbTypeof(Func):
    function = "jsonb_typeof"
    output_field = CharField()


def _json(value) -> Value:
    return Value(value, output_field=JSONField())


def attribute_q(key: str, op: str, value) -> Q:
    value_json = KeyTransform(key, "attributes")
    if op == "exists":
        has = Q(attributes__has_key=key)
        return has if value else ~has
    if op == "eq":
        return Q(Exact(value_json, _json(value)))
    if op == "ne":
        return ~Q(attributes__has_key=key) | ~Q(Exact(value_json, _json(value)))
    if op == "contains":
        text = KeyTextTransform(key, "attributes")
        in_list = Q(Exact(JsonbTypeof(value_json), "array")) & Q(
            DataContains(value_json, _json([value]))
        )
        in_text = Q(Exact(JsonbTypeof(value_json), "string")) & Q(
            text.get_lookup("icontains")(text, str(value))
        )
        return in_list | in_text
    kind = "string" if isinstance(value, str) else "number"
    compare = {"gt": GreaterThan, "gte": GreaterThanOrEqual, "lt": LessThan, "lte": LessThanOrEqual}
    return Q(Exact(JsonbTypeof(value_json), kind)) & Q(compare[op](value_json, _json(value)))
