"""On a real Celery worker: a committed stage change reaches the rule engine
through the event bus and the rule's playbook becomes tasks, with nobody
calling anything by hand; a second delivery of the event adds nothing."""

import time

import pytest
from django.conf import settings

from csplatform.celery import app as celery_app
from csplatform.events.models import DomainEvent
from csplatform.tenancy.context import tenant_context
from tests import factories
from tests.conftest import make_tenant, make_user
from tests.work.rules_data import move, playbook, rule
from work.models import FiringStatus, RuleFiring, Task


@pytest.mark.django_db(transaction=True)
def test_a_committed_stage_change_becomes_playbook_tasks_on_a_worker():
    from celery.contrib.testing.worker import start_worker

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

    celery_app.conf.task_always_eager = False
    queues = [settings.CELERY_TASK_DEFAULT_QUEUE, settings.CELERY_FRESH_QUEUE]
    try:
        with start_worker(
            celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10, queues=queues
        ):
            with tenant_context(tenant):
                move(acct, "adoption")  # commits; on_commit sends the event to Redis
            deadline = time.monotonic() + 60
            while len(tasks()) < 3 and time.monotonic() < deadline:
                time.sleep(0.1)
            # a duplicate message for the same event adds nothing
            with tenant_context(tenant):
                event = DomainEvent.objects.get(kind="stage_changed")
            from csplatform.events.tasks import dispatch_event

            dispatch_event.delay(tenant.pk, event.pk)
            time.sleep(1.0)
    finally:
        celery_app.conf.task_always_eager = True
    created = tasks()
    assert [t.title for t in created] == [f"Adoption kickoff step {i}" for i in (1, 2, 3)]
    assert {t.assignee_id for t in created} == {owner.pk}
    with tenant_context(tenant):
        firing = RuleFiring.objects.get(rule_id=r.pk)
        assert (firing.account_id, firing.occurrence_key) == (acct.pk, f"event:{event.pk}")
        assert firing.status == FiringStatus.SUCCEEDED
