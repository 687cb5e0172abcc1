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
- renewal_within: `renewal:<account id>:<renewal date>`: once per account and
  renewal date, however many of its contracts renew that day (the payload
  lists them and sums their ARR); a contract renewed to a new date fires
  again when that date comes near. (Firings before this were keyed
  `renewal:<contract id>:<renewal date>`; they still count as fired.)
- task_overdue: `overdue:<task id>:<due date>`: a snoozed task that becomes
  overdue again is a new occurrence.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from django import forms
from django.db.models import Sum

from health.models import Band, UsageDailyEvent
from lifecycle.models import Stage
from work.models import RuleFiring, Trigger
from work.rules import candidates as sweep
from work.rules.candidates import Candidate, window_start
from work.rules.forms import ConfigForm, Errors, RuleBroken, choice, text

NPS_CATEGORIES = [
    ("detractor", "Detractor (0-6)"),
    ("passive", "Passive (7-8)"),
    ("promoter", "Promoter (9-10)"),
]
COMPARISONS = [("at_least", "At least"), ("at_most", "No more than")]

# A sweep fires a rule for at most this many accounts per run, so a run stays
# bounded; the rest are found by the next run.
SWEEP_LIMIT = 500


# -- the settings of each kind: the editor's inputs and their check ------------------
class StageSettings(ConfigForm):
    stage = choice(Stage.choices, label="Stage")


class NoSettings(ConfigForm):
    pass


def _event_name() -> forms.CharField:
    return text(label="Event name", help_text="The usage event's name, as integrations send it")


class UsageSeenSettings(ConfigForm):
    event = _event_name()


class UsageCountSettings(ConfigForm):
    event = _event_name()
    comparison = choice(
        COMPARISONS,
        label="Comparison",
        help_text="“At least” fires as usage arrives; “no more than” is checked every few minutes",
    )
    count = forms.IntegerField(label="Times", min_value=0, max_value=10_000_000)
    window_days = forms.IntegerField(label="Window (days)", min_value=1, max_value=365)


class NoUsageSettings(ConfigForm):
    days = forms.IntegerField(label="Days without usage", min_value=1, max_value=730)


class RenewalSettings(ConfigForm):
    days = forms.IntegerField(label="Days before renewal", min_value=0, max_value=730)


class OverdueSettings(ConfigForm):
    days_overdue = forms.IntegerField(
        label="Days overdue",
        min_value=0,
        max_value=365,
        initial=0,
        help_text="0: as soon as the due day has passed",
    )


class BandChangeSettings(ConfigForm):
    from_band = choice(Band.choices, label="From band", required=False, help_text="Any if blank")
    to_band = choice(Band.choices, label="To band", required=False, help_text="Any if blank")


class DroppedSettings(ConfigForm):
    points = forms.IntegerField(
        label="Points",
        min_value=1,
        max_value=100,
        help_text="A fall from the score's 7-day peak; health reports falls that change the "
        "band or reach the profile's drop alert",
    )


class NpsSettings(ConfigForm):
    category = choice(NPS_CATEGORIES, label="Category", required=False, help_text="Any if blank")


@dataclass(frozen=True)
class TriggerSpec:
    kind: str
    settings: type[ConfigForm]
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

    def is_timed(self, config: object) -> bool:
        if self.kind == Trigger.USAGE_COUNT:
            return isinstance(config, dict) and config.get("comparison") == "at_most"
        return self.candidates is not None


# -- stage -------------------------------------------------------------------
def _entered(rule, *, event_key, payload, **_) -> str | None:
    return event_key if payload.get("to") == rule.trigger_config.get("stage") else None


def _left(rule, *, event_key, payload, **_) -> str | None:
    return event_key if payload.get("from") == rule.trigger_config.get("stage") else None


def _stage_label(config: dict) -> str:
    stage = config.get("stage")
    return Stage(stage).label if stage in Stage.values else "?"


# -- escalation ----------------------------------------------------------------
def _always(rule, *, event_key, **_) -> str:
    return event_key


# -- usage -----------------------------------------------------------------------
def _usage_seen(rule, *, payload, today, **_) -> str | None:
    names = payload.get("names") or {}
    return f"usage_seen:{today}" if rule.trigger_config.get("event") in names else None


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


# -- health ------------------------------------------------------------------------
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


