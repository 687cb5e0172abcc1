"""The usage chart's geometry: what the SVG draws is what the data says."""

from datetime import date, timedelta

from health.charts import HEIGHT, LEFT, TOP, WIDTH, nice_ceiling, usage_chart

BOTTOM_Y = HEIGHT - 30  # the x axis


def series(points):
    start = date(2026, 1, 1)
    return [
        {"day": start + timedelta(days=i), "events": events, "active_users": users}
        for i, (events, users) in enumerate(points)
    ]


def test_axis_tops_are_round_numbers():
    assert [nice_ceiling(v) for v in (0, 1, 3, 10, 11, 43, 120, 501)] == [
        1,
        1,
        5,
        10,
        20,
        50,
        200,
        1000,
    ]


def test_bars_scale_to_the_events_and_skip_empty_days():
    chart = usage_chart(series([(10, 1), (0, 0), (5, 2), (20, 4)]))
    heights = {bar["point"]["events"]: bar["height"] for bar in chart["bars"]}
    assert set(heights) == {10, 5, 20}  # no bar for the empty day
    plot_h = BOTTOM_Y - TOP
    assert heights[20] == plot_h  # 20 is the axis top
    assert heights[10] == plot_h / 2 and heights[5] == plot_h / 4
    assert all(bar["y"] + bar["height"] == BOTTOM_Y for bar in chart["bars"])
    assert [tick["events"] for tick in chart["ticks"]] == [0, 10, 20]


def test_active_users_line_has_a_point_per_day_in_order():
    chart = usage_chart(series([(0, 0), (0, 5), (0, 10)]))
    points = [tuple(map(float, p.split(","))) for p in chart["users_line"].split()]
    assert [y for _, y in points] == [BOTTOM_Y, (BOTTOM_Y + TOP) / 2, TOP]
    xs = [x for x, _ in points]
    assert xs == sorted(xs) and xs[0] > LEFT and xs[-1] < WIDTH
    assert [label["day"] for label in chart["x_labels"]] == [
        date(2026, 1, 1),
        date(2026, 1, 2),
        date(2026, 1, 3),
    ]
