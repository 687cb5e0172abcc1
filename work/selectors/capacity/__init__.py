"""Capacity planning for CS leaders: planned load against capacity per CSM
for the next six ISO weeks, overdue counts, planned vs completed over the
last four weeks, estimate accuracy per playbook step, and a rebalance
suggestion. Every figure comes from a fixed number of set-based statements
(grouped by assignee and week), whatever the number of CSMs or tasks:

  members, out-of-office ranges, settings, open load, planned (last 4 weeks),
  completed (last 4 weeks), logged time (last 4 weeks), estimate accuracy,
  and one for rebalance candidates when someone is over in the current or
  next week while someone who takes assignments has room that week.

Definitions (also on the page):

- Weeks are ISO weeks, Monday to Sunday; the plan covers the current week and
  the five after it. Open tasks (open or in progress) due before today are
  overdue: they count in the current week's load and are counted apart.
  Overdue is judged by the original due date: a task snoozed after it fell
  due is still overdue here (its load counts in the week it was snoozed to).
  The CSM's queue buckets by the current due date instead (a snoozed task
  leaves the overdue bucket) and its row says "snoozed until …, due …".
- Capacity of a CSM in a week = weekly capacity hours x (weekdays of that
  week not out of office / 5). Out-of-office ranges include both ends.
- Planned load = estimated minutes of the CSM's open tasks due that week / 60
  + the tenant's unplanned share (WorkSettings, 20 % without a row) of that
  week's capacity. Over capacity when load > capacity; utilization is
  load / capacity (no capacity but some load: over, no percentage).
- Members: CSM profiles that take assignments, plus any member (csm and up)
  with open tasks. A member without a profile counts 40 h a week.
- Last four weeks: planned = tasks whose original due date fell in the week,
  by their assignee; completed = tasks done with closed_at in the week;
  logged = time entries by the person who logged them, by logged_on.
"""

from __future__ import annotations

import datetime as dt

from work.selectors.capacity.accuracy import StepAccuracy, estimate_accuracy
from work.selectors.capacity.plan import (
    CapacityReport,
    CsmCapacity,
    PastWeek,
    WeekLoad,
    capacity_plan,
    unplanned_share_percent,
    week_start,
)
from work.selectors.capacity.rebalance import Suggestion, rebalance_suggestions

__all__ = [
    "CapacityReport",
    "CsmCapacity",
    "PastWeek",
    "StepAccuracy",
    "Suggestion",
    "WeekLoad",
    "capacity_plan",
    "capacity_report",
    "estimate_accuracy",
    "rebalance_suggestions",
    "unplanned_share_percent",
    "week_start",
]


def capacity_report(*, today: dt.date | None = None) -> CapacityReport:
    """Everything the capacity page and GET /api/v1/capacity/ show."""
    plan = capacity_plan(today=today)
    plan.accuracy = estimate_accuracy(today=plan.today)
    plan.suggestions = rebalance_suggestions(plan)
    return plan
