"""The ingestion log: what each ingestion request got, for the tenant to see."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis
from django.conf import settings
from django.utils import timezone

from csplatform.tenancy.context import current_tenant_id
from csplatform.tenancy.tasks import for_each_tenant
from health.models import INGESTION_SAMPLE, IngestionLog
from health.ratelimit import redis_client
from health.services.usage import BatchResult

RATE_LIMITED_TTL_SECONDS = 48 * 3600


def rate_limited_redis_key(tenant_id: int, hour: datetime) -> str:
    """One Redis hash per tenant per UTC hour; fields are API key ids ("0": a
    signed-in session)."""
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    return f"{prefix}:rl:ingest429:{tenant_id}:{hour.astimezone(UTC):%Y%m%d%H}"


def _rate_limited_count(*, api_key_id: int | None) -> None:
    """A flood must not write to PostgreSQL: count it in Redis, best effort."""
    key = rate_limited_redis_key(current_tenant_id(), timezone.now())
    try:
        pipe = redis_client().pipeline(transaction=True)
        pipe.hincrby(key, str(api_key_id or 0), 1)
        pipe.expire(key, RATE_LIMITED_TTL_SECONDS)
        pipe.execute()
    except redis.RedisError:
        pass  # a lost count is better than a slower or failed answer


def ingestion_request_record(
    *,
    api_key_id: int | None,
    source: str,
    status: int,
    result: BatchResult | dict | None = None,
    detail: str = "",
    request_id: str = "",
) -> IngestionLog | None:
    """Log one ingestion request of the tenant in context: a single INSERT in
    the request's transaction (or in one of its own after a rollback), never
    an update of a shared counter row. 429s go to a Redis counter instead;
    nothing else is read or written."""
    if status == 429:
        _rate_limited_count(api_key_id=api_key_id)
        return None
    if isinstance(result, BatchResult):
        result = result.as_dict()
    result = result or {}
    rejected = result.get("rejected") or []
    return IngestionLog.objects.create(
        api_key_id=api_key_id,
        source=source,
        status=status,
        accepted=result.get("accepted") or 0,
        duplicates=result.get("duplicates") or 0,
        rejected=len(rejected),
        errors=[
            {"index": r.get("index"), "reason": str(r.get("reason", ""))[:300]}
            for r in rejected[:INGESTION_SAMPLE]
        ],
        detail=str(detail)[:500],
        request_id=str(request_id)[:64],
    )


def ingestion_log_prune(*, older_than: timedelta) -> int:
    """Drop ingestion log rows past CSP_INGESTION_LOG_DAYS, tenant by tenant
    as row-level security requires."""
    cutoff = timezone.now() - older_than
    return sum(
        for_each_tenant(lambda _: IngestionLog.objects.filter(received_at__lt=cutoff).delete()[0])
    )
