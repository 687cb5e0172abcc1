"""Changes made from the capacity page: a playbook step's estimate set from
the time actually logged on its tasks (rebalancing reuses tasks_reassign)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from csplatform.tenancy.models import User
from work.models import PlaybookStep


@transaction.atomic
def step_estimate_set(
    *, step: PlaybookStep, estimated_minutes: int, actor: User | None
) -> PlaybookStep:
    """Set the estimate future tasks of `step` start with (1-10,000 minutes).
    Tasks already created keep theirs; nothing else is recorded."""
    try:
        minutes = int(estimated_minutes)
    except (TypeError, ValueError):
        raise ValidationError({"estimated_minutes": ["Enter whole minutes."]}) from None
    if not 1 <= minutes <= 10_000:
        raise ValidationError({"estimated_minutes": ["Estimate between 1 and 10,000 minutes."]})
    PlaybookStep.objects.filter(pk=step.pk).update(estimated_minutes=minutes)
    step.estimated_minutes = minutes
    return step
