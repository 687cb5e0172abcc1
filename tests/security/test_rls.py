"""The database itself refuses cross-tenant reads and writes."""

import pytest
from django.db import connection

from csplatform.tenancy.context import TenantContextMissing, tenant_context
from lifecycle.models import Account
from tests import factories

pytestmark = pytest.mark.django_db


def _raw_count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")
        return cursor.fetchone()[0]


@pytest.fixture
def two_tenants(tenant, other_tenant):
    with tenant_context(tenant):
        a = [factories.account() for _ in range(3)]
    with tenant_context(other_tenant):
        b = [factories.account() for _ in range(2)]
    return a, b


def test_app_connects_as_a_role_rls_applies_to():
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (False, False)
        cursor.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname='public' AND tableowner = current_user"
        )
        assert cursor.fetchone()[0] == 0


def test_raw_sql_sees_only_the_tenant_in_context(two_tenants, tenant, other_tenant):
    with tenant_context(tenant):
        assert _raw_count("lifecycle_account") == 3
    with tenant_context(other_tenant):
        assert _raw_count("lifecycle_account") == 2


def test_raw_sql_without_context_sees_nothing(two_tenants):
    assert _raw_count("lifecycle_account") == 0
    assert _raw_count("lifecycle_timelineentry") == 0


def test_manager_fails_closed_without_context(two_tenants):
    with pytest.raises(TenantContextMissing):
        list(Account.objects.all())


def test_tenant_a_then_b_on_one_connection_leaks_nothing(two_tenants, tenant, other_tenant):
    a_ids = {x.pk for x in two_tenants[0]}
    with tenant_context(tenant):
        seen_a = {row.pk for row in Account.all_tenants.all()}
        with tenant_context(other_tenant):
            seen_b = {row.pk for row in Account.all_tenants.all()}
        seen_a_again = {row.pk for row in Account.all_tenants.all()}
    assert seen_a == a_ids == seen_a_again
    assert seen_b == {x.pk for x in two_tenants[1]}
    assert _raw_count("lifecycle_account") == 0


def test_database_refuses_writing_a_row_for_another_tenant(two_tenants, tenant, other_tenant):
    from django.db import DatabaseError, transaction

    with (
        tenant_context(tenant),
        pytest.raises(DatabaseError),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE lifecycle_account SET tenant_id = %s", [other_tenant.pk])


def test_every_tenant_owned_table_has_forced_rls():
    from django.apps import apps

    from csplatform.tenancy.models import TenantScopedModel

    tables = [
        m._meta.db_table
        for m in apps.get_models()
        if issubclass(m, TenantScopedModel) and not m._meta.proxy
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relname = ANY(%s) "
            "AND relrowsecurity AND relforcerowsecurity",
            [tables],
        )
        protected = {row[0] for row in cursor.fetchall()}
    assert set(tables) == protected
    assert len(tables) >= 11
