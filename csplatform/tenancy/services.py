"""Writes for tenants, memberships and API keys."""

from __future__ import annotations

import logging
import pickle
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from redis.backoff import NoBackoff
from redis.retry import Retry

from csplatform.tenancy.context import API_KEY_SETTING, USER_SETTING, db_setting, tenant_context
from csplatform.tenancy.models import (
    ApiKey,
    Membership,
    Role,
    Tenant,
    User,
    hash_api_key,
    new_api_key_secret,
)
from csplatform.tenancy.signals import tenant_created

logger = logging.getLogger(__name__)


@transaction.atomic
def tenant_create(*, name: str, slug: str = "") -> Tenant:
    tenant = Tenant.objects.create(name=name, slug=slug or slugify(name))
    with tenant_context(tenant):
        tenant_created.send(sender=Tenant, tenant=tenant)
    return tenant


def membership_add(*, tenant: Tenant, user: User, role: str = Role.CSM, **extra) -> Membership:
    with tenant_context(tenant):
        membership, _ = Membership.objects.update_or_create(
            user=user, defaults={"role": role, **extra}
        )
    return membership


def memberships_of_user(user: User) -> list[Membership]:
    """The tenants a signed-in user may act for, across tenants by design.

    Row-level security lets a user see their own memberships through the
    `csp.user_id` setting; nothing else of other tenants.
    """
    with db_setting(USER_SETTING, str(user.pk)):
        return list(
            Membership.all_tenants.filter(user=user)
            .select_related("tenant")
            .order_by("tenant__name")
        )


def membership_for(user: User, tenant_slug: str) -> Membership | None:
    with db_setting(USER_SETTING, str(user.pk)):
        return (
            Membership.all_tenants.filter(user=user, tenant__slug=tenant_slug)
            .select_related("tenant")
            .first()
        )


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    secret: str  # shown once, never stored


def api_key_create(
    *, name: str, role: str = Role.CSM, created_by: User | None = None
) -> IssuedApiKey:
    """Create a key for the tenant in context. The caller shows `secret` once."""
    secret = new_api_key_secret()
    api_key = ApiKey.objects.create(
        name=name,
        role=role,
        prefix=secret[:10],
        key_hash=hash_api_key(secret),
        created_by=created_by,
    )
    return IssuedApiKey(api_key=api_key, secret=secret)


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    """Revoke at once: the key's cached lookup goes now, and once this commits
    a tombstone stops any request that read the key before the commit from
    caching it again."""
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at", "updated_at"])
    key = _cache_key(api_key.key_hash)
    _cache_call("delete", key)
    transaction.on_commit(lambda: _cache_call("set", key, _REVOKED, ex=API_KEY_CACHE_SECONDS))
    return api_key


# Every API request looks its key up before anything else; the lookup (a
# transaction of its own, three statements) was a third of a single-event
# request. A found key is kept in Redis this long; revoking it removes it.
API_KEY_CACHE_SECONDS = 30
_REVOKED = b"revoked"


@cache
def _redis() -> redis.Redis:
    # Short timeouts and no retries (redis-py retries thrice with backoff by
    # default, seconds per call): a Redis that is away must not hold the
    # request; the lookup then goes to PostgreSQL as before.
    return redis.Redis.from_url(
        settings.REDIS_URL,
        socket_timeout=0.5,
        socket_connect_timeout=0.5,
        retry=Retry(NoBackoff(), 0),
    )


def _cache_key(digest: str) -> str:
    # The hash is what the database stores too; the secret is never a key.
    return f"{settings.CACHES['default']['KEY_PREFIX']}:apikey:{digest}"


def _cache_call(method: str, *args, **kwargs):
    try:
        return getattr(_redis(), method)(*args, **kwargs)
    except redis.RedisError:
        logger.warning("API key cache unavailable (%s)", method, exc_info=True)
        return None


def api_key_resolve(secret: str) -> ApiKey | None:
    """Find an active key by its hash, before any tenant is known: from the
    cache, or from the database (the ApiKey policy admits the one row whose
    hash is in `csp.api_key_hash`), which then fills the cache."""
    digest = hash_api_key(secret)
    key = _cache_key(digest)
    cached = _cache_call("get", key)
    if cached == _REVOKED:
        return None
    if cached is not None:
        try:
            api_key = pickle.loads(cached)
        except Exception:  # written by another version of the code
            api_key = None
        if isinstance(api_key, ApiKey) and api_key.key_hash == digest:
            return api_key
    with db_setting(API_KEY_SETTING, digest):
        api_key = (
            ApiKey.all_tenants.filter(key_hash=digest, revoked_at__isnull=True)
            .select_related("tenant")
            .first()
        )
    if api_key is not None:
        # nx: never over a revocation's tombstone.
        _cache_call("set", key, pickle.dumps(api_key), ex=API_KEY_CACHE_SECONDS, nx=True)
    return api_key


# Record last use at most once a minute per key, not a write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# When this process last wrote each key's last use (a cached key carries the
# time it was cached, not the latest write).
_touched: dict[int, datetime] = {}


def api_key_touch(*, api_key: ApiKey) -> None:
    now = timezone.now()
    seen = max((t for t in (api_key.last_used_at, _touched.get(api_key.pk)) if t), default=None)
    if seen and now - seen < LAST_USED_RESOLUTION:
        return
    if len(_touched) > 10_000:
        _touched.clear()
    _touched[api_key.pk] = now
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
