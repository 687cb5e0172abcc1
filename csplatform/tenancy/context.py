"""The tenant context: which tenant the current request, task or command acts for.

Two layers hold the same rule. In Python, a context variable that the
tenant-scoped managers read and that fails closed when unset. In PostgreSQL,
a per-transaction setting (`set_config(..., true)`) that the row-level
security policies read, so a query that forgets the filter returns nothing.
The setting is transaction-local, never session-level, so a pooled
connection cannot carry one tenant's context into the next request.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import connection, transaction

if TYPE_CHECKING:
    from csplatform.tenancy.models import Tenant


class TenantContextMissing(RuntimeError):
    """A tenant-scoped query ran with no tenant in context."""


@dataclass(frozen=True)
class TenantContext:
    tenant: Tenant
    user_id: int | None = None
    role: str | None = None
    api_key_id: int | None = None

    @property
    def tenant_id(self) -> int:
        return self.tenant.pk


_current: ContextVar[TenantContext | None] = ContextVar("csp_tenant_context", default=None)

TENANT_SETTING = "csp.tenant_id"
USER_SETTING = "csp.user_id"
API_KEY_SETTING = "csp.api_key_hash"


def current() -> TenantContext | None:
    return _current.get()


def require() -> TenantContext:
    ctx = _current.get()
    if ctx is None:
        raise TenantContextMissing(
            "No tenant in context. Wrap the work in tenant_context(tenant), or use a "
            "model's `all_tenants` manager where crossing tenants is deliberate."
        )
    return ctx


def current_tenant_id() -> int:
    return require().tenant_id


def _set_local(name: str, value: str) -> str:
    """Set a transaction-local setting and return its previous value."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting(%s, true), set_config(%s, %s, true)", [name, name, value]
        )
        previous = cursor.fetchone()[0]
    return previous or ""


@contextmanager
def db_setting(name: str, value: str) -> Iterator[None]:
    """Run a block in a transaction with one local setting, restored afterwards."""
    with transaction.atomic():
        previous = _set_local(name, value)
        yield
        _set_local(name, previous)


@contextmanager
def tenant_context(
    tenant: Tenant,
    *,
    user_id: int | None = None,
    role: str | None = None,
    api_key_id: int | None = None,
) -> Iterator[TenantContext]:
    """Act for `tenant` until the block ends, inside one transaction.

    Nested use (tenant A, then B, on one connection) restores the outer value on
    exit, so nothing of B is visible to A's remaining work and vice versa.
    """
    ctx = TenantContext(tenant=tenant, user_id=user_id, role=role, api_key_id=api_key_id)
    with transaction.atomic():
        previous = _set_local(TENANT_SETTING, str(tenant.pk))
        token = _current.set(ctx)
        try:
            yield ctx
        except BaseException:
            # The atomic block rolls back, and with it the local setting.
            raise
        else:
            # After a failed statement the transaction is marked for rollback,
            # which restores the setting by itself; a query now would only
            # raise TransactionManagementError and hide the real error.
            if not connection.needs_rollback:
                _set_local(TENANT_SETTING, previous)
        finally:
            _current.reset(token)
