"""The API-key lookup is cached in Redis (the key's hash → the key and its
tenant), revocation takes effect at once, and Redis being away only makes
the lookup go to PostgreSQL again. Also GET /api/v1/ping/, the cheapest
authenticated request."""

from __future__ import annotations

import pickle

import pytest
import redis
from django.db import connection
from django.test.utils import CaptureQueriesContext

from csplatform.tenancy import services
from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import ApiKey
from csplatform.tenancy.services import api_key_resolve, api_key_revoke

pytestmark = pytest.mark.django_db


def key_queries(client) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/ping/").status_code == 200
    return [q["sql"] for q in queries.captured_queries if "tenancy_apikey" in q["sql"]]


def test_ping_answers_an_authenticated_caller_only(api):
    assert api.get("/api/v1/ping/").json() == {}
    api.credentials(HTTP_AUTHORIZATION="Bearer csk_not-a-key")
    assert api.get("/api/v1/ping/").status_code == 401


def test_a_key_seen_once_is_looked_up_without_the_database(api):
    assert key_queries(api)  # the first request reads the key (and records its use)
    assert key_queries(api) == []


def test_a_revoked_key_is_refused_at_once_even_when_cached(tenant, api, settings):
    key_queries(api)
    with tenant_context(tenant):
        api_key_revoke(api_key=api.api_key)
    assert api.get("/api/v1/ping/").status_code == 401


def test_a_lookup_that_read_the_key_before_the_revocation_cannot_cache_it_again(
    tenant, api, django_capture_on_commit_callbacks
):
    stale = api_key_resolve(api.secret)  # read before the revocation commits ...
    with tenant_context(tenant), django_capture_on_commit_callbacks(execute=True):
        api_key_revoke(api_key=ApiKey.objects.get(pk=api.api_key.pk))
    # ... and written to the cache after it, as a slow request would.
    key = services._cache_key(stale.key_hash)
    services._cache_call("set", key, pickle.dumps(stale), ex=30, nx=True)
    assert api_key_resolve(api.secret) is None
    assert api.get("/api/v1/ping/").status_code == 401


def test_without_redis_the_key_is_read_from_the_database(api, monkeypatch):
    real = services._redis()
    kwargs = real.connection_pool.connection_kwargs
    gone = redis.Redis(
        unix_socket_path="/nonexistent/redis.sock", socket_timeout=0.5, retry=kwargs["retry"]
    )
    monkeypatch.setattr(services, "_redis", lambda: gone)
    assert key_queries(api)
    assert key_queries(api)  # nothing cached: the database each time, still 200
