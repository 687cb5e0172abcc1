"""Reads that pages and the API share; callers import from `work.selectors`,
the modules below only split it by concern."""

from work.selectors.capacity import (
    CapacityReport,
    CsmCapacity,
    PastWeek,
    StepAccuracy,
    Suggestion,
    WeekLoad,
    capacity_plan,
    capacity_report,
    estimate_accuracy,
    rebalance_suggestions,
    unplanned_share_percent,
)

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
]
