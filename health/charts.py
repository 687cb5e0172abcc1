"""Server-rendered SVG charts: plain geometry for a template, no chart library."""

from __future__ import annotations

import math
from datetime import timedelta

WIDTH, HEIGHT = 640, 190
LEFT, RIGHT, TOP, BOTTOM = 48, 48, 12, 30


def nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten at or above `value` (at
    least 1), so the axis reads 0 / 50 / 100 rather than 0 / 43.5 / 87."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power  # pragma: no cover (the loop always returns)


def usage_chart(series: list[dict]) -> dict:
    """Bars for events per day (left axis) and a line for daily active users
    (right axis) over `series` ({"day", "events", "active_users"} per day)."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    base = TOP + plot_h
    events_max = nice_ceiling(max((p["events"] for p in series), default=0))
    users_max = nice_ceiling(max((p["active_users"] for p in series), default=0))
    step = plot_w / max(len(series), 1)
    bars, points = [], []
    for i, point in enumerate(series):
        centre = LEFT + step * (i + 0.5)
        if point["events"]:
            height = plot_h * point["events"] / events_max
            bars.append(
                {
                    "x": round(centre - step * 0.4, 1),
                    "y": round(base - height, 1),
                    "width": round(step * 0.8, 1),
                    "height": round(height, 1),
                    "point": point,
                }
            )
        users_y = base - plot_h * point["active_users"] / users_max
        points.append(f"{round(centre, 1)},{round(users_y, 1)}")
    ticks = [
        {
            "y": round(base - plot_h * share, 1),
            "events": events_max * share,
            "users": users_max * share,
        }
        for share in (0, 0.5, 1)
    ]
    last = len(series) - 1
    x_labels = [
        {"x": round(LEFT + step * (i + 0.5), 1), "day": series[i]["day"]}
        for i in sorted({0, last // 2, last})
        if series
    ]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "label_y": HEIGHT - 8,
        "bars": bars,
        "users_line": " ".join(points),
        "ticks": ticks,
        "x_labels": x_labels,
    }


def score_trend_chart(
    history: list[dict], *, days: int, today, red_below: int | None, green_from: int | None
) -> dict:
    """A line of the daily score (0-100) over the last `days` days, placed by
    date so gaps stay gaps, with the profile's band thresholds as guide lines.
    `history` is score_history's rows ({"day", "score", "band"} per day)."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    base = TOP + plot_h
    first = today - timedelta(days=days - 1)
    step = plot_w / max(days - 1, 1)

    def x_of(day) -> float:
        return round(LEFT + step * (day - first).days, 1)

    def y_of(score: float) -> float:
        return round(base - plot_h * score / 100, 1)

    points = [
        {"x": x_of(row["day"]), "y": y_of(row["score"]), "row": row}
        for row in history
        if row["score"] is not None and first <= row["day"] <= today
    ]
    guides = [
        {"y": y_of(value), "value": value, "label": label}
        for value, label in ((red_below, "red below"), (green_from, "green from"))
        if value is not None
    ]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "label_y": HEIGHT - 8,
        "line": " ".join(f"{p['x']},{p['y']}" for p in points),
        "points": points,
        "ticks": [{"y": y_of(value), "value": value} for value in (0, 50, 100)],
        "guides": guides,
        "x_labels": [
            {"x": x_of(day), "day": day}
            for day in (first, first + timedelta(days=days // 2), today)
        ],
    }
