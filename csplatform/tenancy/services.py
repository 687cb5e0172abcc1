"""Writes for tenants, memberships and API keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

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
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at", "updated_at"])
    return api_key


def api_key_resolve(secret: str) -> ApiKey | None:
    """Find an active key by its hash, before any tenant is known.

    The ApiKey policy admits the one row whose hash is in `csp.api_key_hash`.
    """
    digest = hash_api_key(secret)
    with db_setting(API_KEY_SETTING, digest):
        return (
            ApiKey.all_tenants.filter(key_hash=digest, revoked_at__isnull=True)
            .select_related("tenant")
            .first()
        )


# Record last use at most once a minute per key, not a write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def api_key_touch(*, api_key: ApiKey) -> None:
    now = timezone.now()
    if api_key.last_used_at and now - api_key.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
