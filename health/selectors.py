"""Reads of usage that pages and the API share; all from the daily rollups,
never from raw events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Count, Sum
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
