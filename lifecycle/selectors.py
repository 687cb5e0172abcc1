"""Reads that pages and the API share. Each returns a queryset whose cost in
queries does not grow with the number of rows."""

from __future__ import annotations

from django.db.models import DecimalField, Min, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from csplatform.tenancy.models import Membership, User
from lifecycle.models import (
    OWNER_ROLES,
    Account,
    AccountAchievement,
    Contract,
    ContractStatus,
    Escalation,
    Segment,
    StageAchievement,
    StageHistory,
    TimelineEntry,
)
from lifecycle.segments import segment_members_q


def _active_contracts():
    return Contract.objects.filter(account=OuterRef("pk"), status=ContractStatus.ACTIVE)


def account_list(
    *,
    search: str = "",
    stage: str = "",
    owner_id: int | None = None,
    segment: Segment | None = None,
    escalated: bool | None = None,
    tier: str = "",
) -> QuerySet[Account]:
    qs = Account.objects.select_related("owner").annotate(
        arr=Coalesce(
            Subquery(
                _active_contracts().values("account").annotate(total=Sum("arr")).values("total")[:1]
            ),
            Value(0),
            output_field=DecimalField(max_digits=14, decimal_places=2),
        ),
        next_renewal=Subquery(
            _active_contracts()
            .filter(renewal_date__gte=timezone.localdate())
            .values("account")
            .annotate(first=Min("renewal_date"))
            .values("first")[:1]
        ),
    )
    if search:
        qs = qs.filter(Q(name__icontains=search) | Q(external_id__iexact=search))
    if stage:
        qs = qs.filter(stage=stage)
    if owner_id:
        qs = qs.filter(owner_id=owner_id)
    if tier:
        qs = qs.filter(tier=tier)
    if escalated is not None:
        qs = qs.filter(is_escalated=escalated)
    if segment is not None:
        qs = qs.filter(segment_members_q(segment))
    return qs.order_by("name", "id")


def account_checklist(account: Account) -> list[dict]:
    """The current stage's achievements with done/undone, in two queries."""
    done = {
        row.achievement_id: row
        for row in AccountAchievement.objects.filter(account=account).select_related("completed_by")
    }
    return [
        {"achievement": a, "done": done.get(a.pk)}
        for a in StageAchievement.objects.filter(stage=account.stage).order_by("position", "id")
    ]


def timeline_for(*, account: Account | None = None, kind: str = "") -> QuerySet[TimelineEntry]:
    qs = TimelineEntry.objects.select_related("actor")
    if account is not None:
        qs = qs.filter(account=account)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("-occurred_at", "-id")


def escalations_for(account: Account) -> QuerySet[Escalation]:
    return Escalation.objects.filter(account=account).select_related("opened_by", "resolved_by")


def stage_history_for(account: Account) -> QuerySet[StageHistory]:
    return StageHistory.objects.filter(account=account).select_related("entered_by")


def stage_counts() -> dict[str, int]:
    from django.db.models import Count

    return dict(Account.objects.values_list("stage").annotate(n=Count("id")).order_by())


def time_to_onboard_days(account: Account) -> float | None:
    """Days from the first onboarding stay to the first move out of onboarding."""
    first = (
        StageHistory.objects.filter(account=account, stage="onboarding")
        .order_by("entered_at")
        .first()
    )
    if not first or not first.exited_at:
        return None
    return (first.exited_at - first.entered_at).total_seconds() / 86400


def account_owner_candidates() -> QuerySet:
    """The members who may own accounts (OWNER_ROLES), by name, for pickers."""
    return User.objects.filter(
        pk__in=Membership.objects.filter(role__in=OWNER_ROLES).values("user_id")
    ).order_by("full_name", "email")
