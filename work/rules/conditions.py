"""Rule conditions: checks on the account a trigger fired for, all of which
must hold. Each becomes part of one SQL WHERE over accounts, so an event
checks every rule's conditions for its account in one query and a sweep
finds its accounts set-based.

A condition is `{"field": ..., "op": ..., "value": ...}` (and `key` for an
attribute). A closed grammar, one declaration per field (`ConditionKind`
below: its tests, how its value is checked, how the editor shows and reads
it, and its SQL):

- segment: in | not_in, value a segment id of this workspace
- tier, stage: in | not_in, value a list of tiers / stages
- owner: in | not_in, value a list of user ids (members of the workspace)
- arr (the sum of the account's active contracts): gte | lte with an amount
  (0 to the Contract.arr column's maximum), or between with [min, max]
- attribute (`Account.attributes`, by `key`: a letter, then letters,
  digits, `_`, `-` or spaces, up to 64, no `__`): eq | ne | gt | gte | lt |
  lte (numbers with numbers, text with text) | contains (an item of a list,
  or text inside text, case-insensitive) | exists (value true, or false for
  "is missing")

Values are bounded: lists of at most 100 items, texts of at most 200
characters, numbers finite and within ±10^15. Saving checks the ids
against the workspace; running re-checks the grammar (without the
database) and raises RuleBroken for a stored condition that no longer
passes, or SegmentFilterBroken for a segment whose filters cannot run.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.db.models.lookups import GreaterThanOrEqual, LessThanOrEqual

from csplatform.tenancy.models import Membership
from csplatform.validation import model_formfield
from lifecycle.models import Contract, Segment, Stage, Tier
from lifecycle.segments import segment_members_q
from work.rules.condition_sql import arr_total, attribute_q
from work.rules.forms import LIST_MAX, TEXT_MAX, Errors, RuleBroken

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
MAX_CONDITIONS = 20
ATTRIBUTE_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_ -]{0,63}$")
NUMBER_LIMIT = 10**15
ID_MAX = 2**63 - 1


class Invalid(Exception):
    """One part of a condition is wrong: `part` (key or value) and why."""

    def __init__(self, part: str, message: str):
        super().__init__(message)
        self.part, self.message = part, message


def as_list(value) -> list:
    if value is None or value == "":
        return []
    return value if isinstance(value, list) else [value]


def is_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= ID_MAX


def _scalar(value, *, booleans: bool) -> object:
    """A bounded text or number (or a boolean where `booleans`)."""
    if isinstance(value, bool):
        if booleans:
            return value
    elif isinstance(value, str):
        if len(value) > TEXT_MAX:
            raise Invalid("value", f"At most {TEXT_MAX} characters.")
        return value
    elif isinstance(value, int | float):
        if not (math.isfinite(value) and -NUMBER_LIMIT <= value <= NUMBER_LIMIT):
            raise Invalid("value", "Use a number between -10^15 and 10^15.")
        return value
    raise Invalid("value", "Compare with a number or a text.")


def _tokens(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _json_or_text(text: str):
    """An attribute value typed in a box: JSON when it reads as JSON (5, true,
    "5"), else the text itself."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, int | float | bool | str) else text


class ConditionKind:
    """One condition field. `clean` checks a stored or posted condition's
    value (raising Invalid); `ids` lists the ids it names, checked against
    the workspace at save; `q` is its SQL; `from_text` / `text_of` are the
    editor's text box; `hints` the editor's suggestions."""

    name = ""
    label = ""
    ops: tuple[str, ...] = ("in", "not_in")
    has_key = False

    def clean(self, op: str, value, key):
        raise NotImplementedError

    def ids(self, value) -> list[int]:
        return []

    def missing_ids(self, wanted: set[int]) -> set[int]:
        return set()

    def missing_message(self, missing: list[int]) -> str:
        return ""

    def q(self, condition: dict, segments: dict[int, Segment]) -> Q:
        raise NotImplementedError

    def from_text(self, op: str, text: str):
        return text

    def text_of(self, value) -> str:
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        return "" if value is None else str(value)

    def hints(self) -> list[tuple[str, str]]:
        return []


class SegmentKind(ConditionKind):
    name, label = "segment", "Segment"

    def clean(self, op, value, key):
        if not is_id(value):
            raise Invalid("value", "Choose a segment (its id).")
        return value

    def ids(self, value):
        return [value]

    def missing_ids(self, wanted):
        return wanted - set(Segment.objects.filter(pk__in=wanted).values_list("pk", flat=True))

    def missing_message(self, missing):
        return "No such segment in this workspace."

    def q(self, condition, segments):
        segment = segments.get(condition["value"])
        # A segment deleted since the rule was saved matches nobody.
        q = Q(pk__in=[]) if segment is None else segment_members_q(segment)
        return ~q if condition["op"] == "not_in" else q

    def from_text(self, op, text):
        return int(text) if text.isdigit() else text

    def hints(self):
        return [(str(pk), name) for pk, name in Segment.objects.values_list("pk", "name")]


