"""Every change to accounts and their lifecycle goes through these functions.

Each runs in a transaction, writes the timeline in that same transaction and
records domain events that are dispatched after commit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from csplatform.events.services import event_record
from csplatform.tenancy.context import current
from csplatform.tenancy.models import Membership, Role, User, role_at_least
from lifecycle.errors import TransitionRejected
from lifecycle.models import (
    FORWARD,
    Account,
    AccountAchievement,
    Contact,
    Contract,
    Escalation,
    Segment,
    Stage,
    StageAchievement,
    StageHistory,
    TimelineEntry,
)
from lifecycle.segments import validate_segment_filters

# ---------------------------------------------------------------- timeline


def timeline_record(
    *,
    account: Account,
    kind: str,
    title: str,
    body: str = "",
    actor: User | None = None,
    payload: dict | None = None,
    occurred_at=None,
) -> TimelineEntry:
    """The one way any app adds to an account's timeline."""
    payload = dict(payload or {})
    ctx = current()
    if actor is None and ctx is not None and ctx.api_key_id:
        payload.setdefault("via_api_key", ctx.api_key_id)
    return TimelineEntry.objects.create(
        account=account,
        kind=kind,
        title=title[:300],
        body=body,
        actor=actor,
        payload=payload,
        occurred_at=occurred_at or timezone.now(),
    )


@transaction.atomic
def note_add(*, account: Account, body: str, actor: User | None) -> TimelineEntry:
    body = body.strip()
    if not body:
        raise ValidationError({"body": ["Write something in the note."]})
    first_line = body.splitlines()[0]
    return timeline_record(
        account=account, kind="note", title=first_line[:120], body=body, actor=actor
    )


# ---------------------------------------------------------------- accounts

ACCOUNT_FIELDS = {"name", "external_id", "owner", "tier", "industry", "attributes"}


def _check_owner(owner: User | None) -> None:
    if owner is not None and not Membership.objects.filter(user=owner).exists():
        raise ValidationError({"owner": ["The owner must be a member of this workspace."]})


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


# ---------------------------------------------------------------- stages


def transition_method(account: Account, to_stage: str):
    """The FSM transition from the account's stage to `to_stage`, or None."""
    for t in account.get_all_stage_transitions():
        if t.source in (account.stage, "*") and t.target == to_stage:
            return getattr(account, t.name)
    return None


def allowed_targets(account: Account) -> list[dict]:
    """Every stage reachable now, with whether its guard is met (for buttons)."""
    out = []
    missing = None
    for t in account.get_all_stage_transitions():
        if t.source not in (account.stage, "*"):
            continue
        guarded = bool(t.conditions)
        if guarded and missing is None:
            missing = [a.title for a in account.missing_achievements()]
        out.append(
            {
                "stage": t.target,
                "label": Stage(t.target).label,
                "transition": t.name,
                "guarded": guarded,
                "ready": not guarded or not missing,
                "missing": missing if guarded else [],
                "forward": FORWARD.get(account.stage) == t.target,
            }
        )
    order = list(Stage)
    return sorted(out, key=lambda item: (not item["forward"], order.index(item["stage"])))


