"""Escalations: a flag with its own open/resolve history, independent of stage."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from csplatform.events.services import event_record
from csplatform.tenancy.models import User
from lifecycle.models import (
    Account,
    Escalation,
)
from lifecycle.services.timeline import timeline_record


@transaction.atomic
def escalation_open(*, account: Account, reason: str, actor: User | None) -> Escalation:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ["Say why the account is escalated."]})
    account = Account.objects.select_for_update().get(pk=account.pk)
    if Escalation.objects.filter(account=account, resolved_at__isnull=True).exists():
        raise ValidationError({"reason": ["This account already has an open escalation."]})
    escalation = Escalation.objects.create(account=account, reason=reason, opened_by=actor)
    account.is_escalated = True
    account.save(update_fields=["is_escalated", "updated_at"])
    timeline_record(
        account=account,
        kind="escalation_opened",
        title="Escalation opened",
        body=reason,
        actor=actor,
        payload={"escalation_id": escalation.pk},
    )
    event_record(
        kind="escalation_opened",
        account_id=account.pk,
        payload={"escalation_id": escalation.pk, "reason": reason},
    )
    return escalation


@transaction.atomic
def escalation_resolve(
    *, escalation: Escalation, resolution: str, actor: User | None
) -> Escalation:
    resolution = (resolution or "").strip()
    if not resolution:
        raise ValidationError({"resolution": ["Say how the escalation was resolved."]})
    escalation = Escalation.objects.select_for_update().get(pk=escalation.pk)
    if escalation.resolved_at is not None:
        raise ValidationError({"resolution": ["This escalation is already resolved."]})
    escalation.resolved_at = timezone.now()
    escalation.resolved_by = actor
    escalation.resolution = resolution
    escalation.save(update_fields=["resolved_at", "resolved_by", "resolution", "updated_at"])
    Account.objects.filter(pk=escalation.account_id).update(
        is_escalated=False, updated_at=timezone.now()
    )
    timeline_record(
        account=escalation.account,
        kind="escalation_resolved",
        title="Escalation resolved",
        body=resolution,
        actor=actor,
        payload={"escalation_id": escalation.pk},
    )
    event_record(
        kind="escalation_resolved",
        account_id=escalation.account_id,
        payload={"escalation_id": escalation.pk},
    )
    return escalation
