"""Lists the API pages through: current scores with filters, NPS responses
and CSM sentiments. Each is one queryset with its related rows joined, so a
page costs the same number of queries for 3 rows as for 3,000."""

from __future__ import annotations

from django.db.models import F, Q, QuerySet

from health.models import CsmSentiment, HealthProfile, HealthScore, NpsResponse
from lifecycle.models import Account, Segment
from lifecycle.segments import segment_members_q

NPS_CATEGORIES = {
    "promoter": Q(score__gte=9),
    "passive": Q(score__gte=7, score__lte=8),
    "detractor": Q(score__lte=6),
}


def health_score_list(
    *,
    band: str = "",
    profile: HealthProfile | None = None,
    owner_id: int | None = None,
    segment: Segment | None = None,
    descending: bool = False,
) -> QuerySet[HealthScore]:
    """Current scores with their account, owner and profile, lowest score
    first (or highest with `descending`); accounts without data last."""
    qs = HealthScore.objects.select_related("account", "account__owner", "profile")
    if band:
        qs = qs.filter(band=band)
    if profile is not None:
        qs = qs.filter(profile=profile)
    if owner_id:
        qs = qs.filter(account__owner_id=owner_id)
    if segment is not None:
        qs = qs.filter(account__in=Account.objects.filter(segment_members_q(segment)).values("id"))
    score = F("score").desc(nulls_last=True) if descending else F("score").asc(nulls_last=True)
    return qs.order_by(score, "account__name", "account_id")


def nps_response_list(*, account: Account | None = None, category: str = "") -> QuerySet:
    """NPS responses, newest first."""
    qs = NpsResponse.objects.select_related("account")
    if account is not None:
        qs = qs.filter(account=account)
    if category:
        qs = qs.filter(NPS_CATEGORIES[category])
    return qs.order_by("-responded_at", "-id")


def sentiments_for(account: Account) -> QuerySet[CsmSentiment]:
    """The CSM judgements of an account, newest first."""
    return (
        CsmSentiment.objects.filter(account=account)
        .select_related("set_by")
        .order_by("-created_at", "-id")
    )


def health_profile_list() -> QuerySet[HealthProfile]:
    """Profiles in the order they are tried, with their measures."""
    return HealthProfile.objects.prefetch_related("measures").order_by("position", "id")
