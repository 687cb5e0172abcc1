"""Tenants, memberships, API keys and tenant-aware caching."""

import pytest
from django.core.cache import cache
from django.db import connection

from csplatform.tenancy.cache import tenant_cache_key
from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import ApiKey, Membership, Role, hash_api_key
from csplatform.tenancy.services import (
    api_key_create,
    api_key_resolve,
    api_key_revoke,
    membership_for,
    memberships_of_user,
)
from tests.conftest import make_tenant, make_user

pytestmark = pytest.mark.django_db


def test_one_user_in_several_tenants_sees_only_own_memberships(tenant, other_tenant):
    user = make_user(tenant, Role.CSM)
    from csplatform.tenancy.services import membership_add

    membership_add(tenant=other_tenant, user=user, role=Role.LEADER)
    make_user(tenant, Role.ADMIN)  # someone else's membership
    mine = memberships_of_user(user)
    assert [(m.tenant.slug, m.role) for m in mine] == [
        (tenant.slug, "csm"),
        (other_tenant.slug, "leader"),
    ]
    assert membership_for(user, other_tenant.slug).role == "leader"
    assert membership_for(user, make_tenant().slug) is None


def test_memberships_are_tenant_isolated(tenant, other_tenant):
    make_user(tenant, Role.CSM)
    make_user(other_tenant, Role.CSM)
    with tenant_context(tenant):
        assert Membership.objects.count() == 1
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM tenancy_membership")
            assert cursor.fetchone()[0] == 1


def test_api_key_is_stored_hashed_and_resolves_to_its_tenant(tenant):
    with tenant_context(tenant):
        issued = api_key_create(name="Segment", role=Role.CSM)
    assert issued.secret.startswith("csk_")
    with tenant_context(tenant):
        stored = ApiKey.objects.get()
    assert stored.key_hash == hash_api_key(issued.secret)
    assert issued.secret not in (stored.prefix, stored.key_hash)
    resolved = api_key_resolve(issued.secret)
    assert resolved.pk == stored.pk and resolved.tenant == tenant
    assert api_key_resolve(issued.secret + "x") is None


def test_revoked_key_no_longer_resolves(tenant):
    with tenant_context(tenant):
        issued = api_key_create(name="CRM sync")
        api_key_revoke(api_key=issued.api_key)
    assert api_key_resolve(issued.secret) is None


def test_api_keys_of_other_tenants_are_invisible(tenant, other_tenant):
    with tenant_context(other_tenant):
        api_key_create(name="theirs")
    with tenant_context(tenant):
        assert ApiKey.objects.count() == 0
        assert ApiKey.all_tenants.count() == 0  # RLS, not just the manager


def test_cache_keys_carry_the_tenant(tenant, other_tenant):
    with tenant_context(tenant):
        key_a = tenant_cache_key("stage_counts")
        cache.set(key_a, {"onboarding": 3})
    with tenant_context(other_tenant):
        key_b = tenant_cache_key("stage_counts")
        assert cache.get(key_b) is None
    assert key_a != key_b and str(tenant.pk) in key_a


def test_new_tenant_gets_default_achievements(tenant):
    from lifecycle.models import StageAchievement

    with tenant_context(tenant):
        assert StageAchievement.objects.filter(stage="onboarding").count() == 4
