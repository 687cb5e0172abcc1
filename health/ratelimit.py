"""Per-key request limits counted atomically in Redis (one Lua call: INCR and
expiry together), so concurrent floods cannot slip past as they do with
DRF's read-then-write cache throttles."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from functools import cache

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

_SCRIPT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}
"""


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0


@cache
def redis_client() -> redis.Redis:
    """A client for other best-effort counters (the ingestion log's 429s), with
    the same short timeout: the request path must not wait on Redis."""
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=0.5)


@cache
def _script():
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=0.5)
    return client.register_script(_SCRIPT)


def rate_limit_hit(*, key: str, limit: int, window_seconds: int) -> Verdict:
    """Count one request against `key`; refuse past `limit` per window.

    Fails open when Redis is unreachable: the request path only needs
    PostgreSQL, and a transient fault must never turn into a 4xx.
    """
    if limit <= 0:
        return Verdict(True)
    try:
        count, ttl_ms = _script()(
            keys=[f"{settings.CACHES['default']['KEY_PREFIX']}:rl:{key}"],
            args=[window_seconds * 1000],
        )
    except redis.RedisError:
        logger.warning("rate limiter unavailable; letting the request through", exc_info=True)
        return Verdict(True)
    if count <= limit:
        return Verdict(True)
    return Verdict(False, retry_after=max(1, math.ceil(max(ttl_ms, 0) / 1000)))
