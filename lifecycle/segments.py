"""Segments: saved filters over account fields, turned into one SQL WHERE.

The filters are a closed grammar, checked here and nowhere else: at save
(`validate_segment_filters`, called by `segment_save`) and again each time a
segment runs (`segment_members_q`), so a filter stored before the grammar
was closed, or edited in the database, is a `SegmentFilterBroken` naming the
segment, never a DataError or FieldError from deep inside a read.

Errors are keyed by dotted path (`filters.arr_min`,
`filters.attributes.region__regex`). A message or path never repeats text
that could not be encoded back (NUL, unpaired surrogates) or a long value.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Exists, ExpressionWrapper, F, OuterRef, Q
from django.db.models.fields.json import KeyTransform, KeyTransformExact
from django.utils import timezone

from csplatform.api.parsers import text_problem
from csplatform.errors import Conflict
from csplatform.tenancy.models import Membership
from lifecycle.models import Account, Contract, ContractStatus, Stage, Tier

CHOICES = {"stage": Stage.values, "tier": Tier.values}
MAX_CHOICES = 50
MAX_INDUSTRIES = 100
INDUSTRY_LENGTH = Account._meta.get_field("industry").max_length
ATTRIBUTES_FIELD = Account._meta.get_field("attributes")
MAX_OWNERS = 100
MAX_DAYS = 3650
MAX_ATTRIBUTES, ATTRIBUTE_VALUE_LENGTH = 20, 200
ATTRIBUTE_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_ -]{0,63}")
# Attribute numbers are compared as JSON numbers; past 2**53 a float no
# longer holds every integer, so larger ones are refused rather than rounded.
MAX_ATTRIBUTE_NUMBER = 2**53
MAX_ID = 2**63 - 1  # bigint: a larger id would be a DataError in the query

# ARR bounds come from the column the filter compares with.
_ARR = Contract._meta.get_field("arr")
ARR_PLACES = _ARR.decimal_places
ARR_MAX = Decimal(10) ** (_ARR.max_digits - ARR_PLACES) - Decimal(10) ** -ARR_PLACES
_ARR_STEP = Decimal(10) ** -ARR_PLACES
ARR_TEXT = re.compile(rf"[0-9]{{1,{_ARR.max_digits - ARR_PLACES}}}(\.[0-9]{{1,{ARR_PLACES}}})?")

FILTER_KEYS = (
    "stage",
    "tier",
    "industry",
    "owner",
    "arr_min",
    "arr_max",
    "renewal_within_days",
    "escalated",
    "attributes",
)

_NAMEABLE = re.compile(r"[A-Za-z0-9_ -]{1,100}")
UNSAFE_TEXT = "Contains a NUL character or an unpaired surrogate."


class SegmentFilterBroken(Conflict):
    """A saved segment whose filters no longer compile (saved before the
    grammar was closed, or edited in the database). Reads answer 409 naming
    the segment; background work records it and goes on with the next item."""

    default_code = "segment_broken"

    def __init__(self, *, segment_id: int, segment_name: str, reason: str):
        super().__init__(
            f"Segment \u201c{segment_name}\u201d (id {segment_id}) has a filter that "
            f"cannot run: {reason}",
            segment_id=segment_id,
            segment_name=segment_name,
            reason=reason,
        )


def _path(parent: str, key: object) -> str:
    """The dotted path of a key, when the key can be repeated safely in an
    error (no NUL, surrogate, dot or long text); else the parent's path."""
    return f"{parent}.{key}" if isinstance(key, str) and _NAMEABLE.fullmatch(key) else parent


def _is_text(value: object) -> bool:
    return isinstance(value, str) and text_problem(value) is None


def _shown(value: object) -> str:
    """A value as a message may repeat it: short, and only if encodable."""
    if isinstance(value, str):
        if text_problem(value):
            return "(unreadable text)"
        return f"\u201c{value[:40]}\u2026\u201d" if len(value) > 40 else f"\u201c{value}\u201d"
    if isinstance(value, bool | int | float) or value is None:
        text = repr(value)
        return text if len(text) <= 40 else text[:40] + "\u2026"
    return f"a {'list' if isinstance(value, list) else 'object'}"


