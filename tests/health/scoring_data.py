"""Hand-built inputs for health scoring tests: rollup rows, catalogue,
NPS answers, notes and sentiment, written straight into the tenant's tables."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from health.measures import BY_NAME
from health.models import (
    EventName,
    Feature,
    HealthProfile,
    Measure,
    UsageDailyAccount,
    UsageDailyAccountUser,
    UsageDailyEvent,
)
from health.services import health_defaults_ensure, health_profile_save

TODAY = timezone.now().date()


def only_profile(weights: dict[str, int] | None = None, **fields) -> HealthProfile:
    """Replace the starting profiles with one default profile of these
    measures (all nine, weight 10, when not given), at the default thresholds."""
    health_defaults_ensure()
    HealthProfile.objects.all().delete()
    weights = weights or dict.fromkeys(Measure.values, 10)
    measures = {
        m: {"weight": w, "bad": BY_NAME[m].bad, "good": BY_NAME[m].good} for m, w in weights.items()
    }
    return health_profile_save(
        name=fields.pop("name", "Everything"),
        measures=measures,
        is_default=True,
        rescore=False,
        **fields,
    )


def active_days(account, days_ago: list[int], *, events: int = 10, users: int = 1) -> None:
    UsageDailyAccount.objects.bulk_create(
        [
            UsageDailyAccount(
                account=account, day=TODAY - timedelta(days=d), events=events, active_users=users
            )
            for d in days_ago
        ]
    )


def users_seen(account, user_ids: list[str], *, days_ago: int = 1) -> None:
    UsageDailyAccountUser.objects.bulk_create(
        [
            UsageDailyAccountUser(account=account, day=TODAY - timedelta(days=days_ago), user_id=u)
            for u in user_ids
        ]
    )


def event_used(account, name: str, *, days_ago: int = 1, events: int = 1) -> None:
    EventName.objects.get_or_create(name=name)  # as ingestion lists it
    UsageDailyEvent.objects.create(
        account=account, event=name, day=TODAY - timedelta(days=days_ago), events=events, users=1
    )


def catalogue(key_features: list[str], other_features: list[str] = ()) -> None:
    """One event name per feature, named like the feature."""
    for name in [*key_features, *other_features]:
        feature = Feature.objects.create(name=name, counts_for_adoption=name in key_features)
        EventName.objects.update_or_create(name=name, defaults={"feature": feature})


def breakdown(score) -> dict[str, dict]:
    """The score's working by measure, as the card and the API show it."""
    from health.selectors import score_card

    return {
        line.measure: {
            "raw": line.raw,
            "inputs": line.inputs,
            "points": line.points,
            "share": line.share,
            "contribution": line.contribution,
            "missing": line.missing,
        }
        for line in score_card(score.account).lines
    }
