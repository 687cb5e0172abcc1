"""Every domain-event kind, declared once: what it means, the keys of its
payload, and the service that records it.

`event_record` refuses a kind that is not here (or a payload with other
keys), and `subscribe` refuses one at import time, so a typo cannot create
a kind that nobody emits or a handler that never runs. The catalogue is data
only: it names the apps' services as dotted paths and imports none of them
(the core imports no app); tests/core/test_event_catalogue.py resolves the
paths and records every subscribed kind through its service.

A new kind: add it here, record it from its service, and subscribe to it.

Delivery follows the declaration too: a `bulk` kind (machine-made, in
volume) travels on the bulk queue at normal priority; every other kind is
something people and rules wait on, and travels on the urgent queue at the
highest priority, so no backlog of bulk work is ever ahead of it. A
`coalesced` kind is not recorded per change: its counts are summed per
account over a window and one event carries the sum (`events_coalesce`).
"""

from __future__ import annotations

from dataclasses import dataclass


class EventKindUnknown(ValueError):
    """A kind, or payload keys, that the catalogue does not declare."""


@dataclass(frozen=True)
class EventKind:
    kind: str
    description: str
    payload: tuple[str, ...]  # keys every event of the kind carries
    emitted_by: tuple[str, ...]  # dotted paths of the services that record it
    optional: tuple[str, ...] = ()  # keys some events of the kind carry
    bulk: bool = False  # made in volume by machines: never ahead of the others
    # Summed per account over CSP_EVENT_COALESCE_SECONDS; every payload value
    # is a count or an object of counts.
    coalesced: bool = False

    def check_payload(self, payload: dict) -> None:
        keys = set(payload)
        missing = set(self.payload) - keys
        unknown = keys - set(self.payload) - set(self.optional)
        if missing or unknown:
            raise EventKindUnknown(
                f"{self.kind} payload: missing {sorted(missing)}, undeclared {sorted(unknown)}"
            )


_TASK = ("task_id", "run_id", "step_id", "assignee_id")
_TASK_SERVICE = ("work.services.tasks.task_transition",)
_ACHIEVEMENT = ("achievement", "stage")
_HEALTH = ("old_score", "new_score", "old_band", "new_band", "peak_7d", "band_changed", "dropped")

KINDS: dict[str, EventKind] = {
    k.kind: k
    for k in [
        # lifecycle
        EventKind(
            "account_created",
            "An account was created, in its first stage.",
            ("stage",),
            ("lifecycle.services.accounts.account_create",),
        ),
        EventKind(
            "account_identified",
            "An external id now names this account (at creation or on a change).",
            ("external_id",),
            (
                "lifecycle.services.accounts.account_create",
                "lifecycle.services.accounts.account_update",
            ),
        ),
        EventKind(
            "stage_changed",
            "The account moved to another lifecycle stage, forced or not.",
            ("from", "to", "forced", "reason", "actor_id"),
            ("lifecycle.services.stages.account_transition",),
            optional=("skipped_achievements",),
        ),
        EventKind(
            "achievement_completed",
            "A stage achievement was ticked off.",
            _ACHIEVEMENT,
            ("lifecycle.services.stages.achievement_complete",),
        ),
        EventKind(
            "achievement_reopened",
            "A ticked achievement was reopened.",
            _ACHIEVEMENT,
            ("lifecycle.services.stages.achievement_reopen",),
        ),
        EventKind(
            "escalation_opened",
            "The account was escalated.",
            ("escalation_id", "reason"),
            ("lifecycle.services.escalations.escalation_open",),
        ),
        EventKind(
            "escalation_resolved",
            "The account's open escalation was resolved.",
            ("escalation_id",),
            ("lifecycle.services.escalations.escalation_resolve",),
        ),
        EventKind(
            "meeting_logged",
            "A CSM logged a meeting with the customer on the timeline.",
            ("entry_id",),
            ("lifecycle.services.timeline.note_add",),
        ),
        EventKind(
            "call_logged",
            "A CSM logged a call with the customer on the timeline.",
            ("entry_id",),
            ("lifecycle.services.timeline.note_add",),
        ),
        # health
        EventKind(
            "usage_recorded",
            "Usage events of the account were counted into the rollups (summed since the first).",
            ("events", "names"),
            ("health.services.usage.usage_rollups_fold",),
            bulk=True,
            coalesced=True,
        ),
        EventKind(
            "health_changed",
            "The health score changed band or fell sharply within a week.",
            (
                "old_score",
                "new_score",
                "old_band",
                "new_band",
                "peak_7d",
                "band_changed",
                "dropped",
            ),
            ("health.services.scores.health_rescore",),
        ),
        EventKind(
            "nps_received",
            "An NPS answer was recorded for the account.",
            ("score", "category", "response_id"),
            ("health.services.scores.nps_response_record",),
        ),
        # work
        EventKind(
            "task_created",
            "A task was created on the account.",
            _TASK,
            ("work.services.tasks.task_create",),
        ),
        EventKind("task_started", "A task was started.", _TASK, _TASK_SERVICE),
        EventKind("task_completed", "A task was completed.", _TASK, _TASK_SERVICE),
        EventKind("task_skipped", "A task was skipped.", _TASK, _TASK_SERVICE),
        EventKind("task_cancelled", "A task was cancelled.", _TASK, _TASK_SERVICE),
        EventKind("task_reopened", "A closed task was reopened.", _TASK, _TASK_SERVICE),
        EventKind(
            "playbook_started",
            "A playbook run started on the account.",
            ("playbook_id", "run_id"),
            ("work.services.playbooks.playbook_start",),
        ),
        EventKind(
            "playbook_cancelled",
            "A playbook run was cancelled.",
            ("playbook_id", "run_id"),
            ("work.services.playbooks.playbook_run_cancel",),
        ),
    ]
}


def declared(kind: str) -> EventKind:
    """The declaration of `kind`; EventKindUnknown if there is none."""
    try:
        return KINDS[kind]
    except KeyError:
        raise EventKindUnknown(
            f"Domain-event kind {kind!r} is not declared in csplatform/events/catalogue.py."
        ) from None
