"""Small reads the API needs beyond lifecycle.selectors, all through the
tenant-scoped managers."""

from __future__ import annotations

from django.http import Http404

from lifecycle.models import Account, Stage, StageAchievement

STAGE_ORDER = list(Stage)


def achievement_by_key(account: Account, key: str, stage: str | None = None) -> StageAchievement:
    """The achievement `key`, preferring the account's current stage when the
    key exists in several stages; 404 when no stage has it."""
    candidates = StageAchievement.objects.filter(key=key)
    if stage:
        candidates = candidates.filter(stage=stage)
    found = sorted(candidates, key=lambda a: (a.stage != account.stage, STAGE_ORDER.index(a.stage)))
    if not found:
        raise Http404("No such achievement.")
    return found[0]