def _as_list(value: object) -> list:
    return value if isinstance(value, list) else [value]


def _choices(key: str, value: object) -> tuple[list | None, str | None]:
    values = _as_list(value)
    if not values:
        return None, f"Choose at least one {key}."
    if len(values) > MAX_CHOICES:
        return None, f"At most {MAX_CHOICES} values."
    bad = [v for v in values if not (isinstance(v, str) and v in CHOICES[key])]
    if bad:
        return None, (
            f"Unknown {key}: {', '.join(_shown(v) for v in bad[:5])}. "
            f"Choose from {', '.join(CHOICES[key])}."
        )
    return values, None


def _industries(value: object) -> tuple[list | None, str | None]:
    values = _as_list(value)
    if not values:
        return None, "Give at least one industry."
    if len(values) > MAX_INDUSTRIES:
        return None, f"At most {MAX_INDUSTRIES} industries."
    if not all(isinstance(v, str) for v in values):
        return None, "Industries are strings."
    if not all(_is_text(v) for v in values):
        return None, UNSAFE_TEXT
    if any(len(v) > INDUSTRY_LENGTH for v in values):
        return None, f"An industry has at most {INDUSTRY_LENGTH} characters."
    return values, None


def _owner_ids(value: object) -> tuple[list | None, str | None]:
    values = _as_list(value)
    if not values:
        return None, "Give at least one owner."
    if len(values) > MAX_OWNERS:
        return None, f"At most {MAX_OWNERS} owners."
    if not all(isinstance(v, int) and not isinstance(v, bool) and 0 < v <= MAX_ID for v in values):
        return None, "Owners are user ids."
    return values, None


