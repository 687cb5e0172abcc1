"""The one week rule of work management: ISO weeks, Monday to Sunday. The
queue's "this week", assignment's weekly load and the capacity plan all
count by it."""

from __future__ import annotations

import datetime as dt


def iso_week(day: dt.date) -> tuple[dt.date, dt.date]:
    """Monday and Sunday of the ISO week holding `day`."""
    monday = day - dt.timedelta(days=day.weekday())
    return monday, monday + dt.timedelta(days=6)