class ChoicesKind(ConditionKind):
    """tier, stage: a list of known values."""

    choices: list[tuple[str, str]] = []

    def clean(self, op, value, key):
        values = as_list(value)
        allowed = [v for v, _ in self.choices]
        if not values:
            raise Invalid("value", f"Choose at least one {self.name}.")
        if len(values) > LIST_MAX:
            raise Invalid("value", f"At most {LIST_MAX} items.")
        bad = [str(v)[:TEXT_MAX] for v in values if v not in allowed]
        if bad:
            raise Invalid(
                "value",
                f"Unknown {self.name}: {', '.join(bad)}. Choose from {', '.join(allowed)}.",
            )
        return values

    def q(self, condition, segments):
        q = Q(**{f"{self.name}__in": condition["value"]})
        return ~q if condition["op"] == "not_in" else q

    def from_text(self, op, text):
        return _tokens(text)

    def hints(self):
        return list(self.choices)


class TierKind(ChoicesKind):
    name, label, choices = "tier", "Tier", Tier.choices


class StageKind(ChoicesKind):
    name, label, choices = "stage", "Stage", Stage.choices


class OwnerKind(ConditionKind):
    name, label = "owner", "Owner"

    def clean(self, op, value, key):
        values = as_list(value)
        if not values or not all(is_id(v) for v in values):
            raise Invalid("value", "Owners are user ids of this workspace's members.")
        if len(values) > LIST_MAX:
            raise Invalid("value", f"At most {LIST_MAX} owners.")
        return values

    def ids(self, value):
        return list(value)

    def missing_ids(self, wanted):
        members = Membership.objects.filter(user_id__in=wanted).values_list("user_id", flat=True)
        return wanted - set(members)

    def missing_message(self, missing):
        return f"Not members of this workspace: {', '.join(map(str, missing))}."

    def q(self, condition, segments):
        q = Q(owner_id__in=condition["value"])
        return ~q if condition["op"] == "not_in" else q

    def from_text(self, op, text):
        """Owners typed as user ids or member emails."""
        tokens = _tokens(text)
        emails = [t for t in tokens if "@" in t and "\x00" not in t]  # a NUL: the check says
        by_email = {}
        if emails:
            by_email = {
                email.lower(): pk
                for pk, email in Membership.objects.filter(user__email__in=emails).values_list(
                    "user_id", "user__email"
                )
            }
        return [int(t) if t.isdigit() else by_email.get(t.lower(), t) for t in tokens]

    def hints(self):
        return [
            (str(pk), email)
            for pk, email in Membership.objects.values_list("user_id", "user__email")
        ]


class ArrKind(ConditionKind):
    name, label = "arr", "ARR (active contracts)"
    ops = ("gte", "lte", "between")

    def _amount(self, value) -> str:
        if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
            raise Invalid("value", "Enter an amount.")
        # The bounds (0 up to the column's digits) are Contract.arr's own.
        try:
            return str(model_formfield(Contract, "arr").clean(value))
        except ValidationError as error:
            raise Invalid("value", " ".join(error.messages)) from None

    def clean(self, op, value, key):
        if op != "between":
            return self._amount(value)
        pair = as_list(value)
        if len(pair) != 2:
            raise Invalid("value", "Give [minimum, maximum], two numbers.")
        low, high = (self._amount(v) for v in pair)
        if Decimal(low) > Decimal(high):
            raise Invalid("value", "The minimum is above the maximum.")
        return [low, high]

    def q(self, condition, segments):
        total, value = arr_total(), condition["value"]
        if condition["op"] == "between":
            low, high = (Decimal(v) for v in value)
            return Q(GreaterThanOrEqual(total, low)) & Q(LessThanOrEqual(total, high))
        lookup = GreaterThanOrEqual if condition["op"] == "gte" else LessThanOrEqual
        return Q(lookup(total, Decimal(value)))

    def from_text(self, op, text):
        return _tokens(text) if op == "between" else text


