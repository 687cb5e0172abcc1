"""Sane bounds for dates people and integrations give us: one rule, used by
every service that stores a date (due dates, snoozes, time entries, answers),
so that a typo such as 0202-01-01 or 20266-01-01 is refused by field instead
of being stored, sorted first for ever, or overflowing a date column."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.utils import timezone

EARLIEST = dt.date(2000, 1, 1)
YEARS_AHEAD = 5


def latest(today: dt.date | None = None) -> dt.date:
    today = today or timezone.localdate()
    return today.replace(year=today.year + YEARS_AHEAD, day=min(today.day, 28))


def date_in_range(
    value: dt.date | dt.datetime | None,
    *,
    field: str,
    not_before: dt.date | None = None,
    not_after: dt.date | None = None,
) -> None:
    """Raise ValidationError({field: ...}) unless `value` lies within the bounds
    (by default 2000-01-01 to five years from today)."""
    if value is None:
        return
    day = value.date() if isinstance(value, dt.datetime) else value
    low = max(EARLIEST, not_before) if not_before else EARLIEST
    high = not_after or latest()
    if day < low:
        raise ValidationError({field: [f"Give a date on or after {low.isoformat()}."]})
    if day > high:
        raise ValidationError({field: [f"Give a date on or before {high.isoformat()}."]})
