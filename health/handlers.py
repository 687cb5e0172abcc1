"""health's reactions to other apps' domain events."""

from csplatform.events.registry import subscribe
from health.services import health_rescore_request, usage_attach


@subscribe("account_identified", name="health.attach_early_usage")
def attach_early_usage(event) -> None:
    usage_attach(account_id=event.account_id, external_id=event.payload["external_id"])


# Signals that move a score: queue the account; the debounced re-score
# picks it up within seconds (usage is queued by the rollup fold itself).
def _rescore(event) -> None:
    if event.account_id:
        health_rescore_request(account_ids=[event.account_id])


# Each moves a measure: stage outcomes, support load, engagement (CSM
# contact: completed tasks, logged meetings and calls), or a new account's
# first score.
_RESCORE_ON = (
    "stage_changed",
    "escalation_opened",
    "escalation_resolved",
    "account_created",
    "achievement_completed",
    "achievement_reopened",
    "task_completed",
    "meeting_logged",
    "call_logged",
)
for _kind in _RESCORE_ON:
    subscribe(_kind, name=f"health.rescore_on_{_kind}")(_rescore)
