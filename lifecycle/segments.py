"""Segments: saved filters over account fields, turned into one SQL WHERE."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from csplatform.errors import Conflict
from lifecycle.models import Contract, ContractStatus, Stage, Tier

LIST_KEYS = {"stage": Stage.values, "tier": Tier.values}


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


def validate_segment_filters(filters: object) -> dict:
    """Return a cleaned copy, or raise ValidationError naming the bad key."""
    if not isinstance(filters, dict):
        raise ValidationError({"filters": ["Filters must be an object."]})
    errors: dict[str, list[str]] = {}
    clean: dict = {}
    for key, value in filters.items():
        if key in LIST_KEYS:
            values = value if isinstance(value, list) else [value]
            bad = [v for v in values if v not in LIST_KEYS[key]]
            if bad:
                errors[key] = [f"Unknown {key}: {', '.join(map(str, bad))}."]
            clean[key] = values
        elif key == "industry":
            clean[key] = [str(v) for v in (value if isinstance(value, list) else [value])]
        elif key == "owner":
            values = value if isinstance(value, list) else [value]
            if not all(isinstance(v, int) for v in values):
                errors[key] = ["Owners are user ids."]
            clean[key] = values
        elif key in {"arr_min", "arr_max"}:
            try:
                clean[key] = str(Decimal(str(value)))
            except InvalidOperation:
                errors[key] = ["Must be a number."]
        elif key == "renewal_within_days":
            if not isinstance(value, int) or value < 0:
                errors[key] = ["Must be a whole number of days, 0 or more."]
            clean[key] = value
        elif key == "escalated":
            if not isinstance(value, bool):
                errors[key] = ["Must be true or false."]
            clean[key] = value
        elif key == "attributes":
            if not isinstance(value, dict):
                errors[key] = ["Must be an object of attribute: value."]
            clean[key] = value
        else:
            errors[key] = ["Unknown filter."]
    if errors:
        raise ValidationError({"filters": [f"{k}: {' '.join(v)}" for k, v in errors.items()]})
    return clean


def segment_q(filters: dict) -> Q:
    """One Q over Account for the segment's filters (AND of all keys)."""
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
        q &= Q(**{f"attributes__{key}": value})
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
