"""Readable occurrences for the run log: the account, what happened and when,
derived from a firing's occurrence key (see `work.rules.triggers`), its
trigger and the payload it recorded. The API keeps the raw key.

`occurrence_texts` reads what the keys do not say (when a domain event
happened) in one query for all the firings of a page, whatever their number.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from django.utils import timezone

from csplatform.events.models import DomainEvent
from health.models import Band
from lifecycle.models import Stage
from work.models import RuleFiring, Trigger


def _label(choices, value) -> str:
    return dict(choices.choices).get(value, value or "?")


def _day(text: str) -> str:
    try:
        return f"{dt.date.fromisoformat(text):%a %-d %b %Y}"
    except (TypeError, ValueError):
        return text


def _money(value) -> str:
    try:
        return f"{Decimal(str(value)):,.0f}"
    except (InvalidOperation, ValueError):
        return str(value)


def _event_what(trigger: str, payload: dict) -> str:
    if trigger in (Trigger.STAGE_ENTERED, Trigger.STAGE_LEFT):
        what = (
            f"moved from {_label(Stage, payload.get('from'))} to {_label(Stage, payload.get('to'))}"
        )
        return what + (" (forced)" if payload.get("forced") else "")
    if trigger == Trigger.ESCALATION_OPENED:
        reason = payload.get("reason")
        return "escalation opened" + (f": {reason}" if reason else "")
    if trigger in (Trigger.HEALTH_BAND_CHANGED, Trigger.HEALTH_DROPPED):
        old, new = payload.get("old_score"), payload.get("new_score")
        if payload.get("band_changed"):
            what = (
                f"health {_label(Band, payload.get('old_band'))} → "
                f"{_label(Band, payload.get('new_band'))}"
            )
        else:
            what = "health fell"
        if old is not None and new is not None:
            what += f" ({old} → {new})"
        return what
    if trigger == Trigger.NPS_RECEIVED:
        score, category = payload.get("score"), payload.get("category")
        return f"NPS {score if score is not None else '?'}" + (f" ({category})" if category else "")
    return _label(Trigger, trigger)


def _timed_what(prefix: str, rest: str, payload: dict, config: dict) -> str | None:
    """The text of a sweep's key, or None for a key of no known form."""
    parts = rest.split(":")
    if prefix == "renewal" and len(parts) == 2:
        ids = payload.get("contract_ids") or (
            [payload["contract_id"]] if "contract_id" in payload else []
        )
        what = f"renews {_day(parts[1])}"
        extras = []
        if len(ids) > 1:
            extras.append(f"{len(ids)} contracts")
        if payload.get("arr") is not None:
            extras.append(f"ARR {_money(payload['arr'])}")
        return what + (f" ({', '.join(extras)})" if extras else "")
    if prefix == "overdue" and len(parts) == 2:
        title = payload.get("title")
        task = f"task “{title}”" if title else "a task"
        return f"{task} overdue, due {_day(parts[1])}"
    if prefix == "no_usage" and len(parts) == 1:
        if parts[0] == "never":
            return "no usage ever"
        return f"no usage since {_day(parts[0])}"
    if prefix == "usage_seen" and len(parts) == 1:
        event = config.get("event") or "usage"
        return f"“{event}” used on {_day(parts[0])}"
    if prefix == "usage_count" and len(parts) == 1:
        event = config.get("event") or "usage"
        return f"“{event}” count crossed the threshold on {_day(parts[0])}"
    return None


def _event_id(key: str) -> int | None:
    prefix, _, rest = key.partition(":")
    return int(rest) if prefix == "event" and rest.isdigit() else None


def occurrence_texts(
    firings: Iterable[RuleFiring], *, config: dict | None = None
) -> dict[int, str]:
    """{firing id: "<account>: <what happened>, <when>"} for the firings of a
    rule (with their account selected; `config` is the rule's trigger config):
    one query for the events their keys name."""
    config = config if isinstance(config, dict) else {}
    firings = list(firings)
    ids = {i for f in firings if (i := _event_id(f.occurrence_key)) is not None}
    when = (
        dict(DomainEvent.objects.filter(pk__in=ids).values_list("pk", "created_at")) if ids else {}
    )
    texts = {}
    for f in firings:
        detail = f.detail if isinstance(f.detail, dict) else {}
        payload = detail.get("payload") if isinstance(detail.get("payload"), dict) else {}
        trigger = detail.get("trigger") or ""
        key = f.occurrence_key
        event_id = _event_id(key)
        if event_id is not None:
            what = _event_what(trigger, payload)
            at = when.get(event_id)
            if at:  # an event no longer stored: what happened, not when
                what += f", {timezone.localtime(at):%a %-d %b %Y %H:%M}"
        else:
            prefix, _, rest = key.partition(":")
            what = _timed_what(prefix, rest, payload, config) or key
        texts[f.pk] = f"{f.account.name}: {what}"
    return texts
