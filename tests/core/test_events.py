"""Domain events: recorded with the change, dispatched after commit, handled
once, re-dispatched by the sweep, and delivered by a real Celery worker."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from csplatform.celery import app as celery_app
from csplatform.events import registry
from csplatform.events.models import DomainEvent, HandlerReceipt
from csplatform.events.services import event_deliver, events_sweep_undispatched
from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Role, Tenant
from lifecycle import services
from lifecycle.models import Stage
from tests import factories
from tests.conftest import make_tenant
from tests.waiting import drain, real_worker, wait_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def recorder():
    seen: list[tuple[int, str]] = []
    lock = threading.Lock()

    def handler(event):
        with lock:
            seen.append((event.pk, event.payload.get("to", "")))

    registry.subscribe("stage_changed", name="tests.recorder")(handler)
    yield seen
    registry.unsubscribe("stage_changed", "tests.recorder")


def force_adoption(account):
    return services.account_transition(
        account_id=account.pk,
        to_stage=Stage.ADOPTION,
        actor=None,
        role=Role.ADMIN,
        force=True,
        reason="test",
    )


def test_event_is_written_in_the_same_transaction_as_the_change(in_tenant):
    acct = factories.account()
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        force_adoption(acct)
        raise RuntimeError("roll back the transition")
    assert DomainEvent.objects.filter(kind="stage_changed").count() == 0
    force_adoption(acct)
    assert DomainEvent.objects.filter(kind="stage_changed").count() == 1


def test_dispatch_happens_only_after_commit(
    in_tenant, recorder, django_capture_on_commit_callbacks
):
    acct = factories.account()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        force_adoption(acct)
    assert recorder == []  # nothing ran inside the transaction
    for callback in callbacks:
        callback()
    event = DomainEvent.objects.get(kind="stage_changed")
    assert recorder == [(event.pk, "adoption")]
    event.refresh_from_db()
    assert event.dispatched_at is not None


def test_a_duplicate_delivery_is_handled_once(in_tenant, recorder):
    acct = factories.account()
    force_adoption(acct)
    event = DomainEvent.objects.get(kind="stage_changed")
    # every subscriber ran: the recorder and the apps' own (health re-scores)
    assert event_deliver(tenant=in_tenant, event_id=event.pk) == len(
        registry.handlers_for("stage_changed")
    )
    DomainEvent.objects.filter(pk=event.pk).update(dispatched_at=None)  # as if lost mid-way
    assert event_deliver(tenant=in_tenant, event_id=event.pk) == 0
    assert len(recorder) == 1
    assert HandlerReceipt.objects.filter(event=event, handler="tests.recorder").count() == 1


def test_a_failing_handler_leaves_the_event_for_retry(in_tenant, recorder):
    calls = []

    def flaky(event):
        calls.append(event.pk)
        if len(calls) == 1:
            raise ConnectionError("mail server down")

    registry.subscribe("stage_changed", name="tests.flaky")(flaky)
    try:
        acct = factories.account()
        force_adoption(acct)
        event = DomainEvent.objects.get(kind="stage_changed")
        with pytest.raises(ConnectionError):
            event_deliver(tenant=in_tenant, event_id=event.pk)
        event.refresh_from_db()
        assert event.dispatched_at is None
        event_deliver(tenant=in_tenant, event_id=event.pk)
        event.refresh_from_db()
        assert event.dispatched_at is not None
        assert len(calls) == 2 and len(recorder) == 1  # the recorder ran once only
    finally:
        registry.unsubscribe("stage_changed", "tests.flaky")


def test_sweep_redispatches_lost_events_for_every_tenant(recorder, tenant, other_tenant):
    for t in (tenant, other_tenant):
        with tenant_context(t):
            force_adoption(factories.account(external_id=""))
            # overdue: their queue's normal delay has passed
            DomainEvent.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
            # account_created, then stage_changed
            assert DomainEvent.objects.count() == 2
    # on_commit never fired inside the test transaction: all four events are "lost".
    assert recorder == []
    assert events_sweep_undispatched() == 4
    assert len(recorder) == 2
    assert events_sweep_undispatched() == 0


def test_a_delivery_for_a_tenant_that_no_longer_exists_is_dropped_not_retried(db):
    from csplatform.events.tasks import dispatch_event

    gone_id = 10**9  # no such tenant (deleted since the event was queued)
    assert not Tenant.objects.filter(pk=gone_id).exists()
    # eager in tests: a retry would raise here (eager tasks propagate)
    assert dispatch_event.delay(gone_id, 12345).get() is None


def test_a_task_that_forgets_its_tenant_sees_nothing(tenant):
    with tenant_context(tenant):
        force_adoption(factories.account())

    @celery_app.task(name="tests.forgetful_count")
    def forgetful_count():
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM events_domainevent")
            return cursor.fetchone()[0]

    assert forgetful_count.delay().get() == 0


@pytest.mark.django_db(transaction=True)  # a worker thread reads what the test commits
def test_a_real_worker_delivers_a_stage_change_to_a_subscriber(recorder):
    from csplatform.events.tasks import dispatch_event

    tenant = make_tenant()
    with tenant_context(tenant):
        acct = factories.account()

    with real_worker():
        with tenant_context(tenant):
            force_adoption(acct)  # commits here; on_commit sends to Redis
        wait_for(lambda: recorder, what="the worker to deliver the stage change")
        # a duplicate message for the same event must not run the handler again
        with tenant_context(tenant):
            event = DomainEvent.objects.get(kind="stage_changed")
        dispatch_event.delay(tenant.pk, event.pk)
        drain()  # the duplicate has been handled
    assert recorder == [(event.pk, "adoption")]
    with tenant_context(tenant):
        event.refresh_from_db()
        assert event.dispatched_at is not None
