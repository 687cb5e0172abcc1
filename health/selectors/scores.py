"""Reads of health scores that pages and the API share: the score card with
its working, history, and scores for many accounts at once."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.utils import timezone

from health.measures import BY_NAME, shown_inputs
from health.models import Band, HealthScore, HealthSnapshot
from lifecycle.models import Account


@dataclass(frozen=True)
class MeasureLine:
    """One row of the breakdown, ready to show: what was measured, what it
    scored, and what it weighed."""

    measure: str
    label: str
    unit: str
    raw: float | None
    inputs: dict
    points: float | None
    weight: int
    share: float | None  # % of the score this measure carries after re-weighting
    contribution: float | None  # points it adds to the score
    missing: bool
    points_week_ago: float | None = None
    measured: str = ""  # what was measured, in words ("12 of 30 days active")

    @property
    def change_since_last_week(self) -> float | None:
        if self.points is None or self.points_week_ago is None:
            return None
        return round(self.points - self.points_week_ago, 1)


@dataclass(frozen=True)
class ScoreCard:
    account_id: int
    score: int | None
    band: str
    band_label: str
    profile: str
    scored_at: object
    lines: list[MeasureLine]
    score_week_ago: int | None = None
    missing: list[str] = field(default_factory=list)

    @property
    def left_out(self) -> list[tuple[str, str]]:
        """The measures left out of the score for want of data, each with why
        ("no usage received yet"), heaviest first."""
        return [(line.label, line.measured) for line in self.lines if line.missing]

    @property
    def reweighted(self) -> bool:
        """True when some measures had no data and the rest carry the score."""
        return bool(self.missing)

    @property
    def change_since_last_week(self) -> int | None:
        if self.score is None or self.score_week_ago is None:
            return None
        return self.score - self.score_week_ago


def _tenth(value: float) -> float:
    """Rounded to 0.1, halves up (as people round, and as PostgreSQL does)."""
    return math.floor(value * 10 + 0.5) / 10


def _lines(breakdown: list[dict], week_ago: dict, inputs: dict) -> list[MeasureLine]:
    """The stored working, with each measure's share of the score and the
    points it adds (both follow from points and weights after leaving out the
    measures without data)."""
    present = sum(p.get("weight", 0) for p in breakdown if p.get("points") is not None)
    lines = []
    # Stored in a fixed measure order; shown heaviest first.
    for part in sorted(breakdown, key=lambda p: (-p.get("weight", 0), p["measure"])):
        points, weight = part.get("points"), part.get("weight", 0)
        counted = points is not None and present > 0
        # A measure since removed from the table still shows, by its name.
        spec = BY_NAME.get(part["measure"])
        shown = shown_inputs(part["measure"], inputs)
        missing = bool(part.get("missing"))
        lines.append(
            MeasureLine(
                measure=part["measure"],
                label=spec.label if spec else part["measure"],
                unit=spec.unit if spec else "",
                raw=part.get("raw"),
                inputs=shown,
                points=points,
                weight=weight,
                share=_tenth(100 * weight / present) if counted else None,
                contribution=_tenth(points * weight / present) if counted else None,
                missing=missing,
                points_week_ago=week_ago.get(part["measure"]),
                measured=spec.describe(shown, part.get("raw"), missing) if spec else "",
            )
        )
    return lines


def score_card(account: Account, *, today: date | None = None) -> ScoreCard | None:
    """The account's current score with its working and what changed since
    the snapshot of a week ago (two queries); None before the first score."""
    score = HealthScore.objects.select_related("profile").filter(account=account).first()
    if score is None:
        return None
    week_ago_day = (today or timezone.now().date()) - timedelta(days=7)
    then = (
        HealthSnapshot.objects.filter(account=account, day__lte=week_ago_day)
        .order_by("-day", "-taken_at")
        .first()
    )
    lines = _lines(score.breakdown, then.points if then else {}, score.inputs)
    return ScoreCard(
        account_id=account.pk,
        score=score.score,
        band=score.band,
        band_label=dict(Band.choices).get(score.band, "No data"),
        profile=score.profile.name if score.profile else "",
        scored_at=score.scored_at,
        lines=lines,
        score_week_ago=then.score if then else None,
        missing=[line.label for line in lines if line.missing],
    )


def score_history(account: Account, *, days: int = 90) -> list[dict]:
    """One point per day for the trend line: the day's last snapshot."""
    since = timezone.now().date() - timedelta(days=days - 1)
    rows = (
        HealthSnapshot.objects.filter(account=account, day__gte=since)
        .order_by("day", "taken_at")
        .values("day", "score", "band", "reason", "taken_at")
    )
    by_day: dict[date, dict] = {}
    for row in rows:
        by_day[row["day"]] = row  # later snapshots of a day win
    return list(by_day.values())


def scores_for(account_ids: list[int]) -> dict[int, HealthScore]:
    """Current scores of many accounts in one query (queues, lists)."""
    return {
        s.account_id: s
        for s in HealthScore.objects.filter(account_id__in=account_ids).only(
            "account_id", "score", "band", "scored_at"
        )
    }