def _arr(value: object) -> tuple[str | None, str | None]:
    # Numbers, or numeric strings: stored filters keep ARR as a string.
    problem = f"Must be a number from 0 to {ARR_MAX:f} with at most {ARR_PLACES} decimal places."
    if isinstance(value, str):
        if not ARR_TEXT.fullmatch(value):
            return None, problem
        number = Decimal(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= ARR_MAX:  # compared as ints: no giant Decimal is made
            return None, problem
        number = Decimal(value)
    elif isinstance(value, float) and math.isfinite(value):
        number = Decimal(str(value))
    else:
        return None, problem
    if number < 0 or number > ARR_MAX or number != number.quantize(_ARR_STEP):
        return None, problem
    return f"{number.normalize():f}", None


def _days(value: object) -> tuple[int | None, str | None]:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DAYS:
        return None, f"Must be a whole number of days from 0 to {MAX_DAYS}."
    return value, None


def _flag(value: object) -> tuple[bool | None, str | None]:
    if not isinstance(value, bool):
        return None, "Must be true or false."
    return value, None


def _attribute_value(value: object) -> str | None:
    """The problem with one attribute value, or None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        if not _is_text(value):
            return UNSAFE_TEXT
        if len(value) > ATTRIBUTE_VALUE_LENGTH:
            return f"At most {ATTRIBUTE_VALUE_LENGTH} characters."
        return None
    if isinstance(value, int | float):
        # isfinite first: a float NaN compares false with everything.
        finite = isinstance(value, int) or math.isfinite(value)
        if not finite or abs(value) > MAX_ATTRIBUTE_NUMBER:
            return f"Must be a finite number from -2**53 to 2**53 ({MAX_ATTRIBUTE_NUMBER})."
        return None
    return "Must be a string, a number, true, false or null."


def _attributes(value: object, path: str, errors: dict) -> dict | None:
    if not isinstance(value, dict):
        errors[path] = ["Must be an object of attribute: value."]
        return None
    if not value:
        errors[path] = ["Give at least one attribute."]
        return None
    if len(value) > MAX_ATTRIBUTES:
        errors[path] = [f"At most {MAX_ATTRIBUTES} attributes."]
        return None
    clean = {}
    for key, item in value.items():
        key_path = _path(path, key)
        if not isinstance(key, str) or not ATTRIBUTE_KEY.fullmatch(key):
            errors.setdefault(key_path, []).append(
                "An attribute name starts with a letter and has at most 64 letters, "
                "digits, spaces, hyphens or underscores."
            )
        elif "__" in key:
            errors.setdefault(key_path, []).append(
                "An attribute name cannot contain \u201c__\u201d."
            )
        elif problem := _attribute_value(item):
            errors.setdefault(key_path, []).append(problem)
        else:
            clean[key] = item
    return clean


_CHECKS = {
    "stage": lambda v: _choices("stage", v),
    "tier": lambda v: _choices("tier", v),
    "industry": _industries,
    "owner": _owner_ids,
    "arr_min": _arr,
    "arr_max": _arr,
    "renewal_within_days": _days,
    "escalated": _flag,
}


def _check_members(owner_ids: list[int], path: str, errors: dict) -> None:
    """One query: every owner id is a member of the tenant in context."""
    members = set(
        Membership.objects.filter(user_id__in=owner_ids).values_list("user_id", flat=True)
    )
    strangers = [i for i in dict.fromkeys(owner_ids) if i not in members]
    if strangers:
        shown = ", ".join(str(i) for i in strangers[:10])
        errors[path] = [f"Not a member of this workspace: {shown}."]


def validate_segment_filters(
    filters: object, *, field: str = "filters", check_owners: bool = True
) -> dict:
    """A cleaned copy of the filters, or a ValidationError by dotted path.
    `check_owners` asks the database that each owner id is a member of the
    tenant in context (at save; a run only needs the ids to be ids)."""
    if not isinstance(filters, dict):
        raise ValidationError({field: ["Filters must be an object."]})
    if not filters or len(filters) > len(FILTER_KEYS):
        # More keys than the grammar has: some are unknown, and no list of
        # errors is built for each of a million of them.
        raise ValidationError({field: [f"Give one or more of: {', '.join(FILTER_KEYS)}."]})
    errors: dict[str, list[str]] = {}
    clean: dict = {}
    for key, value in filters.items():
        path = _path(field, key)
        if key == "attributes":
            attributes = _attributes(value, path, errors)
            if attributes is not None:
                clean[key] = attributes
        elif key in _CHECKS:
            cleaned, problem = _CHECKS[key](value)
            if problem:
                errors[path] = [problem]
            else:
                clean[key] = cleaned
        else:
            errors.setdefault(path, []).append(
                f"Unknown filter. The filters are: {', '.join(FILTER_KEYS)}."
            )
    if (
        "arr_min" in clean
        and "arr_max" in clean
        and Decimal(clean["arr_min"]) > Decimal(clean["arr_max"])
    ):
        errors[f"{field}.arr_max"] = ["Must be at least arr_min."]
    if check_owners and "owner" in clean:
        _check_members(clean["owner"], f"{field}.owner", errors)
    if errors:
        raise ValidationError(errors)
    return clean


def filters_json_schema() -> dict:
    """The grammar as JSON Schema, for the API's documentation. Drawn from the
    same bounds as the checks above; what a schema cannot say (text without
    NUL, owners who are members, arr_min <= arr_max) is in the description."""

    def one_or_many(item: dict, most: int) -> dict:
        return {"oneOf": [item, {"type": "array", "items": item, "minItems": 1, "maxItems": most}]}

    arr = {
        "oneOf": [
            {"type": "number", "minimum": 0, "maximum": float(ARR_MAX)},
            {"type": "string", "pattern": f"^{ARR_TEXT.pattern}$"},
        ],
        "description": f"At most {ARR_PLACES} decimal places",
    }
    days = {"type": "integer", "minimum": 0, "maximum": MAX_DAYS}
    owner = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
    # OpenAPI 3.0: null is `nullable`, and attribute names cannot be given a
    # pattern (no propertyNames), so their rule is in the description.
    attribute_value = {
        "oneOf": [
            {"type": "string", "maxLength": ATTRIBUTE_VALUE_LENGTH},
            {"type": "number", "minimum": -MAX_ATTRIBUTE_NUMBER, "maximum": MAX_ATTRIBUTE_NUMBER},
            {"type": "boolean"},
        ],
        "nullable": True,
    }
    return {
        "type": "object",
        "minProperties": 1,
        "additionalProperties": False,
        "description": "Accounts matching all of the given filters. Text has no NUL "
        "characters or unpaired surrogates; owners are members of the workspace; "
        "arr_min is at most arr_max.",
        "properties": {
            "stage": one_or_many({"type": "string", "enum": Stage.values}, MAX_CHOICES),
            "tier": one_or_many({"type": "string", "enum": Tier.values}, MAX_CHOICES),
            "industry": one_or_many(
                {"type": "string", "maxLength": INDUSTRY_LENGTH}, MAX_INDUSTRIES
            ),
            "owner": one_or_many(owner, MAX_OWNERS),
            "arr_min": arr,
            "arr_max": arr,
            "renewal_within_days": days,
            "escalated": {"type": "boolean"},
            "attributes": {
                "type": "object",
                "minProperties": 1,
                "maxProperties": MAX_ATTRIBUTES,
                "description": "Names start with a letter and have at most 64 letters, "
                "digits, spaces, hyphens or underscores, never two underscores in a row",
                "additionalProperties": attribute_value,
            },
        },
    }


def _attribute_q(key: str, value: object) -> Q:
    # Built from the key as data, not parsed as `attributes__<key>`: a key
    # such as "contains" or "isnull" is then an attribute, not a lookup.
    # The column's field is named so the value is adapted as JSON when the
    # lookup is built, as `attributes__<key>=value` would do.
    attributes = ExpressionWrapper(F("attributes"), output_field=ATTRIBUTES_FIELD)
    return Q(KeyTransformExact(KeyTransform(key, attributes), value))


def _filters_q(filters: dict) -> Q:
    """One Q over Account for filters that passed the grammar (AND of all keys)."""
    q = Q()
    if "stage" in filters:
        q &= Q(stage__in=filters["stage"])
    if "tier" in filters:
        q &= Q(tier__in=filters["tier"])
    if "industry" in filters:
        q &= Q(industry__in=filters["industry"])
    if "owner" in filters:
        q &= Q(owner_id__in=filters["owner"])
    if "escalated" in filters:
        q &= Q(is_escalated=filters["escalated"])
    for key, value in filters.get("attributes", {}).items():
        q &= _attribute_q(key, value)
    active = Contract.objects.filter(account=OuterRef("pk"), status=ContractStatus.ACTIVE)
    if "arr_min" in filters:
        q &= Exists(active.filter(arr__gte=Decimal(filters["arr_min"])))
    if "arr_max" in filters:
        q &= Exists(active.filter(arr__lte=Decimal(filters["arr_max"])))
    if "renewal_within_days" in filters:
        today = timezone.localdate()
        horizon = today + timedelta(days=filters["renewal_within_days"])
        q &= Exists(active.filter(renewal_date__gte=today, renewal_date__lte=horizon))
    return q


def segment_members_q(segment) -> Q:
    """One Q over Account for the segment's members. The stored filters are
    checked again with the save's grammar (owners as ids only: no query), so a
    filter that no longer passes is a SegmentFilterBroken naming the segment."""
    try:
        filters = validate_segment_filters(segment.filters, check_owners=False)
    except ValidationError as error:
        reason = "; ".join(
            f"{path.removeprefix('filters.')}: {' '.join(messages)}"
            for path, messages in error.message_dict.items()
        )
        raise SegmentFilterBroken(
            segment_id=segment.pk, segment_name=segment.name, reason=reason
        ) from error
    return _filters_q(filters)
