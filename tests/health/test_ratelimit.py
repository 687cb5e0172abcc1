"""Per-key limits on ingestion, counted atomically in Redis."""

import threading
import uuid

import pytest

from health.ratelimit import rate_limit_hit
from tests.health.test_ingest import client_for, ev, post, stored

pytestmark = pytest.mark.django_db


def test_a_flood_gets_429_with_retry_after(tenant, settings):
    settings.USAGE_RATE_LIMIT = 3
    client = client_for(tenant)
    codes = [post(client, ev(i)).status_code for i in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    response = post(client, ev(9))
    assert int(response["Retry-After"]) in range(1, settings.USAGE_RATE_WINDOW_SECONDS + 1)
    assert len(stored(tenant)) == 3


def test_limits_are_per_key(tenant, settings):
    settings.USAGE_RATE_LIMIT = 1
    first, second = client_for(tenant), client_for(tenant)
    assert post(first, ev(1)).status_code == 200
    assert post(first, ev(2)).status_code == 429
    assert post(second, ev(3)).status_code == 200


def test_concurrent_hits_never_exceed_the_limit():
    key = f"test:{uuid.uuid4()}"
    allowed = []
    barrier = threading.Barrier(40)

    def hit():
        barrier.wait(timeout=10)
        allowed.append(rate_limit_hit(key=key, limit=10, window_seconds=60).allowed)

    threads = [threading.Thread(target=hit) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert allowed.count(True) == 10 and len(allowed) == 40


def test_the_limiter_fails_open_when_redis_is_unreachable(settings):
    from health import ratelimit

    ratelimit._script.cache_clear()
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    try:
        assert rate_limit_hit(key="x", limit=1, window_seconds=60).allowed
        assert rate_limit_hit(key="x", limit=1, window_seconds=60).allowed
    finally:
        ratelimit._script.cache_clear()
