"""Creating, updating and upserting accounts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from csplatform.events.services import event_record
from csplatform.tenancy.models import Membership, User
from lifecycle.models import (
    OWNER_ROLES,
    Account,
    Stage,
    StageHistory,
)
from lifecycle.services.timeline import timeline_record

ACCOUNT_FIELDS = {"name", "external_id", "owner", "tier", "industry", "attributes"}


def _check_owner(owner: User | None) -> None:
    if owner is None:
        return
    membership = Membership.objects.filter(user=owner).first()
    if membership is None:
        raise ValidationError({"owner": ["The owner must be a member of this workspace."]})
    if membership.role not in OWNER_ROLES:
        raise ValidationError(
            {"owner": ["A viewer cannot own accounts; choose a CSM, leader or admin."]}
        )


@transaction.atomic
def account_create(
    *,
    name: str,
    actor: User | None = None,
    external_id: str = "",
    owner: User | None = None,
    tier: str | None = None,
    industry: str = "",
    attributes: dict | None = None,
    stage: str = Stage.ONBOARDING,
) -> Account:
    _check_owner(owner)
    now = timezone.now()
    account = Account(
        name=name,
        external_id=external_id or "",
        owner=owner,
        industry=industry or "",
        attributes=attributes or {},
        stage=stage,
        stage_entered_at=now,
    )
    if tier:
        account.tier = tier
    account.full_clean(exclude=["tenant", "owner"])
    try:
        with transaction.atomic():
            account.save()
    except IntegrityError as exc:
        raise ValidationError(
            {"external_id": ["An account with this external id already exists."]}
        ) from exc
    StageHistory.objects.create(
        account=account, stage=account.stage, entered_at=now, entered_by=actor
    )
    timeline_record(
        account=account,
        kind="account_created",
        title=f"Account created in {account.get_stage_display()}",
        actor=actor,
    )
    # health gives the new account its first score within seconds.
    event_record(kind="account_created", account_id=account.pk, payload={"stage": account.stage})
    _announce_external_id(account)
    return account


def _announce_external_id(account: Account) -> None:
    """Tell other apps an external id now names this account (health attaches
    usage events that arrived before the account did)."""
    if account.external_id:
        event_record(
            kind="account_identified",
            account_id=account.pk,
            payload={"external_id": account.external_id},
        )


@transaction.atomic
def account_update(*, account: Account, actor: User | None = None, **changes: Any) -> Account:
    unknown = set(changes) - ACCOUNT_FIELDS
    if unknown:
        raise ValidationError({field: ["This field cannot be changed here."] for field in unknown})
    if "owner" in changes:
        _check_owner(changes["owner"])
    old_owner = account.owner
    old_external_id = account.external_id
    for field, value in changes.items():
        setattr(account, field, value if value is not None or field == "owner" else "")
    account.full_clean(exclude=["tenant", "owner"])
    try:
        with transaction.atomic():
            account.save()
    except IntegrityError as exc:
        raise ValidationError(
            {"external_id": ["An account with this external id already exists."]}
        ) from exc
    if "owner" in changes and old_owner != account.owner:
        new = account.owner.display_name if account.owner else "nobody"
        timeline_record(
            account=account,
            kind="owner_changed",
            title=f"Owner changed to {new}",
            actor=actor,
            payload={"from": old_owner.pk if old_owner else None, "to": account.owner_id},
        )
    if account.external_id != old_external_id:
        _announce_external_id(account)
    return account


def _upsert(
    model, *, external_id: str, create: Callable[[], Any], update: Callable[[Any], Any]
) -> tuple[Any, bool]:
    """Create or update by external id, safe to repeat and to run concurrently."""
    if not external_id:
        raise ValidationError({"external_id": ["An external id is required to upsert."]})
    for _attempt in range(2):
        existing = model.objects.select_for_update().filter(external_id=external_id).first()
        if existing is not None:
            return update(existing), False
        try:
            with transaction.atomic():
                return create(), True
        except ValidationError as exc:
            # A concurrent sync created it between our read and insert: update instead.
            if "external_id" not in getattr(exc, "error_dict", {}):
                raise
    raise ValidationError({"external_id": ["Could not upsert; try again."]})


@transaction.atomic
def account_upsert(
    *, external_id: str, actor: User | None = None, **fields: Any
) -> tuple[Account, bool]:
    return _upsert(
        Account,
        external_id=external_id,
        create=lambda: account_create(external_id=external_id, actor=actor, **fields),
        update=lambda account: account_update(account=account, actor=actor, **fields),
    )
