"""The measures a health score is made of, one spec each. Everything else is
derived from this table: the model's choices, the scoring statement's
per-measure columns (health.scoring), the order of the breakdown, a new
profile's default thresholds, the names a profile may use, and the card's
label, unit, inputs and sentence. Adding a measure is one entry here (and,
when it needs a signal no measure reads yet, that signal's CTE in
health.scoring).

Kept free of model imports: health.models builds its choices from it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

ESCALATION_TICKETS = 5  # an open escalation weighs as much as five tickets


@dataclass(frozen=True)
class Figure:
    """A figure a measure is computed from: a column of the statement's
    `facts` (SQL over its signal CTEs), kept in the score's inputs under
    `column` and shown on the card as `shown_as`. Internal figures only
    decide whether the measure has data."""

    column: str
    sql: str
    shown_as: str = ""
    internal: bool = False

    @property
    def name(self) -> str:
        return self.shown_as or self.column


@dataclass(frozen=True)
class MeasureSpec:
    name: str
    label: str
    unit: str  # what the raw value counts
    bad: float  # a new profile's thresholds: the raw value worth 0 points ...
    good: float  # ... and 100 points (under bad: lower is better)
    raw: str  # SQL over the facts row `f`; NULL when the account has no data
    figures: tuple[Figure, ...]
    # The card's sentence: (inputs by shown name, raw value, missing) -> text
    describe: Callable[[Mapping, float | None, bool], str]
    # When the measure has no data (its raw SQL yields NULL), in words: it is
    # then left out of the score and the rest re-weighted, never a zero.
    missing_when: str = ""


def _plural(n, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# Usage measures have data once an account has sent any usage at all; after
# that, a quiet month is a zero, not a gap.
HAS_USAGE = Figure("has_usage", "ever.account_id IS NOT NULL", internal=True)


def _usage_frequency(i, raw, missing) -> str:
    if missing:
        return "no usage received yet"
    return f"{i.get('active_days', 0)} of {i.get('days', 30)} days active"


def _breadth(i, raw, missing) -> str:
    if not i.get("key_features"):
        return "no key features in the catalogue"
    if missing:
        return "no usage received yet"
    return f"{i.get('used', 0)} of {i['key_features']} key features"


def _trend(i, raw, missing) -> str:
    if missing and not i.get("last_30") and not i.get("previous_30"):
        return "no usage in the last 60 days"
    if missing:
        return f"{i['last_30']} events in the last 30 days, none in the 30 before"
    return (
        f"{i.get('last_30', 0)} events in the last 30 days vs "
        f"{i.get('previous_30', 0)} in the 30 before"
    )


def _license(i, raw, missing) -> str:
    if not i.get("seats"):
        return "no seats on an active contract"
    if missing:  # seats, but never any usage: unknown, not 0 of them active
        return f"no usage received yet, {i['seats']} seats"
    return f"{_plural(i.get('active_users', 0), 'active user')} / {i['seats']} seats"


def _nps(i, raw, missing) -> str:
    if not i.get("responses"):
        return "no NPS answers"
    return f"NPS {round(raw) if raw is not None else 0} from {_plural(i['responses'], 'answer')}"


def _support(i, raw, missing) -> str:
    text = f"{_plural(i.get('tickets', 0), 'ticket')} in 30 days"
    return text + (", open escalation" if i.get("open_escalation") else "")


def _engagement(i, raw, missing) -> str:
    if missing or raw is None:
        return "no CSM contact recorded"
    days = int(raw)
    return "last contact today" if days == 0 else f"last contact {_plural(days, 'day')} ago"


def _sentiment(i, raw, missing) -> str:
    from health.models import Band  # the model imports this module

    if not i.get("value"):
        return "not set by the CSM"
    return f"{Band(i['value']).label}: {i.get('comment') or ''}".strip().rstrip(":")


def _outcomes(i, raw, missing) -> str:
    if not i.get("required"):
        return "no required outcomes in this stage"
    text = f"{i.get('done', 0)} of {i['required']} required outcomes done"
    return text if i.get("due") else text + " (not due yet)"


# In the order of the stored breakdown and of the profile editor.
MEASURES: tuple[MeasureSpec, ...] = (
    MeasureSpec(
        "usage_frequency",
        "Usage frequency",
        "active days of the last 30",
        2,
        20,
        "CASE WHEN f.has_usage THEN f.active_days::float END",
        (HAS_USAGE, Figure("active_days", "coalesce(daily.active_days, 0)"), Figure("days", "30")),
        _usage_frequency,
        missing_when="the account has never sent any usage",
    ),
    MeasureSpec(
        "breadth",
        "Key feature breadth",
        "share of key features used in 30 days",
        0.1,
        0.8,
        "CASE WHEN f.has_usage AND f.key_features > 0 THEN f.used::float / f.key_features END",
        (HAS_USAGE, Figure("used", "coalesce(fu.n, 0)"), Figure("key_features", "kf.n")),
        _breadth,
        missing_when="the account has never sent any usage, or the catalogue has no key features",
    ),
    MeasureSpec(
        "trend",
        "Usage trend",
        "events last 30 days / the 30 before",
        0.5,
        1.1,
        "CASE WHEN f.has_usage AND f.previous_30 > 0 THEN f.last_30::float / f.previous_30 END",
        (
            HAS_USAGE,
            Figure("last_30", "coalesce(daily.last_30, 0)"),
            Figure("previous_30", "coalesce(daily.previous_30, 0)"),
        ),
        _trend,
        missing_when=(
            "the account has never sent any usage, or sent none in the 30 days before the last 30"
        ),
    ),
    MeasureSpec(
        "license_utilization",
        "License utilization",
        "active users / seats",
        0.2,
        0.85,
        # Seats alone say nothing about use: an account that has never sent
        # usage is unknown here, not "0 active users".
        "CASE WHEN f.has_usage AND f.seats > 0 THEN f.active_users::float / f.seats END",
        (
            HAS_USAGE,
            Figure("active_users", "coalesce(users_30.n, 0)"),
            Figure("seats", "coalesce(seats.n, 0)"),
        ),
        _license,
        missing_when="the account has never sent any usage, or has no seats on an active contract",
    ),
    MeasureSpec(
        "nps",
        "NPS",
        "NPS of the latest answer per respondent",
        -30,
        50,
        "CASE WHEN f.responses > 0 THEN 100.0 * (f.promoters - f.detractors) / f.responses END",
        (
            Figure("responses", "coalesce(nps.n, 0)"),
            Figure("promoters", "coalesce(nps.promoters, 0)"),
            Figure("detractors", "coalesce(nps.detractors, 0)"),
        ),
        _nps,
        missing_when="no NPS answers in the NPS window",
    ),
    MeasureSpec(
        "support_load",
        "Support load",
        f"tickets in 30 days + {ESCALATION_TICKETS} per open escalation",
        10,
        0,
        # Tickets are data once the tenant sends them at all; before that only
        # an open escalation says anything about support load.
        "CASE WHEN f.sends_tickets OR f.open_escalation"
        f" THEN (f.tickets + {int(ESCALATION_TICKETS)} * f.open_escalation::int)::float END",
        (
            Figure("sends_tickets", "ts.sends", internal=True),
            Figure("tickets", "coalesce(tickets.n, 0)"),
            Figure("open_escalation", "acc.is_escalated"),
        ),
        _support,
        missing_when=(
            "the tenant has never sent support tickets and the account has no open escalation"
        ),
    ),
    MeasureSpec(
        "engagement",
        "CSM engagement",
        "days since the last CSM contact",
        45,
        7,
        # whole days, as people count them (and a score that changes daily)
        "floor(extract(epoch FROM now() - f.last_contact) / 86400.0)",
        (Figure("last_contact", "contact.last_at"),),
        _engagement,
        missing_when="no CSM contact was ever recorded",
    ),
    MeasureSpec(
        "csm_sentiment",
        "CSM sentiment",
        "red 0, yellow 50, green 100",
        0,
        100,
        "CASE f.sentiment WHEN 'red' THEN 0.0 WHEN 'yellow' THEN 50.0 WHEN 'green' THEN 100.0 END",
        (
            Figure("sentiment", "sentiment.value", shown_as="value"),
            Figure("sentiment_comment", "sentiment.comment", shown_as="comment"),
        ),
        _sentiment,
        missing_when="the CSM has not set a sentiment in the last 180 days",
    ),
    MeasureSpec(
        "outcomes",
        "Stage outcomes",
        "share of due stage outcomes done",
        0,
        1,
        "f.done::float / nullif(CASE WHEN f.due THEN f.required ELSE f.done END, 0)",
        (
            Figure("done", "coalesce(outcomes.done, 0)"),
            Figure("required", "coalesce(outcomes.required, 0)"),
            Figure("due", "coalesce(outcomes.due, false)"),
        ),
        _outcomes,
        missing_when="the stage has no required outcomes, or none are due and none are done",
    ),
)

BY_NAME: dict[str, MeasureSpec] = {spec.name: spec for spec in MEASURES}


def _figures() -> tuple[Figure, ...]:
    """Every figure once (measures may share one), in measure order."""
    seen: dict[str, Figure] = {}
    for spec in MEASURES:
        for figure in spec.figures:
            if seen.setdefault(figure.column, figure) != figure:
                raise ValueError(f"Figure {figure.column!r} is defined twice, differently.")
    return tuple(seen.values())


FIGURES = _figures()


def spec_of(name: str) -> MeasureSpec | None:
    return BY_NAME.get(name)


def shown_inputs(name: str, stored: Mapping) -> dict:
    """A measure's figures from a score's stored inputs, as the card names them."""
    spec = BY_NAME.get(name)
    if spec is None:
        return {}
    return {f.name: stored.get(f.column) for f in spec.figures if not f.internal}
