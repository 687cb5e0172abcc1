"""work's reactions to domain events: they turn into rule triggers.

The event bus runs each handler once per event (receipts); the firing's
unique (rule, account, occurrence) key is the second guard, so a duplicate
delivery fires nothing twice. Each handler is one query when the tenant has
no rule of the trigger.
"""

from __future__ import annotations

from csplatform.events.registry import subscribe
from work.models import Trigger
from work.rules.engine import rules_evaluate


def _evaluate(event, trigger: str, **extra) -> None:
    if event.account_id is None:
        return
    rules_evaluate(
        trigger=trigger,
        account_id=event.account_id,
        occurrence_key=f"event:{event.pk}",
        payload={**event.payload, **extra, "event_id": event.pk},
    )


@subscribe("stage_changed", name="work.rules_on_stage_changed")
def on_stage_changed(event) -> None:
    if event.payload.get("to"):
        _evaluate(event, Trigger.STAGE_ENTERED)
    if event.payload.get("from"):
        _evaluate(event, Trigger.STAGE_LEFT)


@subscribe("escalation_opened", name="work.rules_on_escalation_opened")
def on_escalation_opened(event) -> None:
    _evaluate(event, Trigger.ESCALATION_OPENED)


@subscribe("usage_recorded", name="work.rules_on_usage_recorded")
def on_usage_recorded(event) -> None:
    if not event.payload.get("names"):
        return
    _evaluate(event, Trigger.USAGE_SEEN)
    _evaluate(event, Trigger.USAGE_COUNT)


@subscribe("health_changed", name="work.rules_on_health_changed")
def on_health_changed(event) -> None:
    if event.payload.get("band_changed"):
        _evaluate(event, Trigger.HEALTH_BAND_CHANGED)
    _evaluate(event, Trigger.HEALTH_DROPPED)


@subscribe("nps_received", name="work.rules_on_nps_received")
def on_nps_received(event) -> None:
    _evaluate(event, Trigger.NPS_RECEIVED)
