"""Limits of work's fields, written once: the model fields carry these
validators, and services, forms and serializers are derived from the fields
(see csplatform.validation and csplatform.api.model_fields), so changing a limit touches this
file only."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.deconstruct import deconstructible

from csplatform.dates import EARLIEST_DAY, latest_day, out_of_range_message

ESTIMATE_MIN, ESTIMATE_MAX = 1, 10_000
_ESTIMATE = f"Estimate {ESTIMATE_MIN} to {ESTIMATE_MAX:,} minutes."
ESTIMATE_ERRORS = {"invalid": _ESTIMATE}
ESTIMATE_VALIDATORS = [
    MinValueValidator(ESTIMATE_MIN, _ESTIMATE),
    MaxValueValidator(ESTIMATE_MAX, _ESTIMATE),
]

_MINUTES = "Log between 1 and 1,440 minutes."
TIME_ENTRY_MINUTES_VALIDATORS = [MinValueValidator(1, _MINUTES), MaxValueValidator(1440, _MINUTES)]

_OFFSET = "Give 0 to 730 days."
DUE_OFFSET_VALIDATORS = [MinValueValidator(0, _OFFSET), MaxValueValidator(730, _OFFSET)]
_POSITION = "Give a position from 0 to 10,000."
POSITION_VALIDATORS = [MinValueValidator(0, _POSITION), MaxValueValidator(10_000, _POSITION)]

_HOURS = "Give the hours a week, between 0 and 168."
WEEKLY_HOURS_VALIDATORS = [MinValueValidator(0, _HOURS), MaxValueValidator(168, _HOURS)]
_SHARE = "Give a whole percentage from 0 to 90."
UNPLANNED_SHARE_VALIDATORS = [MinValueValidator(0, _SHARE), MaxValueValidator(90, _SHARE)]
_COOLDOWN = "Enter whole hours from 0 to 8,760."
COOLDOWN_ERRORS = {"invalid": _COOLDOWN}
COOLDOWN_VALIDATORS = [MinValueValidator(0, _COOLDOWN), MaxValueValidator(24 * 365, _COOLDOWN)]
RULE_DESCRIPTION_MAX = 2000

PRIORITY_ERRORS = {"invalid_choice": "Choose urgent, high, normal or low."}


@deconstructible
class WorkDayValidator:
    """A day work is planned or logged on: from 2000-01-01 to five years
    from today (a due date, a snooze, a time entry). Later dates are typos,
    and would make the capacity pages walk years of weeks."""

    def __call__(self, value: dt.date) -> None:
        latest = latest_day()
        if not EARLIEST_DAY <= value <= latest:
            raise ValidationError(
                out_of_range_message(EARLIEST_DAY, latest), code="day_out_of_range"
            )

    def __eq__(self, other) -> bool:
        return isinstance(other, WorkDayValidator)

    def __hash__(self) -> int:
        return hash(WorkDayValidator)


work_day = WorkDayValidator()