def _dropped(rule, *, event_key, payload, **_) -> str | None:
    new = payload.get("new_score")
    before = [s for s in (payload.get("old_score"), payload.get("peak_7d")) if s is not None]
    if new is None or not before:
        return None
    return event_key if max(before) - new >= rule.trigger_config["points"] else None


# -- NPS ---------------------------------------------------------------------------
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
            StageSettings,
            lambda c: f"Account entered {_stage_label(c)}",
            occurrence=_entered,
            domain_events=("stage_changed",),
        ),
        TriggerSpec(
            Trigger.STAGE_LEFT,
            StageSettings,
            lambda c: f"Account left {_stage_label(c)}",
            occurrence=_left,
            domain_events=("stage_changed",),
        ),
        TriggerSpec(
            Trigger.ESCALATION_OPENED,
            NoSettings,
            lambda c: "Escalation opened",
            occurrence=_always,
            domain_events=("escalation_opened",),
        ),
        TriggerSpec(
            Trigger.USAGE_SEEN,
            UsageSeenSettings,
            lambda c: f"Usage “{c.get('event')}” seen",
            occurrence=_usage_seen,
            domain_events=("usage_recorded",),
        ),
        TriggerSpec(
            Trigger.USAGE_COUNT,
            UsageCountSettings,
            _usage_count_label,
            occurrence=_usage_count,
            candidates=sweep.usage_count_at_most,
            domain_events=("usage_recorded",),
        ),
        TriggerSpec(
            Trigger.NO_USAGE,
            NoUsageSettings,
            lambda c: f"No usage for {c.get('days')} days",
            candidates=sweep.no_usage,
        ),
        TriggerSpec(
            Trigger.RENEWAL_WITHIN,
            RenewalSettings,
            lambda c: f"Renewal within {c.get('days')} days",
            candidates=sweep.renewal_within,
        ),
        TriggerSpec(
            Trigger.TASK_OVERDUE,
            OverdueSettings,
            lambda c: (
                "Task overdue" + (f" by {c['days_overdue']} days" if c.get("days_overdue") else "")
            ),
            candidates=sweep.task_overdue,
        ),
        TriggerSpec(
            Trigger.HEALTH_BAND_CHANGED,
            BandChangeSettings,
            lambda c: f"Health band changed ({_band_label(c)})",
            occurrence=_band_changed,
            domain_events=("health_changed",),
        ),
        TriggerSpec(
            Trigger.HEALTH_DROPPED,
            DroppedSettings,
            lambda c: f"Health dropped by {c.get('points')} points",
            occurrence=_dropped,
            domain_events=("health_changed",),
        ),
        TriggerSpec(
            Trigger.NPS_RECEIVED,
            NpsSettings,
            lambda c: f"NPS {_nps_label(c)} received",
            occurrence=_nps,
            domain_events=("nps_received",),
        ),
    ]
}

TIMED_TRIGGERS = [kind for kind, spec in TRIGGERS.items() if spec.candidates is not None]


def trigger_validate(trigger: str, config: object) -> tuple[dict, Errors]:
    """The cleaned config of `trigger` and its errors, keyed
    `trigger_config.<setting>` (or `trigger`, `trigger_config`)."""
    if trigger not in TRIGGERS:
        return {}, {"trigger": [f"Choose one of: {', '.join(TRIGGERS)}."]}
    clean, errors = TRIGGERS[trigger].settings.check(config)
    return clean, {
        f"trigger_config.{key}" if key else "trigger_config": messages
        for key, messages in errors.items()
    }


def trigger_check(rule) -> None:
    """At run time: a rule whose stored trigger settings no longer pass
    their check raises RuleBroken naming the setting (the check reads no
    database, so judging an event stays one query per rule set)."""
    _clean, errors = trigger_validate(rule.trigger, rule.trigger_config)
    if errors:
        raise RuleBroken.from_errors(rule, errors)


def trigger_config_help() -> str:
    """Per trigger, its settings (for the API's docs)."""
    return "Per trigger: " + "; ".join(
        f"{kind} {spec.settings.settings_help()}" for kind, spec in TRIGGERS.items()
    )


def trigger_summary(trigger: str, config: dict) -> str:
    spec = TRIGGERS.get(trigger)
    if spec is None:
        return trigger
    try:
        return spec.summary(config or {})
    except (KeyError, TypeError, ValueError):
        return spec.label