class AttributeKind(ConditionKind):
    name, label = "attribute", "Custom attribute"
    ops = ("eq", "ne", "gt", "gte", "lt", "lte", "contains", "exists")
    has_key = True

    def clean(self, op, value, key):
        if not isinstance(key, str) or not ATTRIBUTE_KEY.match(key) or "__" in key:
            raise Invalid(
                "key",
                "Name the attribute: a letter, then letters, digits, _, - or spaces "
                "(up to 64 characters, no __).",
            )
        if op == "exists":
            if value in (None, ""):
                return True
            if not isinstance(value, bool):
                raise Invalid("value", "true (the attribute is set) or false (missing).")
            return value
        return _scalar(value, booleans=op in ("eq", "ne"))

    def q(self, condition, segments):
        return attribute_q(condition["key"], condition["op"], condition.get("value"))

    def from_text(self, op, text):
        if op == "exists":
            return text.lower() not in ("false", "no", "0") if text else True
        return _json_or_text(text)

    def text_of(self, value):
        """The inverse of from_text, for showing a saved value in its box."""
        if isinstance(value, str):
            return json.dumps(value) if _json_or_text(value) != value else value
        if value is None:
            return ""
        return json.dumps(value)


KINDS: dict[str, ConditionKind] = {
    kind.name: kind
    for kind in (SegmentKind(), TierKind(), StageKind(), OwnerKind(), ArrKind(), AttributeKind())
}
FIELDS = {name: kind.label for name, kind in KINDS.items()}
OPS = {name: list(kind.ops) for name, kind in KINDS.items()}


def conditions_validate(conditions: object, *, check_ids: bool = True) -> tuple[list[dict], Errors]:
    """The cleaned conditions and their errors, keyed `conditions.<i>.<part>`.
    With `check_ids` (at save) segment and owner ids are checked against the
    workspace in context: an id of another workspace is "not found", like
    one that never existed."""
    if conditions is None:
        return [], {}
    if not isinstance(conditions, list):
        return [], {"conditions": ["Must be a list of conditions."]}
    if len(conditions) > MAX_CONDITIONS:
        return [], {"conditions": [f"At most {MAX_CONDITIONS} conditions."]}
    errors: Errors = {}
    clean: list[dict] = []
    named: dict[str, dict[int, list[int]]] = {}
    for i, raw in enumerate(conditions):
        at = f"conditions.{i}"
        if not isinstance(raw, dict):
            errors[at] = ["Each condition is an object with field, op and value."]
            continue
        unknown = set(raw) - {"field", "op", "value", "key"}
        if unknown:
            errors[at] = [f"Unknown parts: {', '.join(sorted(map(str, unknown)))[:TEXT_MAX]}."]
            continue
        kind = KINDS.get(raw.get("field")) if isinstance(raw.get("field"), str) else None
        if kind is None:
            errors[f"{at}.field"] = [f"Choose one of: {', '.join(KINDS)}."]
            continue
        op = raw.get("op")
        if op not in kind.ops:
            errors[f"{at}.op"] = [f"For {kind.label.lower()} choose one of: {', '.join(kind.ops)}."]
            continue
        try:
            value = kind.clean(op, raw.get("value"), raw.get("key"))
        except Invalid as invalid:
            errors[f"{at}.{invalid.part}"] = [invalid.message]
            continue
        item = {"field": kind.name, "op": op}
        if kind.has_key:
            item["key"] = raw["key"]
        item["value"] = value
        clean.append(item)
        if kind.ids(value):
            named.setdefault(kind.name, {})[i] = kind.ids(value)
    if check_ids:
        for name, by_index in named.items():
            kind = KINDS[name]
            missing = kind.missing_ids({pk for ids in by_index.values() for pk in ids})
            for i, ids in by_index.items():
                gone = [pk for pk in ids if pk in missing]
                if gone:
                    errors[f"conditions.{i}.value"] = [kind.missing_message(gone)]
    return clean, errors


def conditions_check(rule) -> None:
    """At run time: RuleBroken if the rule's stored conditions no longer pass
    the grammar (no database read)."""
    _clean, errors = conditions_validate(rule.conditions, check_ids=False)
    if errors:
        raise RuleBroken.from_errors(rule, errors)


def segments_for(conditions_lists: list[list[dict]]) -> dict[int, Segment]:
    """The segments these conditions name, in one query (none if none)."""
    ids = {
        c.get("value")
        for conds in conditions_lists
        for c in conds
        if isinstance(c, dict) and c.get("field") == "segment" and is_id(c.get("value"))
    }
    return {s.pk: s for s in Segment.objects.filter(pk__in=ids)} if ids else {}


def conditions_q(conditions: list[dict], segments: dict[int, Segment]) -> Q:
    """All of the conditions as one Q over Account (an empty list: every
    account). Stored conditions are taken as checked: run `conditions_check`
    first."""
    q = Q()
    for condition in conditions:
        q &= KINDS[condition["field"]].q(condition, segments)
    return q


def condition_summary(condition: dict, names: dict | None = None) -> str:
    """A short text of one condition for the rule list."""
    names = names or {}
    if not isinstance(condition, dict):
        return "?"
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
