"""Scheduling work that drains a queue table (the rollup fold, the re-score)
without a task per change, through Redis flags.

- `schedule_once`: at most one queued task per tenant. A flag set with NX
  marks "one is on its way"; the task clears it when it starts, so anything
  committed after that schedules the next run, and anything before it is
  seen by this one (the re-score).
- `schedule_throttled`: at most one run per tenant per window. The first
  request after a quiet spell runs at once and opens the window; later ones
  book a single run for the window's end; that run opens the next window
  when it starts (the fold).

Best effort by design, and never the only record of pending work: the queue
tables are in PostgreSQL, and the beat sweeps drain them without reading a
flag. With Redis or the broker down, or a worker killed holding a task,
nothing is lost; a flag left behind expires by its TTL, and until then the
sweep does the work."""

from __future__ import annotations

import logging
from collections.abc import Callable

import kombu.exceptions
import redis
from django.conf import settings

from health.ratelimit import redis_client

logger = logging.getLogger(__name__)

_FAILURES = (redis.RedisError, kombu.exceptions.OperationalError)


def _flag(name: str, tenant_id: int) -> str:
    return f"{settings.CACHES['default']['KEY_PREFIX']}:{name}:{tenant_id}"


def schedule_once(name: str, tenant_id: int, *, ttl: int, send: Callable[[], object]) -> bool:
    """Call `send` (which queues the task) unless one is already on its way.
    `ttl` bounds how long a lost task can hold the flag."""
    try:
        if not redis_client().set(_flag(name, tenant_id), 1, nx=True, ex=ttl):
            return False
        send()
    except _FAILURES:
        logger.warning("could not schedule %s; the beat sweep will", name, exc_info=True)
        return False
    return True


def schedule_clear(name: str, tenant_id: int) -> None:
    try:
        redis_client().delete(_flag(name, tenant_id), _flag(f"{name}:booked", tenant_id))
    except redis.RedisError:
        logger.warning("could not clear the %s flag", name, exc_info=True)


def schedule_throttled(
    name: str, tenant_id: int, *, window: int, send: Callable[[float], object]
) -> str | None:
    """Call `send(countdown)` so that the work runs at most once per `window`
    seconds: "now" (countdown 0, the window opens), "later" (booked for the
    window's end), or None when a run already booked will see this request."""
    window_ms = window * 1000
    try:
        client = redis_client()
        key = _flag(name, tenant_id)
        if client.set(key, 1, nx=True, px=window_ms):
            send(0)
            return "now"
        remaining = client.pttl(key)
        if remaining <= 0:  # the window closed in between: the next request opens one
            remaining = 1
        # The booking lasts as long as the window, so one run is booked per window.
        if client.set(_flag(f"{name}:booked", tenant_id), 1, nx=True, px=remaining):
            send(remaining / 1000)
            return "later"
    except _FAILURES:
        logger.warning("could not schedule %s; the beat sweep will", name, exc_info=True)
    return None


def window_open(name: str, tenant_id: int, *, window: int, booked: bool) -> None:
    """Called by the throttled task as it starts: its window runs from now
    (requests until its end book the next run), and a booked run frees the
    booking for the next window."""
    try:
        client = redis_client()
        client.set(_flag(name, tenant_id), 1, px=window * 1000)
        if booked:
            client.delete(_flag(f"{name}:booked", tenant_id))
    except redis.RedisError:
        logger.warning("could not open the %s window", name, exc_info=True)
