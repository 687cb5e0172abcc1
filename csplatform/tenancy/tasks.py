"""Background work that acts for tenants: the one way a Celery task finds its
tenant, and the one way a beat job visits every tenant.

Row-level security shows nothing outside a tenant context, and one context
never spans two tenants, so both helpers open `tenant_context` per tenant.
Some jobs must commit in several transactions within one tenant (a chunked
drain taken with SKIP LOCKED, one event handler per transaction, one rule
firing per transaction): they pass `in_context=False` and open
`tenant_context(tenant)` themselves around each unit of work.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from celery import shared_task

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Tenant

logger = logging.getLogger(__name__)

T = TypeVar("T")


def tenant_task(*, in_context: bool = True, **task_options: Any):
    """A `shared_task` whose first argument is a tenant id.

    The task looks the tenant up; a tenant deleted since the task was queued
    is a logged no-op returning None (its rows went with it: nothing to
    retry). The body receives the Tenant instead of the id and, unless
    `in_context=False`, runs inside `tenant_context(tenant)`, one transaction.
    Other options go to `shared_task` (retries, acks_late, ignore_result).
    """

    def decorator(body: Callable[..., T]) -> Any:
        @functools.wraps(body)
        def run(tenant_id: int, *args: Any, **kwargs: Any) -> T | None:
            tenant = Tenant.objects.filter(pk=tenant_id).first()
            if tenant is None:
                logger.info("%s: tenant %s no longer exists; skipped", body.__name__, tenant_id)
                return None
            if not in_context:
                return body(tenant, *args, **kwargs)
            with tenant_context(tenant):
                return body(tenant, *args, **kwargs)

        # Celery checks `.delay()` arguments against this: the body's own
        # parameters, with the tenant id in place of the tenant.
        params = list(inspect.signature(body).parameters.values())
        tenant_id = inspect.Parameter("tenant_id", params[0].kind, annotation=int)
        run.__signature__ = inspect.signature(body).replace(parameters=[tenant_id, *params[1:]])
        return shared_task(**task_options)(run)

    return decorator


def for_each_tenant(fn: Callable[[Tenant], T], *, in_context: bool = True) -> list[T]:
    """Run `fn(tenant)` for every tenant, by id, and return the results.

    Each tenant runs inside its own `tenant_context` (unless `in_context` is
    False, for the callers described in the module docstring). An exception
    in one tenant is logged with its traceback, rolls back that tenant's
    transaction and leaves no result; the other tenants still run, so one
    broken tenant never stalls the rest.
    """
    results: list[T] = []
    # A list, not a cursor: fn commits, and a server-side cursor would not survive it.
    for tenant in list(Tenant.objects.order_by("pk")):
        try:
            if in_context:
                with tenant_context(tenant):
                    results.append(fn(tenant))
            else:
                results.append(fn(tenant))
        except Exception:
            logger.exception("%s failed for tenant %s", _name(fn), tenant.pk)
    return results


def _name(fn: Callable) -> str:
    return f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', repr(fn))}"
