"""Stage transitions and the achievements that guard them."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_fsm import Transition

from csplatform.events.services import event_record
from csplatform.tenancy.models import Role, User, role_at_least
from lifecycle.errors import TransitionRejected
from lifecycle.models import (
    Account,
    AccountAchievement,
    Stage,
    StageAchievement,
    StageHistory,
)
from lifecycle.services.timeline import timeline_record


def _moves_to(account: Account, to_stage: str) -> dict[bool, Transition]:
    """The FSM's moves from the account's stage to `to_stage`, keyed by
    whether they are the forced twin of a guarded move."""
    return {
        bool(t.custom.get("forced")): t
        for t in account.get_all_stage_transitions()
        if t.source in (account.stage, "*") and t.target == to_stage
    }


def transition_method(account: Account, to_stage: str, *, forced: bool = False):
    """The FSM transition from the account's stage to `to_stage`, or None."""
    move = _moves_to(account, to_stage).get(forced)
    return getattr(account, move.name) if move else None


def allowed_targets(account: Account) -> list[dict]:
    """Every stage reachable now, with whether its guard is met (for buttons)."""
    out = []
    missing = None
    for t in account.get_all_stage_transitions():
        if t.source not in (account.stage, "*") or t.custom.get("forced"):
            continue
        guarded = bool(t.conditions)
        if guarded and missing is None:
            missing = [a.title for a in account.missing_achievements()]
        label = Stage(t.target).label
        out.append(
            {
                "stage": t.target,
                "label": label,
                "transition": t.name,
                "guarded": guarded,
                "ready": not guarded or not missing,
                "missing": missing if guarded else [],
                # the guarded move is the next step of the journey
                "forward": guarded,
                "button": t.custom.get("label") or f"Move to {label}",
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
    moves = _moves_to(account, to_stage)
    move = moves.get(False)
    if move is None:
        raise TransitionRejected(
            f"Cannot move from {account.get_stage_display()} to {Stage(to_stage).label}.",
            code="not_allowed",
        )
    reason = reason.strip()
    forced = False
    missing = [a.title for a in account.missing_achievements()] if move.conditions else []
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
        move = moves[True]  # the same move without the guard
    from_stage = account.stage
    now = timezone.now()
    getattr(account, move.name)()
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
        # Outcomes feed health and, later, rules: others react after commit.
        event_record(
            kind="achievement_completed",
            account_id=account.pk,
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
        event_record(
            kind="achievement_reopened",
            account_id=account.pk,
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
