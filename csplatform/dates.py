"""Sane bounds for dates people and integrations give us, written once:
from 2000-01-01 to five years from today. Every model field or service that
stores such a date reads them from here (work's due dates, snoozes and time
entries through `work.models.limits.WorkDayValidator`, NPS answers through
`date_in_range`), so a typo such as 0202-01-01 or 20266-01-01 is refused by
field instead of being stored, sorted first for ever, or overflowing."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.utils import timezone

EARLIEST_DAY = dt.date(2000, 1, 1)
YEARS_AHEAD = 5


def latest_day(today: dt.date | None = None) -> dt.date:
    today = today or timezone.localdate()
    try:
        return today.replace(year=today.year + YEARS_AHEAD)
    except ValueError:  # 29 February
        return today.replace(year=today.year + YEARS_AHEAD, day=28)


def out_of_range_message(low: dt.date, high: dt.date) -> str:
    return f"Choose a day from {low:%Y-%m-%d} to {high:%Y-%m-%d}."


def date_in_range(
    value: dt.date | dt.datetime | None,
    *,
    field: str,
    not_before: dt.date | None = None,
    not_after: dt.date | None = None,
) -> None:
    """Raise ValidationError({field: ...}) unless `value` lies within the
    bounds, narrowed by `not_before` / `not_after` where a date must be."""
    if value is None:
        return
    day = value.date() if isinstance(value, dt.datetime) else value
    low = max(EARLIEST_DAY, not_before) if not_before else EARLIEST_DAY
    high = min(latest_day(), not_after) if not_after else latest_day()
    if not low <= day <= high:
        raise ValidationError({field: [out_of_range_message(low, high)]})
