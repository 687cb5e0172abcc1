"""Every change to accounts and their lifecycle goes through these functions.

Each runs in a transaction, writes the timeline in that same transaction and
records domain events that are dispatched after commit. Callers import from
`lifecycle.services`; the modules below only split it by concern.
"""

from lifecycle.services.accounts import account_create, account_update, account_upsert
from lifecycle.services.escalations import escalation_open, escalation_resolve
from lifecycle.services.records import (
    contact_save,
    contact_upsert,
    contract_save,
    contract_upsert,
    segment_save,
)
from lifecycle.services.stages import (
    DEFAULT_ACHIEVEMENTS,
    account_transition,
    achievement_complete,
    achievement_reopen,
    achievements_seed_defaults,
    allowed_targets,
    stage_achievement_delete,
    stage_achievement_save,
    transition_method,
)
from lifecycle.services.timeline import note_add, timeline_record, timeline_record_many

__all__ = [
    "DEFAULT_ACHIEVEMENTS",
    "account_create",
    "account_transition",
    "account_update",
    "account_upsert",
    "achievement_complete",
    "achievement_reopen",
    "achievements_seed_defaults",
    "allowed_targets",
    "contact_save",
    "contact_upsert",
    "contract_save",
    "contract_upsert",
    "escalation_open",
    "escalation_resolve",
    "note_add",
    "segment_save",
    "stage_achievement_delete",
    "stage_achievement_save",
    "timeline_record",
    "timeline_record_many",
    "transition_method",
]
