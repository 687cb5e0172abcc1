"""Rule conditions: checks on the account a trigger fired for, all of which
must hold. Each becomes part of one SQL WHERE over accounts, so an event
checks every rule's conditions for its account in one query and a sweep
finds its accounts set-based.

A condition is `{"field": ..., "op": ..., "value": ...}` (and `key` for an
attribute):

- segment: in | not_in, value a segment id (the segment's saved filters)
- tier, stage: in | not_in, value a list of tiers / stages
- owner: in | not_in, value a list of user ids (members of the workspace)
- arr (the sum of the account's active contracts): gte | lte with a number,
  or between with [min, max]
- attribute (`Account.attributes`, by `key`): eq | ne | gt | gte | lt | lte
  (numbers with numbers, text with text) | contains (an item of a list, or
  text inside text, case-insensitive) | exists (value true, or false for
  "is missing")
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django.db.models import (
    BooleanField,
    Case,
    CharField,
    DecimalField,
    Func,
    JSONField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
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

from csplatform.tenancy.models import Membership
from lifecycle.models import Account, Contract, ContractStatus, Segment, Stage, Tier
from lifecycle.segments import segment_members_q
from work.rules.fields import Errors

FIELDS = {
    "segment": "Segment",
    "tier": "Tier",
    "stage": "Stage",
    "owner": "Owner",
    "arr": "ARR (active contracts)",
    "attribute": "Custom attribute",
}
OPS = {
    "segment": ["in", "not_in"],
    "tier": ["in", "not_in"],
    "stage": ["in", "not_in"],
    "owner": ["in", "not_in"],
    "arr": ["gte", "lte", "between"],
    "attribute": ["eq", "ne", "gt", "gte", "lt", "lte", "contains", "exists"],
}
OP_LABELS = {
    "in": "is one of",
    "not_in": "is none of",
    "eq": "=",
    "ne": "≠",
    "gt": ">",
    "gte": "≥",
    "lt": "<",
    "lte": "≤",
    "between": "between",
    "contains": "contains",
    "exists": "exists",
}
ALL_OPS = list(OP_LABELS)
MAX_CONDITIONS = 20
ATTRIBUTE_KEY = re.compile(r"^[A-Za-z0-9_\-]{1,100}$")


class JsonbTypeof(Func):
    function = "jsonb_typeof"
    output_field = CharField()


def _as_list(value) -> list:
    if value is None or value == "":
        return []
    return value if isinstance(value, list) else [value]


def _decimal(value) -> Decimal | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def conditions_validate(conditions: object) -> tuple[list[dict], Errors]:
    """The cleaned conditions and their errors, keyed `conditions.<i>.<part>`.
    Segment and owner ids are checked against the workspace in context: an
    id of another workspace is "not found", like one that never existed."""
    if conditions is None:
        return [], {}
    if not isinstance(conditions, list):
        return [], {"conditions": ["Must be a list of conditions."]}
    if len(conditions) > MAX_CONDITIONS:
        return [], {"conditions": [f"At most {MAX_CONDITIONS} conditions."]}
    errors: Errors = {}
    clean: list[dict] = []
    segment_ids: dict[int, int] = {}
    owner_ids: dict[int, list[int]] = {}
    for i, raw in enumerate(conditions):
        at = f"conditions.{i}"
        if not isinstance(raw, dict):
            errors[at] = ["Each condition is an object with field, op and value."]
            continue
        unknown = set(raw) - {"field", "op", "value", "key"}
        if unknown:
            errors[at] = [f"Unknown parts: {', '.join(sorted(map(str, unknown)))}."]
            continue
        field_name, op, value = raw.get("field"), raw.get("op"), raw.get("value")
        if field_name not in OPS:
            errors[f"{at}.field"] = [f"Choose one of: {', '.join(FIELDS)}."]
            continue
        if op not in OPS[field_name]:
            ops = ", ".join(OPS[field_name])
            errors[f"{at}.op"] = [f"For {FIELDS[field_name].lower()} choose one of: {ops}."]
            continue
        item = {"field": field_name, "op": op}
        if field_name == "segment":
            if isinstance(value, bool) or not isinstance(value, int):
                errors[f"{at}.value"] = ["Choose a segment (its id)."]
                continue
            segment_ids[i] = value
            item["value"] = value
        elif field_name in ("tier", "stage"):
            allowed = Tier.values if field_name == "tier" else Stage.values
            values = _as_list(value)
            bad = [str(v) for v in values if v not in allowed]
            if not values:
                errors[f"{at}.value"] = [f"Choose at least one {field_name}."]
            elif bad:
                errors[f"{at}.value"] = [
                    f"Unknown {field_name}: {', '.join(bad)}. Choose from {', '.join(allowed)}."
                ]
            item["value"] = values
        elif field_name == "owner":
            values = _as_list(value)
            if not values or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in values
            ):
                errors[f"{at}.value"] = ["Owners are user ids of this workspace's members."]
                continue
            owner_ids[i] = values
            item["value"] = values
        elif field_name == "arr":
            if op == "between":
                pair = _as_list(value)
                numbers = [_decimal(v) for v in pair]
                if len(pair) != 2 or None in numbers:
                    errors[f"{at}.value"] = ["Give [minimum, maximum], two numbers."]
                    continue
                if numbers[0] > numbers[1]:
                    errors[f"{at}.value"] = ["The minimum is above the maximum."]
                    continue
                item["value"] = [str(n) for n in numbers]
            else:
                number = _decimal(value)
                if number is None:
                    errors[f"{at}.value"] = ["Enter an amount."]
                    continue
                item["value"] = str(number)
        else:  # attribute
            key = raw.get("key")
            if not isinstance(key, str) or not ATTRIBUTE_KEY.match(key):
                errors[f"{at}.key"] = [
                    "Name the attribute: letters, digits, _ and - (up to 100 characters)."
                ]
                continue
            item["key"] = key
            if op == "exists":
                if value in (None, ""):
                    value = True
                if not isinstance(value, bool):
                    errors[f"{at}.value"] = ["true (the attribute is set) or false (missing)."]
                    continue
            elif op in ("gt", "gte", "lt", "lte"):
                if isinstance(value, bool) or not isinstance(value, int | float | str):
                    errors[f"{at}.value"] = ["Compare with a number or a text."]
                    continue
            elif op == "contains":
                if isinstance(value, bool) or not isinstance(value, int | float | str):
                    errors[f"{at}.value"] = ["Look for a number or a text."]
                    continue
            elif isinstance(value, str) and "\x00" in value:
                errors[f"{at}.value"] = ["Null characters are not allowed."]
                continue
            item["value"] = value
        clean.append(item)
    if segment_ids:
        found = set(
            Segment.objects.filter(pk__in=set(segment_ids.values())).values_list("pk", flat=True)
        )
        for i, pk in segment_ids.items():
            if pk not in found:
                errors[f"conditions.{i}.value"] = ["No such segment in this workspace."]
    if owner_ids:
        wanted = {pk for ids in owner_ids.values() for pk in ids}
        members = set(
            Membership.objects.filter(user_id__in=wanted).values_list("user_id", flat=True)
        )
        for i, ids in owner_ids.items():
            missing = [str(pk) for pk in ids if pk not in members]
            if missing:
                errors[f"conditions.{i}.value"] = [
                    f"Not members of this workspace: {', '.join(missing)}."
                ]
    return clean, errors


def segments_for(conditions_lists: list[list[dict]]) -> dict[int, Segment]:
    """The segments these conditions name, in one query (none if none)."""
    ids = {c["value"] for conds in conditions_lists for c in conds if c.get("field") == "segment"}
    return {s.pk: s for s in Segment.objects.filter(pk__in=ids)} if ids else {}


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


def _json(value) -> Value:
    return Value(value, output_field=JSONField())


def _attribute_q(key: str, op: str, value) -> Q:
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


def condition_q(condition: dict, segments: dict[int, Segment]) -> Q:
    field_name, op, value = condition["field"], condition["op"], condition.get("value")
    if field_name == "segment":
        segment = segments.get(value)
        # A segment deleted since the rule was saved matches nobody.
        q = segment_members_q(segment) if segment is not None else Q(pk__in=[])
    elif field_name == "tier":
        q = Q(tier__in=value)
    elif field_name == "stage":
        q = Q(stage__in=value)
    elif field_name == "owner":
        q = Q(owner_id__in=value)
    elif field_name == "arr":
        total = arr_total()
        if op == "between":
            low, high = (Decimal(v) for v in value)
            return Q(GreaterThanOrEqual(total, low)) & Q(LessThanOrEqual(total, high))
        lookup = GreaterThanOrEqual if op == "gte" else LessThanOrEqual
        return Q(lookup(total, Decimal(value)))
    else:
        return _attribute_q(condition["key"], op, value)
    return ~q if op == "not_in" else q


def conditions_q(conditions: list[dict], segments: dict[int, Segment]) -> Q:
    """All of the conditions as one Q over Account (an empty list: every account)."""
    q = Q()
    for condition in conditions:
        q &= condition_q(condition, segments)
    return q


def rules_matching_account(rules: list, account_id: int) -> set[int]:
    """Ids of the rules whose conditions hold for the account, in one query
    (none when no rule has conditions)."""
    with_conditions = [rule for rule in rules if rule.conditions]
    passed = {rule.pk for rule in rules if not rule.conditions}
    if not with_conditions:
        return passed
    segments = segments_for([rule.conditions for rule in with_conditions])
    flags = {
        f"r{rule.pk}": Case(
            When(conditions_q(rule.conditions, segments), then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        )
        for rule in with_conditions
    }
    row = Account.objects.filter(pk=account_id).annotate(**flags).values(*flags).first()
    if row is None:
        return set()
    return passed | {rule.pk for rule in with_conditions if row[f"r{rule.pk}"]}


def condition_summary(condition: dict, names: dict | None = None) -> str:
    """A short text of one condition for the rule list."""
    names = names or {}
    field_name = condition.get("field")
    label = FIELDS.get(field_name, str(field_name))
    op = OP_LABELS.get(condition.get("op"), condition.get("op"))
    value = condition.get("value")
    if field_name == "attribute":
        label = f"{label} {condition.get('key')}"
        if condition.get("op") == "exists":
            return f"{label} {'is set' if value else 'is missing'}"
    if field_name == "segment":
        value = names.get(("segment", value), f"#{value}")
    if field_name == "owner" and isinstance(value, list):
        value = [names.get(("owner", v), f"#{v}") for v in value]
    if isinstance(value, list):
        value = ", ".join(map(str, value))
    return f"{label} {op} {value}"
