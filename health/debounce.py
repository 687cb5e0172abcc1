"""At most one queued task per tenant for work that drains a queue table
(the rollup fold, the re-score): a Redis flag set with NX marks "one is on
its way"; the task clears it when it starts, so anything committed after
that schedules the next run, and anything before it is seen by this one.
Best effort by design: with Redis or the broker down nothing is scheduled
and the beat sweeps drain the queue tables instead, so nothing is lost."""

from __future__ import annotations

import logging
from collections.abc import Callable

import kombu.exceptions
import redis
from django.conf import settings

from health.ratelimit import redis_client

logger = logging.getLogger(__name__)


def _flag(name: str, tenant_id: int) -> str:
    return f"{settings.CACHES['default']['KEY_PREFIX']}:{name}:{tenant_id}"


def schedule_once(name: str, tenant_id: int, *, ttl: int, send: Callable[[], object]) -> bool:
    """Call `send` (which queues the task) unless one is already on its way.
    `ttl` bounds how long a lost task can hold the flag."""
    try:
        if not redis_client().set(_flag(name, tenant_id), 1, nx=True, ex=ttl):
            return False
        send()
    except (redis.RedisError, kombu.exceptions.OperationalError):
        logger.warning("could not schedule %s; the beat sweep will", name, exc_info=True)
        return False
    return True


def schedule_clear(name: str, tenant_id: int) -> None:
    try:
        redis_client().delete(_flag(name, tenant_id))
    except redis.RedisError:
        logger.warning("could not clear the %s flag", name, exc_info=True)