@transaction.atomic
def account_transition(
    *,
    account_id: int,
    to_stage: str,
    actor: User | None,
    role: str | None,
    reason: str = "",
    force: bool = False,
    expected_stage: str | None = None,
) -> Account:
    """Move an account to `to_stage`.

    The row is locked, so of two concurrent moves only one wins; the other sees
    the new stage and is rejected (409), and the timeline has one entry.
    """
    if to_stage not in Stage.values:
        raise ValidationError({"to_stage": [f"Unknown stage '{to_stage}'."]})
    account = Account.objects.select_for_update().get(pk=account_id)
    if expected_stage and account.stage != expected_stage:
        raise TransitionRejected(
            f"The account is now in {account.get_stage_display()}, "
            f"not {Stage(expected_stage).label}.",
            code="stale",
        )
    method = transition_method(account, to_stage)
    if method is None:
        raise TransitionRejected(
            f"Cannot move from {account.get_stage_display()} to {Stage(to_stage).label}.",
            code="not_allowed",
        )
    reason = reason.strip()
    forced = False
    guarded = FORWARD.get(account.stage) == to_stage
    missing = [a.title for a in account.missing_achievements()] if guarded else []
    if missing:
        if not force:
            raise TransitionRejected(
                "Required achievements are not done: " + ", ".join(missing) + ".",
                code="guard",
                missing=missing,
            )
        if not role_at_least(role, Role.LEADER):
            raise TransitionRejected(
                "Only a CS leader or admin can force a stage change.", code="forbidden"
            )
        if not reason:
            raise TransitionRejected(
                "A forced stage change needs a written reason.", code="reason_required"
            )
        forced = True
        account._force_transition = True
    from_stage = account.stage
    now = timezone.now()
    method()
    account._force_transition = False
    account.stage_entered_at = now
    account.save(update_fields=["stage", "stage_entered_at", "updated_at"])

    StageHistory.objects.filter(account=account, exited_at__isnull=True).update(exited_at=now)
    StageHistory.objects.create(
        account=account,
        stage=to_stage,
        entered_at=now,
        entered_by=actor,
        forced=forced,
        reason=reason,
    )
    payload = {"from": from_stage, "to": to_stage, "forced": forced, "reason": reason}
    if forced:
        payload["skipped_achievements"] = missing
    title = f"Stage changed from {Stage(from_stage).label} to {Stage(to_stage).label}"
    timeline_record(
        account=account,
        kind="stage_changed",
        title=title + (" (forced)" if forced else ""),
        body=reason,
        actor=actor,
        payload=payload,
        occurred_at=now,
    )
    event_record(
        kind="stage_changed",
        account_id=account.pk,
        payload={**payload, "actor_id": actor.pk if actor else None},
    )
    return account


# ---------------------------------------------------------------- achievements


@transaction.atomic
def achievement_complete(
    *, account: Account, achievement: StageAchievement, actor: User | None
) -> AccountAchievement:
    done, created = AccountAchievement.objects.get_or_create(
        account=account, achievement=achievement, defaults={"completed_by": actor}
    )
    if created:
        timeline_record(
            account=account,
            kind="achievement_completed",
            title=f"Achievement done: {achievement.title}",
            actor=actor,
            payload={"achievement": achievement.key, "stage": achievement.stage},
        )
    return done


@transaction.atomic
def achievement_reopen(
    *, account: Account, achievement: StageAchievement, actor: User | None
) -> None:
    deleted, _ = AccountAchievement.objects.filter(
        account=account, achievement=achievement
    ).delete()
    if deleted:
        timeline_record(
            account=account,
            kind="achievement_reopened",
            title=f"Achievement reopened: {achievement.title}",
            actor=actor,
            payload={"achievement": achievement.key, "stage": achievement.stage},
        )


DEFAULT_ACHIEVEMENTS = {
    Stage.ONBOARDING: [
        ("kickoff_held", "Kickoff call held"),
        ("admin_trained", "Admin trained"),
        ("data_imported", "Data imported"),
        ("first_value_agreed", "First value milestone agreed"),
    ],
    Stage.ADOPTION: [
        ("users_invited", "Licensed users invited"),
        ("core_feature_live", "Core feature in daily use"),
    ],
    Stage.USAGE: [
        ("usage_target_met", "Usage target met for 30 days"),
        ("success_plan_reviewed", "Success plan reviewed with champion"),
    ],
    Stage.VALUE_REALIZATION: [
        ("roi_documented", "ROI documented and shared"),
        ("exec_review_held", "Executive business review held"),
    ],
    Stage.ADVOCACY: [
        ("reference_agreed", "Agreed to act as a reference"),
    ],
}


def achievements_seed_defaults(*, tenant=None, **_ignored) -> None:
    """Receiver of tenant_created: gives a new tenant a sensible checklist."""
    rows = [
        StageAchievement(stage=stage, key=key, title=title, position=i)
        for stage, items in DEFAULT_ACHIEVEMENTS.items()
        for i, (key, title) in enumerate(items)
    ]
    StageAchievement.objects.bulk_create(rows, ignore_conflicts=True)


@transaction.atomic
def stage_achievement_save(
    *,
    achievement: StageAchievement | None = None,
    stage: str,
    key: str,
    title: str,
    required: bool = True,
    position: int = 0,
) -> StageAchievement:
    achievement = achievement or StageAchievement()
    achievement.stage, achievement.key, achievement.title = stage, key, title
    achievement.required, achievement.position = required, position
    achievement.full_clean(exclude=["tenant"], validate_constraints=False)
    if StageAchievement.objects.filter(stage=stage, key=key).exclude(pk=achievement.pk).exists():
        raise ValidationError({"key": ["This stage already has an achievement with this key."]})
    achievement.save()
    return achievement


