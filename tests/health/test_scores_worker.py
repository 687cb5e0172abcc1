"""The freshness path on a real Celery worker: a usage batch commits, the
worker folds it into the rollups, re-scores the account and emits
health_changed, with nobody calling anything by hand."""

import pytest

from csplatform.events.models import DomainEvent
from csplatform.tenancy.context import tenant_context
from health.models import HealthScore
from health.services import health_rescore, usage_batch_record, usage_fold_flag_clear
from health.services.scores import health_rescore_flag_clear
from tests import factories
from tests.conftest import make_tenant
from tests.health.scoring_data import only_profile
from tests.waiting import real_worker, wait_for


@pytest.mark.django_db(transaction=True)  # a worker thread reads what the test commits
def test_a_usage_batch_rescores_its_account_and_raises_health_changed():
    tenant = make_tenant()
    with tenant_context(tenant):
        only_profile({"license_utilization": 1})
        acct = factories.account(external_id="acme-1")
        factories.contract(acct, seats=10)
    with tenant_context(tenant):
        # nobody active yet, but a first event so the account has usage: red
        usage_batch_record(events=[{"account_id": "acme-1", "event": "login", "user_id": "u0"}])
    from health.services import usage_rollups_fold

    usage_rollups_fold(tenant=tenant)
    with tenant_context(tenant):
        health_rescore(account_ids=None)
        assert HealthScore.objects.get(account=acct).band == "red"  # 1 of 10 seats
    usage_fold_flag_clear(tenant_id=tenant.pk)
    health_rescore_flag_clear(tenant_id=tenant.pk)

    def green() -> bool:
        with tenant_context(tenant):
            return HealthScore.objects.get(account=acct).band == "green"

    with real_worker():
        with tenant_context(tenant):  # commits: fold, then re-score, are scheduled
            usage_batch_record(
                events=[
                    {"account_id": "acme-1", "event": "login", "user_id": f"u{i}"}
                    for i in range(1, 9)
                ]
            )
        wait_for(green, what="the worker to fold the batch and re-score the account")
    with tenant_context(tenant):
        score = HealthScore.objects.get(account=acct)
        assert (score.score, score.band) == (100, "green")  # 9 of 10 seats
        event = DomainEvent.objects.get(kind="health_changed")
        assert (event.payload["old_band"], event.payload["new_band"]) == ("red", "green")
