"""Delivery of domain events under load: each kind on its queue and priority
(what people and rules wait on is never behind bulk work), and a sweep that
re-sends only overdue events, backing off."""

import re
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from csplatform.celery import app as celery_app
from csplatform.events import catalogue, registry
from csplatform.events.models import DomainEvent
from csplatform.events.services import (
    REDISPATCH_DOUBLINGS,
    delivery_options,
    events_record_many,
    events_sweep_undispatched,
)
from csplatform.tenancy.context import tenant_context
from tests import factories
from tests.conftest import make_tenant
from tests.core.test_events import force_adoption
from tests.waiting import drain, purge_queues, queued, real_worker, wait_for

pytestmark = pytest.mark.django_db

DISPATCH = "csplatform.events.tasks.dispatch_event"
URGENT = settings.CELERY_URGENT_PRIORITY
NORMAL = settings.CELERY_TASK_DEFAULT_PRIORITY


@pytest.fixture
def no_worker():
    """Tasks are queued in Redis and nobody takes them; purged afterwards."""
    celery_app.conf.task_always_eager = False
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = True
        purge_queues()


def usage(n: int) -> dict:
    return {"events": n, "names": {"login": n}}


def dispatches() -> list[tuple[str, int, int]]:
    return [(m.queue, m.priority, m.args[1]) for m in queued() if m.task == DISPATCH]


def test_only_bulk_kinds_leave_the_urgent_queue():
    bulk = {kind for kind, spec in catalogue.KINDS.items() if spec.bulk}
    assert bulk == {"usage_recorded"}
    for kind in catalogue.KINDS:
        expected = (
            {"queue": settings.CELERY_BULK_QUEUE}
            if kind in bulk
            else {"queue": settings.CELERY_URGENT_QUEUE, "priority": URGENT}
        )
        assert delivery_options(kind) == expected, kind


def test_each_event_is_sent_on_its_kinds_queue_after_commit(
    tenant, no_worker, django_capture_on_commit_callbacks
):
    with tenant_context(tenant):
        acct = factories.account(external_id="")
    with django_capture_on_commit_callbacks(execute=True), tenant_context(tenant):
        [bulk] = events_record_many(kind="usage_recorded", items=[(acct.pk, usage(3))])
        force_adoption(acct)
        stage = DomainEvent.objects.get(kind="stage_changed")
    assert sorted(dispatches()) == sorted(
        [
            (settings.CELERY_URGENT_QUEUE, URGENT, stage.pk),
            (settings.CELERY_BULK_QUEUE, NORMAL, bulk.pk),
        ]
    )


def test_the_sweep_resends_only_overdue_events_and_backs_off(tenant, no_worker):
    delay = timedelta(seconds=settings.EVENT_REDISPATCH_SECONDS)
    with tenant_context(tenant):
        acct = factories.account(external_id="")  # its account_created is not sent here
        force_adoption(acct)
        event = DomainEvent.objects.get(kind="stage_changed")
        DomainEvent.objects.exclude(pk=event.pk).update(dispatched_at=timezone.now())
    recorded = event.created_at
    assert event.next_attempt_at - recorded == pytest.approx(delay, abs=timedelta(seconds=1))

    # Still within its queue's normal delay: waiting in the queue, not lost.
    assert events_sweep_undispatched(now=recorded + delay * 0.9) == 0
    assert dispatches() == []

    now, sent = event.next_attempt_at, []
    for attempt in range(1, REDISPATCH_DOUBLINGS + 3):
        now += timedelta(seconds=1)  # just overdue
        assert events_sweep_undispatched(now=now) == 1
        assert events_sweep_undispatched(now=now) == 0  # pushed back: not sent twice
        with tenant_context(tenant):
            event.refresh_from_db()
        sent.append(event.next_attempt_at - now)
        assert event.attempts == attempt
        now = event.next_attempt_at
    # 2, 4, 8, 16 times the normal delay, and no more
    factors = [wait / delay for wait in sent]
    assert factors == [2, 4, 8, 16, 16, 16]
    resent = [(settings.CELERY_URGENT_QUEUE, URGENT, event.pk)] * len(sent)
    assert dispatches() == resent


def test_the_sweep_never_resends_a_delivered_event(tenant, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), tenant_context(tenant):
        force_adoption(factories.account())  # delivered inline (tasks are eager here)
    with tenant_context(tenant):
        assert not DomainEvent.objects.filter(dispatched_at__isnull=True).exists()
    assert events_sweep_undispatched(now=timezone.now() + timedelta(days=1)) == 0


@pytest.mark.django_db(transaction=True)  # a worker thread reads what the test commits
def test_stage_changes_are_handled_before_a_bulk_backlog_queued_ahead_of_them():
    """One worker process, a backlog of bulk deliveries already queued: the
    stage changes recorded after them are the next events it handles, all of
    them (queues taken in turns would let a bulk task in between)."""
    handled: list[str] = []
    lock = threading.Lock()

    def record(event):
        with lock:
            handled.append(event.kind)

    for kind in ("usage_recorded", "stage_changed"):
        registry.subscribe(kind, name="tests.order")(record)
    tenant = make_tenant()
    with tenant_context(tenant):
        accounts = [factories.account(external_id="") for _ in range(3)]
    backlog = 300
    celery_app.conf.task_always_eager = False  # queued now; the worker starts below
    try:
        with tenant_context(tenant):  # commits: 300 deliveries queued on the bulk queue
            events_record_many(
                kind="usage_recorded",
                items=[(accounts[n % 3].pk, usage(n + 1)) for n in range(backlog)],
            )
        for account in accounts:  # then the stage changes CSMs are waiting on
            with tenant_context(tenant):
                force_adoption(account)
        assert len([m for m in queued() if m.task == DISPATCH]) == backlog + 3
        with real_worker():  # solo: one task at a time
            wait_for(lambda: len(handled) == backlog + 3, what="every event to be handled")
            drain()
    finally:
        celery_app.conf.task_always_eager = True
        for kind in ("usage_recorded", "stage_changed"):
            registry.unsubscribe(kind, "tests.order")
        purge_queues()
    assert handled[:3] == ["stage_changed"] * 3
    assert handled.count("usage_recorded") == backlog


def test_the_production_worker_consumes_every_queue():
    """An urgent event on a queue nobody consumes would never be delivered."""
    compose = (Path(__file__).resolve().parents[2] / "docker-compose.yml").read_text()
    [worker] = re.findall(r'"worker", .*"-Q", "([^"]+)"', compose)
    # the names outside the test block of settings.py
    assert worker.split(",") == ["csp-urgent", "celery", "csp-bulk"]