@transaction.atomic
def stage_achievement_delete(*, achievement: StageAchievement) -> None:
    achievement.delete()


# ---------------------------------------------------------------- escalations


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


# ---------------------------------------------------------------- contacts and contracts


def _save_child(instance, *, unique_message: dict[str, list[str]]):
    instance.full_clean(exclude=["tenant", "account"], validate_constraints=False)
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError as exc:
        raise ValidationError(unique_message) from exc
    return instance


CONTACT_FIELDS = {"account", "external_id", "name", "email", "title", "role"}
CONTACT_UNIQUE = {
    "email": ["This account already has a contact with this email."],
    "external_id": ["A contact with this external id already exists."],
}


def _contact_unique_error(contact: Contact) -> dict[str, list[str]]:
    if (
        contact.external_id
        and Contact.objects.filter(external_id=contact.external_id).exclude(pk=contact.pk).exists()
    ):
        return {"external_id": CONTACT_UNIQUE["external_id"]}
    return {"email": CONTACT_UNIQUE["email"]}


@transaction.atomic
def contact_save(
    *, contact: Contact | None = None, actor: User | None = None, **fields: Any
) -> Contact:
    unknown = set(fields) - CONTACT_FIELDS
    if unknown:
        raise ValidationError({field: ["Unknown field."] for field in unknown})
    contact = contact or Contact()
    for field, value in fields.items():
        setattr(contact, field, value)
    contact.email = (contact.email or "").lower()
    return _save_child(contact, unique_message=_contact_unique_error(contact))


@transaction.atomic
def contact_upsert(
    *, external_id: str, actor: User | None = None, **fields: Any
) -> tuple[Contact, bool]:
    return _upsert(
        Contact,
        external_id=external_id,
        create=lambda: contact_save(external_id=external_id, actor=actor, **fields),
        update=lambda contact: contact_save(contact=contact, actor=actor, **fields),
    )


CONTRACT_FIELDS = {"account", "external_id", "arr", "seats", "start_date", "renewal_date", "status"}


@transaction.atomic
def contract_save(
    *, contract: Contract | None = None, actor: User | None = None, **fields: Any
) -> Contract:
    unknown = set(fields) - CONTRACT_FIELDS
    if unknown:
        raise ValidationError({field: ["Unknown field."] for field in unknown})
    creating = contract is None
    contract = contract or Contract()
    for field, value in fields.items():
        setattr(contract, field, value)
    if (
        contract.start_date
        and contract.renewal_date
        and contract.renewal_date < contract.start_date
    ):
        raise ValidationError(
            {"renewal_date": ["The renewal date cannot be before the start date."]}
        )
    _save_child(
        contract,
        unique_message={"external_id": ["A contract with this external id already exists."]},
    )
    timeline_record(
        account=contract.account,
        kind="contract_changed",
        title=(
            f"Contract added: ARR {contract.arr:,.0f}, renews {contract.renewal_date:%Y-%m-%d}"
            if creating
            else f"Contract updated: ARR {contract.arr:,.0f}, {contract.get_status_display()}"
        ),
        actor=actor,
        payload={"contract_id": contract.pk, "arr": str(contract.arr), "status": contract.status},
    )
    return contract


@transaction.atomic
def contract_upsert(
    *, external_id: str, actor: User | None = None, **fields: Any
) -> tuple[Contract, bool]:
    return _upsert(
        Contract,
        external_id=external_id,
        create=lambda: contract_save(external_id=external_id, actor=actor, **fields),
        update=lambda contract: contract_save(contract=contract, actor=actor, **fields),
    )


# ---------------------------------------------------------------- segments


@transaction.atomic
def segment_save(
    *, segment: Segment | None = None, name: str, filters: dict, description: str = ""
) -> Segment:
    segment = segment or Segment()
    segment.name, segment.description = name, description
    segment.filters = validate_segment_filters(filters)
    segment.full_clean(exclude=["tenant"], validate_constraints=False)
    if Segment.objects.filter(name=name).exclude(pk=segment.pk).exists():
        raise ValidationError({"name": ["A segment with this name already exists."]})
    segment.save()
    return segment
