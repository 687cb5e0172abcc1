"""Reads of usage that pages and the API share; all from the daily rollups,
never from raw events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Count, Max, Sum
from django.utils import timezone

from health.models import (
    EventName,
    Feature,
    UsageDailyAccount,
    UsageDailyAccountUser,
    UsageDailyEvent,
)
from lifecycle.models import Account, Contract, ContractStatus

UTILIZATION_DAYS = 30


@dataclass(frozen=True)
class Utilization:
    active_users: int
    seats: int

    @property
    def percent(self) -> float | None:
        return round(100 * self.active_users / self.seats, 1) if self.seats else None


def license_utilization(account_ids: list[int]) -> dict[int, Utilization]:
    """Active users in the last 30 days against the seats of active contracts,
    for many accounts in two queries."""
    since = timezone.now().date() - timedelta(days=UTILIZATION_DAYS - 1)
    active = dict(
        UsageDailyAccountUser.objects.filter(account_id__in=account_ids, day__gte=since)
        .values("account_id")
        .annotate(n=Count("user_id", distinct=True))
        .values_list("account_id", "n")
    )
    seats = dict(
        Contract.objects.filter(account_id__in=account_ids, status=ContractStatus.ACTIVE)
        .values("account_id")
        .annotate(n=Sum("seats"))
        .values_list("account_id", "n")
    )
    return {
        pk: Utilization(active_users=active.get(pk, 0), seats=seats.get(pk) or 0)
        for pk in account_ids
    }


def usage_summary(account: Account, *, days: int = 90) -> dict:
    today = timezone.now().date()
    since = today - timedelta(days=days - 1)
    daily = {
        row.day: row for row in UsageDailyAccount.objects.filter(account=account, day__gte=since)
    }
    series = []
    for offset in range(days):
        day: date = since + timedelta(days=offset)
        row = daily.get(day)
        series.append(
            {
                "day": day.isoformat(),
                "events": row.events if row else 0,
                "active_users": row.active_users if row else 0,
            }
        )
    used_names = set(
        UsageDailyEvent.objects.filter(account=account, day__gte=since)
        .values_list("event", flat=True)
        .distinct()
    )
    catalogue = {
        e.name: e for e in EventName.objects.select_related("feature").filter(name__in=used_names)
    }
    features_used = sorted(
        {catalogue[n].feature.name for n in used_names if n in catalogue and catalogue[n].feature}
    )
    utilization = license_utilization([account.pk])[account.pk]
    return {
        "days": days,
        "series": series,
        "events_used": sorted(used_names),
        "features_used": features_used,
        "features_in_catalogue": Feature.objects.count(),
        "license_utilization": {
            "active_users_30d": utilization.active_users,
            "seats": utilization.seats,
            "percent": utilization.percent,
        },
    }


@dataclass(frozen=True)
class FeatureUse:
    feature: Feature
    last_used: date | None  # the last day in the window with one of its events
    used_recently: bool  # within the last UTILIZATION_DAYS days


def account_usage_panel(account: Account, *, days: int = 90) -> dict:
    """The account page's usage panel: the daily series, each catalogue
    feature with its last use, unmapped event names and license utilization.
    Six queries whatever the amount of data."""
    today = timezone.now().date()
    since = today - timedelta(days=days - 1)
    recent_since = today - timedelta(days=UTILIZATION_DAYS - 1)
    daily = {
        row["day"]: row
        for row in UsageDailyAccount.objects.filter(account=account, day__gte=since).values(
            "day", "events", "active_users"
        )
    }
    series = []
    for offset in range(days):
        day = since + timedelta(days=offset)
        row = daily.get(day, {})
        series.append(
            {"day": day, "events": row.get("events", 0), "active_users": row.get("active_users", 0)}
        )
    last_by_name = dict(
        UsageDailyEvent.objects.filter(account=account, day__gte=since)
        .values("event")
        .annotate(last_day=Max("day"))
        .order_by()
        .values_list("event", "last_day")
    )
    feature_of = dict(
        EventName.objects.filter(name__in=list(last_by_name)).values_list("name", "feature_id")
    )
    last_by_feature: dict[int, date] = {}
    for name, last_day in last_by_name.items():
        feature_id = feature_of.get(name)
        if feature_id is not None:
            last_by_feature[feature_id] = max(last_day, last_by_feature.get(feature_id, last_day))
    features = []
    for feature in Feature.objects.order_by("-counts_for_adoption", "name"):
        last = last_by_feature.get(feature.pk)
        recent = last is not None and last >= recent_since
        features.append(FeatureUse(feature=feature, last_used=last, used_recently=recent))
    key_features = [use for use in features if use.feature.counts_for_adoption]
    return {
        "days": days,
        "recent_days": UTILIZATION_DAYS,
        "recent_since": recent_since,
        "series": series,
        "has_usage": bool(daily),
        "total_events": sum(point["events"] for point in series),
        "peak_active_users": max(point["active_users"] for point in series),
        "features": features,
        "features_used": sum(use.used_recently for use in features),
        "key_features_total": len(key_features),
        "key_features_used": sum(use.used_recently for use in key_features),
        "unmapped_events": sorted(name for name in last_by_name if feature_of.get(name) is None),
        "utilization": license_utilization([account.pk])[account.pk],
    }


def event_counts_since(day: date, *, names: list[str] | None = None) -> dict[str, int]:
    """Events per event name since `day`, over every account, in one query."""
    rows = UsageDailyEvent.objects.filter(day__gte=day)
    if names is not None:
        rows = rows.filter(event__in=names)
    return dict(rows.values("event").annotate(n=Sum("events")).order_by().values_list("event", "n"))
