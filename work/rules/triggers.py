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

from django.db.models import (
    CharField,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Concat

from health.models import Band, UsageDailyAccount, UsageDailyEvent
from lifecycle.models import Contract, ContractStatus, Stage
from work.models import OPEN_STATUSES, RuleFiring, Task, Trigger
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


# (account_id, occurrence_key, payload) of one firing found by a sweep.
Candidate = tuple[int, str, dict]


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


def _not_fired(rule, key_field: str = "okey", account_field: str = "pk") -> Exists:
    return Exists(
        RuleFiring.objects.filter(
            rule_id=rule.pk,
            account_id=OuterRef(account_field),
            occurrence_key=OuterRef(key_field),
        )
    )


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


def _window_start(today: dt.date, window_days: int) -> dt.date:
    """The first day of the `window_days` days ending today."""
    return today - dt.timedelta(days=window_days - 1)


def _usage_count(rule, *, account_id, payload, today, now, **_) -> str | None:
    config = rule.trigger_config
    if config.get("comparison") != "at_least" or config.get("event") not in (
        payload.get("names") or {}
    ):
        return None
    window = config["window_days"]
    counted = UsageDailyEvent.objects.filter(
        account_id=account_id, event=config["event"], day__gte=_window_start(today, window)
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


def _usage_count_at_most(rule, accounts: QuerySet, *, today, now, limit) -> list[Candidate]:
    config = rule.trigger_config
    window = config["window_days"]
    counted = (
        UsageDailyEvent.objects.filter(
            account_id=OuterRef("pk"), event=config["event"], day__gte=_window_start(today, window)
        )
        .values("account_id")
        .annotate(n=Sum("events"))
        .values("n")
    )
    recent = RuleFiring.objects.filter(
        rule_id=rule.pk, account_id=OuterRef("pk"), created_at__gte=now - dt.timedelta(days=window)
    )
    rows = (
        accounts.filter(created_at__date__lte=today - dt.timedelta(days=window))
        .annotate(n=Coalesce(Subquery(counted, output_field=IntegerField()), 0))
        .filter(n__lte=config["count"])
        .exclude(Exists(recent))
        .order_by("pk")
        .values_list("pk", "n")[:limit]
    )
    return [
        (pk, f"usage_count:{today}", {"event": config["event"], "count": n, "window_days": window})
        for pk, n in rows
    ]


def _usage_count_label(config: dict) -> str:
    comparison = dict(COMPARISONS).get(config.get("comparison"), "?").lower()
    return (
        f"“{config.get('event')}” {comparison} {config.get('count')} times "
        f"in {config.get('window_days')} days"
    )


def _clean_no_usage(config: dict, errors: Errors) -> dict:
    unknown_keys(config, {"days"}, errors)
    return {"days": clean_int(config, "days", errors, lo=1, hi=730)}


def _no_usage(rule, accounts: QuerySet, *, today, now, limit) -> list[Candidate]:
    cutoff = today - dt.timedelta(days=rule.trigger_config["days"])
    last_day = UsageDailyAccount.objects.filter(account_id=OuterRef("pk")).order_by("-day")
    rows = (
        accounts.annotate(last_day=Subquery(last_day.values("day")[:1]))
        .filter(Q(last_day__lte=cutoff) | Q(last_day__isnull=True, created_at__date__lte=cutoff))
        .annotate(
            okey=Concat(
                Value("no_usage:"),
                Coalesce(Cast("last_day", CharField()), Value("never")),
                output_field=CharField(),
            )
        )
        .exclude(_not_fired(rule))
        .order_by("pk")
        .values_list("pk", "okey", "last_day")[:limit]
    )
    return [
        (pk, key, {"last_usage_day": str(last) if last else None, **rule.trigger_config})
        for pk, key, last in rows
    ]


# -- renewal -----------------------------------------------------------------------
def _renewal_within(rule, accounts: QuerySet, *, today, now, limit) -> list[Candidate]:
    horizon = today + dt.timedelta(days=rule.trigger_config["days"])
    rows = (
        Contract.objects.filter(
            status=ContractStatus.ACTIVE,
            renewal_date__gte=today,
            renewal_date__lte=horizon,
            account_id__in=accounts.values("pk"),
        )
        .annotate(
            okey=Concat(
                Value("renewal:"),
                Cast("pk", CharField()),
                Value(":"),
                Cast("renewal_date", CharField()),
                output_field=CharField(),
            )
        )
        .exclude(_not_fired(rule, account_field="account_id"))
        .order_by("renewal_date", "pk")
        .values_list("account_id", "okey", "pk", "renewal_date", "arr")[:limit]
    )
    return [
        (
            account_id,
            key,
            {
                "contract_id": pk,
                "renewal_date": str(renewal),
                "arr": str(arr),
                **rule.trigger_config,
            },
        )
        for account_id, key, pk, renewal, arr in rows
    ]


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


def _task_overdue(rule, accounts: QuerySet, *, today, now, limit) -> list[Candidate]:
    late = today - dt.timedelta(days=rule.trigger_config.get("days_overdue") or 0)
    rows = (
        Task.objects.filter(
            status__in=OPEN_STATUSES, due_date__lt=late, account_id__in=accounts.values("pk")
        )
        .annotate(
            okey=Concat(
                Value("overdue:"),
                Cast("pk", CharField()),
                Value(":"),
                Cast("due_date", CharField()),
                output_field=CharField(),
            )
        )
        .exclude(_not_fired(rule, account_field="account_id"))
        .order_by("due_date", "pk")
        .values_list("account_id", "okey", "pk", "title", "due_date", "assignee_id")[:limit]
    )
    return [
        (
            account_id,
            key,
            {"task_id": pk, "title": title, "due_date": str(due), "assignee_id": assignee_id},
        )
        for account_id, key, pk, title, due, assignee_id in rows
    ]


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
            candidates=_usage_count_at_most,
            domain_events=("usage_recorded",),
        ),
        TriggerSpec(
            Trigger.NO_USAGE,
            (ConfigField("days", "Days without usage", "int", required=True),),
            _clean_no_usage,
            lambda c: f"No usage for {c.get('days')} days",
            candidates=_no_usage,
        ),
        TriggerSpec(
            Trigger.RENEWAL_WITHIN,
            (ConfigField("days", "Days before renewal", "int", required=True),),
            _clean_days,
            lambda c: f"Renewal within {c.get('days')} days",
            candidates=_renewal_within,
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
            candidates=_task_overdue,
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
