"""The two helpers every background job goes through: `tenant_task` finds the
task's tenant and sets its context, `for_each_tenant` visits every tenant in
turn and keeps going past one that fails."""

from __future__ import annotations

import logging

import pytest

from csplatform.tenancy import context
from csplatform.tenancy.tasks import for_each_tenant, tenant_task
from lifecycle.models import Account
from tests import factories

pytestmark = pytest.mark.django_db


@tenant_task()
def _seen_in_context(tenant, label: str) -> tuple[int, int, str]:
    return tenant.pk, context.current_tenant_id(), label


@tenant_task(in_context=False)
def _seen_outside_context(tenant) -> tuple[int, bool]:
    return tenant.pk, context.current() is None


def test_a_tenant_task_gets_its_tenant_and_runs_in_its_context(tenant, other_tenant):
    assert _seen_in_context.delay(tenant.pk, "a").get() == (tenant.pk, tenant.pk, "a")
    assert _seen_in_context.delay(other_tenant.pk, "b").get() == (
        other_tenant.pk,
        other_tenant.pk,
        "b",
    )
    # the chunked drains open their own contexts
    assert _seen_outside_context.delay(tenant.pk).get() == (tenant.pk, True)


def test_a_tenant_task_for_a_deleted_tenant_is_a_logged_no_op(db, caplog):
    with caplog.at_level(logging.INFO, logger="csplatform.tenancy.tasks"):
        assert _seen_in_context.delay(10**9, "gone").get() is None
    assert "tenant 1000000000 no longer exists" in caplog.text


def test_a_tenant_task_checks_its_arguments_when_sent(db):
    # The body's parameters, with the tenant id first. The tenant does not
    # exist, so the body never runs: only the check at .delay() can refuse.
    with pytest.raises(TypeError):
        _seen_in_context.delay(10**9)
    with pytest.raises(TypeError):
        _seen_in_context.delay(10**9, "a", "extra")


def test_for_each_tenant_visits_every_tenant_in_its_own_context_by_id(tenant, other_tenant):
    seen = for_each_tenant(lambda t: (t.pk, context.current_tenant_id()))
    ours = [item for item in seen if item[0] in (tenant.pk, other_tenant.pk)]
    assert ours == [(tenant.pk, tenant.pk), (other_tenant.pk, other_tenant.pk)]
    assert [pk for pk, _ in seen] == sorted(pk for pk, _ in seen)


def test_one_failing_tenant_is_logged_rolled_back_and_does_not_stop_the_others(
    tenant, other_tenant, caplog
):
    def work(t):
        factories.account(name=f"Written for {t.pk}", external_id="")
        if t.pk == tenant.pk:
            raise RuntimeError("this tenant's data is broken")
        return t.pk

    with caplog.at_level(logging.ERROR, logger="csplatform.tenancy.tasks"):
        results = for_each_tenant(work)
    assert other_tenant.pk in results and tenant.pk not in results
    failure = next(r for r in caplog.records if f"tenant {tenant.pk}" in r.getMessage())
    assert failure.exc_info is not None  # the traceback is logged
    # the failing tenant's writes went with its transaction; the other's stayed
    with context.tenant_context(tenant):
        assert not Account.objects.filter(name=f"Written for {tenant.pk}").exists()
    with context.tenant_context(other_tenant):
        assert Account.objects.filter(name=f"Written for {other_tenant.pk}").exists()


def test_for_each_tenant_outside_context_leaves_the_transactions_to_the_caller(tenant):
    seen = for_each_tenant(lambda t: context.current() is None, in_context=False)
    assert seen and all(seen)
