"""Hand-built ingestion log rows with known per-key per-hour numbers, shared by
the page and API tests."""

from __future__ import annotations

from datetime import timedelta

import redis
from django.conf import settings
from django.utils import timezone

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Role
from csplatform.tenancy.services import api_key_create
from health.models import IngestionLog
from health.services import rate_limited_redis_key

COUNTS = [
    "requests",
    "accepted",
    "duplicates",
    "rejected_events",
    "rejected_requests",
    "rate_limited",
]


def hours_ago(n: int):
    """The start of the UTC hour `n` hours before the current one. Rows two
    and one hours back stay inside the 24-hour window even if the clock
    crosses an hour while a test runs."""
    return timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=n)


def log(key, at, status=200, accepted=0, duplicates=0, errors=(), detail=""):
    errors = list(errors)
    return IngestionLog.objects.create(
        api_key=key,
        source="segment" if key is not None and "Segment" in key.name else "events",
        received_at=at,
        status=status,
        accepted=accepted,
        duplicates=duplicates,
        rejected=len(errors),
        errors=errors,
        detail=detail,
    )


def build(tenant, label: str = "") -> dict:
    """Two keys, two hours, one old row outside the window, 4 rate-limited
    requests of key A in hour h1. Returns the keys, hours and expectations."""
    h1, h2 = hours_ago(1), hours_ago(2)
    m = timedelta(minutes=1)
    with tenant_context(tenant):
        a = api_key_create(name=f"{label}CRM sync", role=Role.CSM).api_key
        b = api_key_create(name=f"{label}Segment", role=Role.CSM).api_key
        log(
            a,
            h1 + 5 * m,
            accepted=5,
            duplicates=1,
            errors=[
                {"index": 0, "reason": "event is required"},
                {"index": 3, "reason": "timestamp is in the future"},
            ],
        )
        log(a, h1 + 20 * m, status=413, detail="Body larger than 1048576 bytes.")
        log(a, h2 + 10 * m, accepted=3)
        log(b, h1 + 30 * m, status=400, detail="The body is not valid JSON.")
        log(b, h1 + 40 * m, accepted=10, errors=[{"index": 7, "reason": "account_id is required"}])
        log(a, timezone.now() - timedelta(hours=30), status=400, accepted=99, detail="old failure")
    client = redis.Redis.from_url(settings.REDIS_URL)
    key = rate_limited_redis_key(tenant.pk, h1)
    client.hincrby(key, str(a.pk), 4)
    client.expire(key, 3600)
    return {
        "a": a,
        "b": b,
        "h1": h1,
        "h2": h2,
        # key -> (totals, {hour: counts}) in COUNTS order
        "expected": {
            a.pk: ([3, 8, 1, 2, 1, 4], {h1: [2, 5, 1, 2, 1, 4], h2: [1, 3, 0, 0, 0, 0]}),
            b.pk: ([2, 10, 0, 1, 1, 0], {h1: [2, 10, 0, 1, 1, 0]}),
        },
        # newest first: (status, index, reason)
        "errors": [
            (200, 7, "account_id is required"),
            (400, None, "The body is not valid JSON."),
            (413, None, "Body larger than 1048576 bytes."),
            (200, 0, "event is required"),
            (200, 3, "timestamp is in the future"),
            (400, None, "old failure"),
        ],
    }


def two_keys(tenant) -> list:
    with tenant_context(tenant):
        return [api_key_create(name=n, role=Role.CSM).api_key for n in ("CRM sync", "Segment")]


def more_rows(tenant, keys, n: int) -> None:
    """`n` more rows spread over the keys and the last hours, some failing."""
    with tenant_context(tenant):
        for i in range(n):
            at = hours_ago(i % 5 + 1) + timedelta(minutes=i % 50)
            if i % 3:
                log(keys[i % len(keys)], at, accepted=i, errors=[{"index": 0, "reason": "bad"}])
            else:
                log(keys[i % len(keys)], at, status=400, detail="The body is not valid JSON.")
