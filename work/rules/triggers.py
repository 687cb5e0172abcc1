"""Trigger kinds: what each listens for (its config and validation), whether a
domain event matches a rule, and the occurrence key that makes a rule fire
once per account per occurrence.

Occurrence keys, per kind:

- stage_entered, stage_left, escalation_opened, health_band_changed,
  health_dropped, nps_received: `event:<domain event id>`, one firing per
  event, whatever the number of deliveries.
- usage_seen: `usage_seen:<day>`: at most once per account per day, however
  many usage batches carry the name that day (a cool-down spaces it more).
- usage_count: `usage_count:<day it crossed>`. A count that stays past the
  threshold is the same occurrence for a whole window after the crossing
  (the key of the last firing within the window is reused, so it is a
  duplicate); once a full window has passed, the count is made of new
  usage, and a new crossing is a new occurrence. "At least" is judged when
  the usage arrives; "at most" by the sweep, only for accounts older than
  the window (a new account has not had the window to use the product).
- no_usage: `no_usage:<last usage day>`, or `no_usage:never` for an account
  that never had usage (judged once the account is `days` old). New usage
  moves the last day, so the next silence is a new occurrence.
- renewal_within: `renewal:<contract id>:<renewal date>`: a contract renewed
  to a new date fires again when that date comes near.
- task_overdue: `overdue:<task id>:<due date>`: a snoozed task that becomes
  overdue again is a new occurrence.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import Sum

from health.models import Band, UsageDailyEvent
from lifecycle.models import Stage
from work.models import RuleFiring, Trigger
from work.rules import candidates as sweep
from work.rules.candidates import Candidate, window_start
from work.rules.fields import (
    ConfigField,
    Errors,
    clean_choice,
    clean_int,
    clean_text,
    unknown_keys,
)

NPS_CATEGORIES = [
    ("detractor", "Detractor (0-6)"),
    ("passive", "Passive (7-8)"),
    ("promoter", "Promoter (9-10)"),
]
COMPARISONS = [("at_least", "At least"), ("at_most", "No more than")]

# A sweep fires a rule for at most this many accounts per run, so a run stays
# bounded; the rest are found by the next run.
SWEEP_LIMIT = 500


@dataclass(frozen=True)
class TriggerSpec:
    kind: str
    fields: tuple[ConfigField, ...]
    clean: Callable[[dict, Errors], dict]
    summary: Callable[[dict], str]
    # For event triggers: the occurrence key if `payload` matches the rule's
    # config, else None. `event_key` is `event:<domain event id>`.
    occurrence: Callable[..., str | None] | None = None
    # For timed triggers: candidates among `accounts` (already narrowed by
    # the rule's conditions) not yet fired for.
    candidates: Callable[..., list[Candidate]] | None = None
    domain_events: tuple[str, ...] = field(default=())

    @property
    def label(self) -> str:
        return Trigger(self.kind).label

    def is_timed(self, config: dict) -> bool:
        if self.kind == Trigger.USAGE_COUNT:
            return config.get("comparison") == "at_most"
        return self.candidates is not None


def _stages() -> list[tuple[str, str]]:
    return list(Stage.choices)


def _bands() -> list[tuple[str, str]]:
    return list(Band.choices)


# -- stage -------------------------------------------------------------------
def _clean_stage(config: dict, errors: Errors) -> dict:
    unknown_keys(config, {"stage"}, errors)
    return {"stage": clean_choice(config, "stage", errors, Stage.values)}


def _entered(rule, *, event_key, payload, **_) -> str | None:
    return event_key if payload.get("to") == rule.trigger_config.get("stage") else None


def _left(rule, *, event_key, payload, **_) -> str | None:
    return event_key if payload.get("from") == rule.trigger_config.get("stage") else None


def _stage_label(config: dict) -> str:
    stage = config.get("stage")
    return Stage(stage).label if stage in Stage.values else "?"


STAGE_FIELDS = (ConfigField("stage", "Stage", "choice", required=True, choices=_stages),)


# -- escalation ----------------------------------------------------------------
def _clean_nothing(config: dict, errors: Errors) -> dict:
    unknown_keys(config, set(), errors)
    return {}


def _always(rule, *, event_key, **_) -> str:
    return event_key


# -- usage -----------------------------------------------------------------------
EVENT_FIELD = ConfigField(
    "event", "Event name", required=True, help="The usage event's name, as integrations send it"
)


def _clean_usage_seen(config: dict, errors: Errors) -> dict:
    unknown_keys(config, {"event"}, errors)
    return {"event": clean_text(config, "event", errors, max_length=200)}


def _usage_seen(rule, *, payload, today, **_) -> str | None:
    names = payload.get("names") or {}
    return f"usage_seen:{today}" if rule.trigger_config.get("event") in names else None


def _clean_usage_count(config: dict, errors: Errors) -> dict:
    unknown_keys(config, {"event", "comparison", "count", "window_days"}, errors)
    return {
        "event": clean_text(config, "event", errors, max_length=200),
        "comparison": clean_choice(
            config,
            "comparison",
            errors,
            [c for c, _ in COMPARISONS],
            labels=dict(COMPARISONS),
        ),
        "count": clean_int(config, "count", errors, lo=0, hi=10_000_000),
        "window_days": clean_int(config, "window_days", errors, lo=1, hi=365),
    }


def _usage_count(rule, *, account_id, payload, today, now, **_) -> str | None:
    config = rule.trigger_config
    if config.get("comparison") != "at_least" or config.get("event") not in (
        payload.get("names") or {}
    ):
        return None
    window = config["window_days"]
    counted = UsageDailyEvent.objects.filter(
        account_id=account_id, event=config["event"], day__gte=window_start(today, window)
    ).aggregate(n=Sum("events"))["n"]
    if (counted or 0) < config["count"]:
        return None
    # Within a window of the last crossing the count is still that crossing.
    last = (
        RuleFiring.objects.filter(
            rule_id=rule.pk, account_id=account_id, created_at__gte=now - dt.timedelta(days=window)
        )
        .order_by("-created_at")
        .values_list("occurrence_key", flat=True)
        .first()
    )
    return last or f"usage_count:{today}"


def _usage_count_label(config: dict) -> str:
    comparison = dict(COMPARISONS).get(config.get("comparison"), "?").lower()
    return (
        f"“{config.get('event')}” {comparison} {config.get('count')} times "
        f"in {config.get('window_days')} days"
    )


def _clean_no_usage(config: dict, errors: Errors) -> dict:
    unknown_keys(config, {"days"}, errors)
    return {"days": clean_int(config, "days", errors, lo=1, hi=730)}


# -- renewal -----------------------------------------------------------------------
def _clean_days(config: dict, errors: Errors) -> dict:
    unknown_keys(config, {"days"}, errors)
    return {"days": clean_int(config, "days", errors, lo=0, hi=730)}


# -- tasks -------------------------------------------------------------------------
def _clean_overdue(config: dict, errors: Errors) -> dict:
    unknown_keys(config, {"days_overdue"}, errors)
    return {
        "days_overdue": clean_int(
            config, "days_overdue", errors, lo=0, hi=365, required=False, default=0
        )
    }


# -- health ------------------------------------------------------------------------
def _clean_band_change(config: dict, errors: Errors) -> dict:
    unknown_keys(config, {"from_band", "to_band"}, errors)
    clean = {}
    for name in ("from_band", "to_band"):
        value = clean_choice(config, name, errors, Band.values, required=False)
        if value:
            clean[name] = value
    return clean


def _band_changed(rule, *, event_key, payload, **_) -> str | None:
    config = rule.trigger_config
    if not payload.get("band_changed"):
        return None
    if config.get("from_band") and payload.get("old_band") != config["from_band"]:
        return None
    if config.get("to_band") and payload.get("new_band") != config["to_band"]:
        return None
    return event_key


def _band_label(config: dict) -> str:
    bands = dict(Band.choices)
    parts = []
    if config.get("from_band"):
        parts.append(f"from {bands.get(config['from_band'], '?')}")
    if config.get("to_band"):
        parts.append(f"to {bands.get(config['to_band'], '?')}")
    return " ".join(parts) or "any change"


def _clean_dropped(config: dict, errors: Errors) -> dict:
    unknown_keys(config, {"points"}, errors)
    return {"points": clean_int(config, "points", errors, lo=1, hi=100)}


def _dropped(rule, *, event_key, payload, **_) -> str | None:
    new = payload.get("new_score")
    before = [s for s in (payload.get("old_score"), payload.get("peak_7d")) if s is not None]
    if new is None or not before:
        return None
    return event_key if max(before) - new >= rule.trigger_config["points"] else None


# -- NPS ---------------------------------------------------------------------------
def _clean_nps(config: dict, errors: Errors) -> dict:
    unknown_keys(config, {"category"}, errors)
    category = clean_choice(
        config, "category", errors, [c for c, _ in NPS_CATEGORIES], required=False
    )
    return {"category": category} if category else {}


def _nps(rule, *, event_key, payload, **_) -> str | None:
    category = rule.trigger_config.get("category")
    return event_key if not category or payload.get("category") == category else None


def _nps_label(config: dict) -> str:
    return dict(NPS_CATEGORIES).get(config.get("category"), "any answer").split(" (")[0].lower()


TRIGGERS: dict[str, TriggerSpec] = {
    spec.kind: spec
    for spec in [
        TriggerSpec(
            Trigger.STAGE_ENTERED,
            STAGE_FIELDS,
            _clean_stage,
            lambda c: f"Account entered {_stage_label(c)}",
            occurrence=_entered,
            domain_events=("stage_changed",),
        ),
        TriggerSpec(
            Trigger.STAGE_LEFT,
            STAGE_FIELDS,
            _clean_stage,
            lambda c: f"Account left {_stage_label(c)}",
            occurrence=_left,
            domain_events=("stage_changed",),
        ),
        TriggerSpec(
            Trigger.ESCALATION_OPENED,
            (),
            _clean_nothing,
            lambda c: "Escalation opened",
            occurrence=_always,
            domain_events=("escalation_opened",),
        ),
        TriggerSpec(
            Trigger.USAGE_SEEN,
            (EVENT_FIELD,),
            _clean_usage_seen,
            lambda c: f"Usage “{c.get('event')}” seen",
            occurrence=_usage_seen,
            domain_events=("usage_recorded",),
        ),
        TriggerSpec(
            Trigger.USAGE_COUNT,
            (
                EVENT_FIELD,
                ConfigField(
                    "comparison",
                    "Comparison",
                    "choice",
                    required=True,
                    choices=lambda: COMPARISONS,
                    help="“At least” fires as usage arrives; “no more than” is checked "
                    "every few minutes",
                ),
                ConfigField("count", "Times", "int", required=True),
                ConfigField("window_days", "Window (days)", "int", required=True),
            ),
            _clean_usage_count,
            _usage_count_label,
            occurrence=_usage_count,
            candidates=sweep.usage_count_at_most,
            domain_events=("usage_recorded",),
        ),
        TriggerSpec(
            Trigger.NO_USAGE,
            (ConfigField("days", "Days without usage", "int", required=True),),
            _clean_no_usage,
            lambda c: f"No usage for {c.get('days')} days",
            candidates=sweep.no_usage,
        ),
        TriggerSpec(
            Trigger.RENEWAL_WITHIN,
            (ConfigField("days", "Days before renewal", "int", required=True),),
            _clean_days,
            lambda c: f"Renewal within {c.get('days')} days",
            candidates=sweep.renewal_within,
        ),
        TriggerSpec(
            Trigger.TASK_OVERDUE,
            (
                ConfigField(
                    "days_overdue",
                    "Days overdue",
                    "int",
                    help="0: as soon as the due day has passed",
                ),
            ),
            _clean_overdue,
            lambda c: (
                "Task overdue" + (f" by {c['days_overdue']} days" if c.get("days_overdue") else "")
            ),
            candidates=sweep.task_overdue,
        ),
        TriggerSpec(
            Trigger.HEALTH_BAND_CHANGED,
            (
                ConfigField(
                    "from_band", "From band", "choice", choices=_bands, help="Any if blank"
                ),
                ConfigField("to_band", "To band", "choice", choices=_bands, help="Any if blank"),
            ),
            _clean_band_change,
            lambda c: f"Health band changed ({_band_label(c)})",
            occurrence=_band_changed,
            domain_events=("health_changed",),
        ),
        TriggerSpec(
            Trigger.HEALTH_DROPPED,
            (
                ConfigField(
                    "points",
                    "Points",
                    "int",
                    required=True,
                    help="A fall from the score's 7-day peak; health reports falls that "
                    "change the band or reach the profile's drop alert",
                ),
            ),
            _clean_dropped,
            lambda c: f"Health dropped by {c.get('points')} points",
            occurrence=_dropped,
            domain_events=("health_changed",),
        ),
        TriggerSpec(
            Trigger.NPS_RECEIVED,
            (
                ConfigField(
                    "category",
                    "Category",
                    "choice",
                    choices=lambda: NPS_CATEGORIES,
                    help="Any if blank",
                ),
            ),
            _clean_nps,
            lambda c: f"NPS {_nps_label(c)} received",
            occurrence=_nps,
            domain_events=("nps_received",),
        ),
    ]
}

TIMED_TRIGGERS = [kind for kind, spec in TRIGGERS.items() if spec.candidates is not None]


def trigger_validate(trigger: str, config: object) -> tuple[dict, Errors]:
    """The cleaned config of `trigger` and its errors, keyed
    `trigger_config.<setting>` (or `trigger`)."""
    if trigger not in TRIGGERS:
        return {}, {"trigger": [f"Choose one of: {', '.join(TRIGGERS)}."]}
    if config is None:
        config = {}
    if not isinstance(config, dict):
        return {}, {"trigger_config": ["Must be an object."]}
    errors: Errors = {}
    clean = TRIGGERS[trigger].clean(config, errors)
    return clean, {f"trigger_config.{key}": messages for key, messages in errors.items()}


def trigger_summary(trigger: str, config: dict) -> str:
    spec = TRIGGERS.get(trigger)
    if spec is None:
        return trigger
    try:
        return spec.summary(config or {})
    except (KeyError, TypeError, ValueError):
        return spec.label
