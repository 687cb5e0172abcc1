"""Reads of usage that pages and the API share; all from the daily rollups,
never from raw events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import redis
from django.db.models import Count, Max, Q, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from csplatform.tenancy.context import current_tenant_id
from csplatform.tenancy.models import ApiKey
from health.models import (
    EventName,
    Feature,
    IngestionLog,
    UsageDailyAccount,
    UsageDailyAccountUser,
    UsageDailyEvent,
)
from health.ratelimit import redis_client
from health.services import rate_limited_redis_key
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


# --- Ingestion log: accepted and rejected per key per hour, last errors ---
# Imported here rather than at the top, to keep this section self-contained.

INGESTION_HOURS = 24
INGESTION_COUNTS = (
    "requests",
    "accepted",
    "duplicates",
    "rejected_events",
    "rejected_requests",
    "rate_limited",
)
NO_KEY_LABEL = "Signed-in users and deleted keys"


def _zero() -> dict:
    return dict.fromkeys(INGESTION_COUNTS, 0)


def _rate_limited_by_hour(hours: list[datetime]) -> dict[tuple[int | None, datetime], int] | None:
    """429s per (key id, hour) from Redis in one round trip; None when Redis
    cannot answer (the page says so rather than showing zeros as fact)."""
    tenant_id = current_tenant_id()
    try:
        pipe = redis_client().pipeline(transaction=False)
        for hour in hours:
            pipe.hgetall(rate_limited_redis_key(tenant_id, hour))
        answers = pipe.execute()
    except redis.RedisError:
        return None
    counts = {}
    for hour, fields in zip(hours, answers, strict=True):
        for key_id, n in fields.items():
            counts[(int(key_id) or None, hour)] = int(n)
    return counts


def ingestion_summary(*, now: datetime | None = None) -> dict:
    """The last 24 hours of ingestion per API key per hour (UTC), with totals
    per key. Two SQL queries (one GROUP BY over the log, one for key names)
    and one Redis round trip, however many requests were logged."""
    now = now or timezone.now()
    current_hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    hours = [current_hour - timedelta(hours=n) for n in range(INGESTION_HOURS)]
    since = hours[-1]
    rows = (
        IngestionLog.objects.filter(received_at__gte=since)
        .annotate(hour=TruncHour("received_at", tzinfo=UTC))
        .values("api_key_id", "hour")
        .annotate(
            requests=Count("id"),
            accepted=Sum("accepted"),
            duplicates=Sum("duplicates"),
            rejected_events=Sum("rejected"),
            rejected_requests=Count("id", filter=Q(status__gte=400)),
        )
        .order_by()  # the model's ordering would join the GROUP BY
    )
    cells: dict[tuple[int | None, datetime], dict] = {}
    for row in rows:
        cell = cells.setdefault((row["api_key_id"], row["hour"]), _zero())
        for count in INGESTION_COUNTS[:-1]:
            cell[count] = row[count] or 0
    rate_limited = _rate_limited_by_hour(hours)
    for (key_id, hour), n in (rate_limited or {}).items():
        cells.setdefault((key_id, hour), _zero())["rate_limited"] = n

    names = {
        pk: (name, prefix)
        for pk, name, prefix in ApiKey.objects.order_by().values_list("id", "name", "prefix")
    }
    keys: dict[int | None, dict] = {}
    for (key_id, hour), cell in cells.items():
        # A key deleted since (SET_NULL leaves None) or a 429 of a key of
        # which only Redis knows: shown without a name rather than dropped.
        name, prefix = names.get(key_id, (NO_KEY_LABEL, ""))
        key = keys.setdefault(
            key_id,
            {"api_key_id": key_id, "name": name, "prefix": prefix, "hours": [], "totals": _zero()},
        )
        key["hours"].append({"hour": hour, **cell})
        for count in INGESTION_COUNTS:
            key["totals"][count] += cell[count]
    for key in keys.values():
        key["hours"].sort(key=lambda h: h["hour"], reverse=True)
    return {
        "since": since,
        "until": current_hour + timedelta(hours=1),
        "rate_limited_available": rate_limited is not None,
        "keys": sorted(keys.values(), key=lambda k: (k["api_key_id"] is None, k["name"].lower())),
    }


def ingestion_errors():
    """Requests with a rejection, newest first (the partial index serves this)."""
    return (
        IngestionLog.objects.filter(Q(status__gte=400) | Q(rejected__gt=0))
        .select_related("api_key")
        .order_by("-received_at", "-id")
    )


def ingestion_recent_errors(*, limit: int = 50) -> list[dict]:
    """The last `limit` rejections, one entry per rejected event (its index
    and reason) or per refused request (its reason), newest first. One query:
    at most `limit` log rows can be needed."""
    entries: list[dict] = []
    for log in ingestion_errors()[:limit]:
        base = {"log": log, "received_at": log.received_at, "status": log.status}
        if log.status >= 400 or not log.errors:
            entries.append({**base, "index": None, "reason": log.detail})
        else:
            entries.extend({**base, **error} for error in log.errors)
            if log.rejected > len(log.errors):  # only a sample is kept per request
                more = log.rejected - len(log.errors)
                entries.append({**base, "index": None, "reason": f"and {more} more rejected"})
        if len(entries) >= limit:
            break
    return entries[:limit]


# --- The account page's usage panel and the feature catalogue ---


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
        # Seats with no usage ever are unknown utilization, not 0%; only then
        # does it cost a query.
        "ever_used": bool(daily) or UsageDailyAccount.objects.filter(account=account).exists(),
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
