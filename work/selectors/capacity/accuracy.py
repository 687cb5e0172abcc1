"""Estimate accuracy per playbook step: how long its tasks really took
against their estimates, from the time logged on them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Aggregate, Count, F, FloatField
from django.db.models.functions import Cast
from django.utils import timezone

from work.models import Task, TaskStatus
from work.models.limits import ESTIMATE_MAX, ESTIMATE_MIN

ACCURACY_DAYS = 180
RELIABLE_SAMPLES = 3


@dataclass
class StepAccuracy:
    step_id: int
    playbook_id: int
    playbook_name: str
    step_title: str
    position: int
    samples: int
    median_ratio: float  # median of logged / estimated minutes
    median_actual_minutes: float
    current_estimate: int
    suggested_estimate: int

    @property
    def reliable(self) -> bool:
        return self.samples >= RELIABLE_SAMPLES

    @property
    def differs(self) -> bool:
        return self.suggested_estimate != self.current_estimate


class Median(Aggregate):
    """percentile_cont(0.5) of an expression, as a float."""

    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def estimate_accuracy(*, today: dt.date | None = None) -> list[StepAccuracy]:
    """Per playbook step, over its done tasks with time logged and closed in
    the last 180 days: the median of logged / estimated minutes, the median
    logged minutes and a suggested estimate (that median, rounded). Steps
    with at least three samples first, the furthest off first. One statement."""
    today = today or timezone.localdate()
    since = dt.datetime.combine(
        today - dt.timedelta(days=ACCURACY_DAYS),
        dt.time.min,
        tzinfo=timezone.get_current_timezone(),
    )
    logged = Cast(F("logged_minutes"), FloatField())
    rows = (
        Task.objects.filter(
            status=TaskStatus.DONE, step__isnull=False, logged_minutes__gt=0, closed_at__gte=since
        )
        .values(
            "step_id",
            "step__title",
            "step__position",
            "step__estimated_minutes",
            "step__playbook_id",
            "step__playbook__name",
        )
        .annotate(
            samples=Count("id"),
            ratio=Median(logged / Cast(F("estimated_minutes"), FloatField())),
            actual=Median(logged),
        )
        .order_by()
    )
    found = [
        StepAccuracy(
            step_id=r["step_id"],
            playbook_id=r["step__playbook_id"],
            playbook_name=r["step__playbook__name"],
            step_title=r["step__title"],
            position=r["step__position"],
            samples=r["samples"],
            median_ratio=r["ratio"],
            median_actual_minutes=r["actual"],
            current_estimate=r["step__estimated_minutes"],
            # Within the estimate's own bounds (work.models.limits).
            suggested_estimate=min(
                ESTIMATE_MAX,
                max(
                    ESTIMATE_MIN,
                    int(Decimal(str(r["actual"])).quantize(Decimal(1), ROUND_HALF_UP)),
                ),
            ),
        )
        for r in rows
    ]
    found.sort(
        key=lambda s: (
            not s.reliable,
            -abs(s.median_ratio - 1),
            s.playbook_name,
            s.position,
            s.step_id,
        )
    )
    return found
