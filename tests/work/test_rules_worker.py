"""On a real Celery worker: a committed stage change reaches the rule engine
through the event bus and the rule's playbook becomes tasks, with nobody
calling anything by hand; a second delivery of the event adds nothing."""

import pytest

from csplatform.events.models import DomainEvent
from csplatform.tenancy.context import tenant_context
from tests import factories
from tests.conftest import make_tenant, make_user
from tests.waiting import drain, real_worker, wait_for
from tests.work.rules_data import move, playbook, rule
from work.models import FiringStatus, RuleFiring, Task


@pytest.mark.django_db(transaction=True)  # a worker thread reads what the test commits
def test_a_committed_stage_change_becomes_playbook_tasks_on_a_worker():
    from csplatform.events.tasks import dispatch_event

    tenant = make_tenant()
    owner = make_user(tenant, "csm")
    with tenant_context(tenant):
        book = playbook("Adoption kickoff", steps=3)
        r = rule(
            "stage_entered",
            {"stage": "adoption"},
            actions=[{"kind": "start_playbook", "config": {"playbook_id": book.pk}}],
        )
        acct = factories.account(owner=owner)

    def tasks() -> list[Task]:
        with tenant_context(tenant):
            return list(Task.objects.filter(account=acct).order_by("pk"))

    with real_worker():
        with tenant_context(tenant):
            move(acct, "adoption")  # commits; on_commit sends the event to Redis
        wait_for(lambda: len(tasks()) >= 3, what="the playbook's three tasks")
        # a duplicate message for the same event adds nothing
        with tenant_context(tenant):
            event = DomainEvent.objects.get(kind="stage_changed")
        dispatch_event.delay(tenant.pk, event.pk)
        drain()  # the duplicate has been handled (the handlers run inline in it)
    created = tasks()
    assert [t.title for t in created] == [f"Adoption kickoff step {i}" for i in (1, 2, 3)]
    assert {t.assignee_id for t in created} == {owner.pk}
    with tenant_context(tenant):
        firing = RuleFiring.objects.get(rule_id=r.pk)
        assert (firing.account_id, firing.occurrence_key) == (acct.pk, f"event:{event.pk}")
        assert firing.status == FiringStatus.SUCCEEDED
