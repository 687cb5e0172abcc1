"""The rollup fold: queued with the batch, counted once by a worker right
after commit, caught up by the beat sweep when scheduling fails."""

import threading
from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from csplatform.celery import app as celery_app
from csplatform.events.models import DomainEvent
from csplatform.events.services import events_coalesced_record_due
from csplatform.tenancy.context import tenant_context
from health.models import UsageDailyAccount, UsageEvent, UsagePending, UsageUnattached
from health.ratelimit import redis_client
from health.services import (
    usage_batch_record,
    usage_fold_flag_clear,
    usage_fold_schedule,
    usage_fold_window_open,
    usage_rollups_fold,
    usage_rollups_fold_all,
    usage_unattached_requeue,
)
from tests import factories
from tests.conftest import make_tenant
from tests.health.test_ingest import client_for, ev, post
from tests.health.test_rollups import batch, recount, rollups
from tests.waiting import purge_queues, queued, real_worker, wait_for

pytestmark = pytest.mark.django_db


def window_passed() -> datetime:
    """A time at which every coalescing window opened so far has passed."""
    return timezone.now() + timedelta(seconds=settings.EVENT_COALESCE_SECONDS)


def recorded_events(tenant) -> int:
    events_coalesced_record_due(now=window_passed())
    with tenant_context(tenant):
        return sum(e.payload["events"] for e in DomainEvent.objects.filter(kind="usage_recorded"))


def test_only_batches_with_known_accounts_are_queued(tenant):
    post(client_for(tenant), [ev(1, account_id="nobody-yet")])
    with tenant_context(tenant):
        assert not UsagePending.objects.exists()
        factories.account(external_id="acme-1")
    post(client_for(tenant), [ev(2), ev(3), ev(4, account_id="nobody-yet")])
    with tenant_context(tenant):
        queued = UsagePending.objects.get()
    assert sorted(queued.counts) == [1, 1]  # two events of acme-1; the unknown one waits


def unattached(tenant) -> list:
    with tenant_context(tenant):
        return sorted(UsageEvent.objects.filter(account__isnull=True).values_list("user_id"))


def test_ids_stored_without_an_account_are_looked_up_again_by_the_next_fold(tenant):
    """Here the account's `account_identified` handler never runs (on-commit
    callbacks do not fire in this test's transaction), as when the batch
    commits after it: the fold alone attaches and counts the events."""
    post(client_for(tenant), [ev(1, account_id="late-co"), ev(2, account_id="late-co")])
    post(client_for(tenant), [ev(3, account_id="late-co"), ev(4, account_id="no-such-co")])
    with tenant_context(tenant):
        assert sorted(u.external_ids for u in UsageUnattached.objects.all()) == [
            ["late-co"],
            ["late-co", "no-such-co"],
        ]
        acct = factories.account(external_id="late-co")
    assert usage_rollups_fold_all() == 1  # the batch the attachment queued
    assert unattached(tenant) == [("u4",)]  # no account of that id: left as it is
    with tenant_context(tenant):
        assert UsageDailyAccount.objects.get(account=acct).events == 3
        assert not UsageUnattached.objects.exists()  # looked up once, then forgotten
        assert rollups() == recount()
    assert usage_rollups_fold_all() == 0


def test_a_batch_of_unknown_accounts_schedules_a_fold(tenant, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        post(client_for(tenant), [ev(1, account_id="nobody-yet")])
    assert len(callbacks) == 1  # the fold (debounced), which looks the id up again
    with django_capture_on_commit_callbacks() as callbacks, tenant_context(tenant):
        # A Segment track of a user in no group yet: placed by its group, not by the fold.
        track = {"event": "x", "user_id": "u9"}
        stored = usage_batch_record(events=[track], account_required=False)
    assert stored.accepted == 1 and callbacks == []
    with tenant_context(tenant):
        assert UsageUnattached.objects.count() == 1  # the first batch's id only


def test_the_hourly_backstop_requeues_unattached_events_whose_account_exists(tenant, other_tenant):
    """Events that missed both the handler and the fold (stored before the
    lookup existed): the hourly sweep finds them for the next fold."""
    for t in (tenant, other_tenant):
        post(client_for(t), [ev(1, account_id="old-co"), ev(2, account_id="never-co")])
        with tenant_context(t):
            UsageUnattached.objects.all().delete()  # as if stored before the fix
            factories.account(external_id="old-co")
    usage_rollups_fold_all()
    assert unattached(tenant) == [("u1",), ("u2",)]
    assert usage_unattached_requeue() == 2  # one id per tenant; "never-co" names nothing
    usage_rollups_fold_all()
    for t in (tenant, other_tenant):
        assert unattached(t) == [("u2",)]
        with tenant_context(t):
            assert rollups() == recount()
    assert usage_unattached_requeue() == 0


def test_the_sweep_folds_every_tenant_that_has_a_queue(tenant, other_tenant):
    for t in (tenant, other_tenant):
        with tenant_context(t):
            factories.account(external_id="acme-1")
        post(client_for(t), [ev(1, user_id="u1"), ev(2, user_id="u2"), ev(3, user_id="u1")])
    assert usage_rollups_fold_all() == 2
    for t in (tenant, other_tenant):
        with tenant_context(t):
            day = UsageDailyAccount.objects.get()
            assert (day.events, day.active_users) == (3, 2)
            assert (rollups()) == recount()
    assert usage_rollups_fold_all() == 0


def test_a_tenant_is_folded_at_most_once_per_window(tenant, other_tenant):
    celery_app.conf.task_always_eager = False  # queue the tasks; no worker takes them here
    fold = "health.tasks.fold_usage_rollups"
    try:
        for t in (tenant, other_tenant):
            usage_fold_flag_clear(tenant_id=t.pk)
        assert usage_fold_schedule(tenant_id=tenant.pk) == "now"  # first after a quiet spell
        assert usage_fold_schedule(tenant_id=tenant.pk) == "later"  # at the window's end
        assert usage_fold_schedule(tenant_id=tenant.pk) is None  # that fold takes it too
        assert usage_fold_schedule(tenant_id=other_tenant.pk) == "now"  # its own window
        # The booked fold starts: a new window, whose batches book the next one.
        usage_fold_window_open(tenant_id=tenant.pk, booked=True)
        assert usage_fold_schedule(tenant_id=tenant.pk) == "later"
        assert usage_fold_schedule(tenant_id=tenant.pk) is None
        sent = [(m.args, m.kwargs, m.eta is not None) for m in queued() if m.task == fold]
        assert sent == [
            ((tenant.pk,), {"booked": False}, False),
            ((tenant.pk,), {"booked": True}, True),
            ((other_tenant.pk,), {"booked": False}, False),
            ((tenant.pk,), {"booked": True}, True),
        ]
        assert {m.queue for m in queued()} == {settings.CELERY_BULK_QUEUE}
    finally:
        celery_app.conf.task_always_eager = True
        purge_queues()
        for t in (tenant, other_tenant):
            usage_fold_flag_clear(tenant_id=t.pk)


def test_folds_within_a_window_make_one_usage_recorded_with_the_sums(tenant):
    with tenant_context(tenant):
        acct = factories.account(external_id="acme-1")
    for n, name in enumerate(["report_exported", "report_exported", "login"]):
        post(client_for(tenant), [ev(10 * n + i, event=name) for i in range(n + 1)])
        assert usage_rollups_fold(tenant=tenant) == 1  # three folds, one window

    def recorded(now) -> list[tuple[int, dict]]:
        events_coalesced_record_due(now=now)
        with tenant_context(tenant):
            return [
                (e.payload["events"], e.payload["names"])
                for e in DomainEvent.objects.filter(kind="usage_recorded", account_id=acct.pk)
            ]

    assert recorded(timezone.now()) == []  # the window is still open
    first = [(6, {"report_exported": 3, "login": 3})]
    assert recorded(window_passed()) == first
    post(client_for(tenant), [ev(100, event="login")])  # a second window
    usage_rollups_fold(tenant=tenant)
    assert recorded(window_passed()) == [*first, (1, {"login": 1})]
    assert recorded(window_passed()) == [*first, (1, {"login": 1})]  # each recorded once


def test_a_batch_is_accepted_when_redis_is_down_and_the_sweep_counts_it(
    tenant, settings, django_capture_on_commit_callbacks
):
    with tenant_context(tenant):
        acct = factories.account(external_id="acme-1")
    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens on the discard port
    redis_client.cache_clear()
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = post(client_for(tenant), [ev(1), ev(2)])
    finally:
        redis_client.cache_clear()
    assert response.status_code == 200 and response.json()["accepted"] == 2
    with tenant_context(tenant):
        assert UsagePending.objects.count() == 1
    usage_rollups_fold_all()
    with tenant_context(tenant):
        assert UsageDailyAccount.objects.get(account=acct).events == 2


@pytest.mark.django_db(transaction=True)  # three threads, three connections: they see commits only
def test_racing_folds_count_every_batch_exactly_once():
    tenant = make_tenant()
    with tenant_context(tenant):
        factories.account(external_id="busy")
        factories.account(external_id="calm")
    for n in range(8):
        with tenant_context(tenant):
            usage_batch_record(events=batch(f"b{n}", ["busy", "calm"], ["u1", f"u{n}"], [0, 1]))
    barrier = threading.Barrier(3)

    def fold():
        try:
            barrier.wait(timeout=10)
            usage_rollups_fold(tenant=tenant, chunk=1)  # small chunks: they interleave
        finally:
            connection.close()

    threads = [threading.Thread(target=fold) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    with tenant_context(tenant):
        assert not UsagePending.objects.exists()
        assert rollups() == recount()
    assert (
        recorded_events(tenant) == 8 * 2 * 2 * 2 * 2
    )  # batches x accounts x events x users x days


@pytest.mark.django_db(transaction=True)  # a worker thread reads what the test commits
def test_a_real_worker_folds_a_committed_batch_into_the_rollups():
    tenant = make_tenant()
    with tenant_context(tenant):
        acct = factories.account(external_id="acme-1")
    usage_fold_flag_clear(tenant_id=tenant.pk)

    def folded() -> bool:
        with tenant_context(tenant):
            return UsageDailyAccount.objects.filter(account=acct).exists()

    with real_worker():
        with tenant_context(tenant):  # commits here; the fold is scheduled on commit
            usage_batch_record(events=batch("w", ["acme-1"], ["u1", "u2", "u3"], [0]))
        wait_for(folded, what="the worker to fold the batch")
    with tenant_context(tenant):
        day = UsageDailyAccount.objects.get(account=acct)
        assert (day.events, day.active_users) == (6, 3)
        assert rollups() == recount()
        assert not UsagePending.objects.exists()
    assert recorded_events(tenant) == 6


@pytest.mark.django_db(transaction=True)  # a worker thread reads what the test commits
def test_batches_after_a_fold_are_folded_at_the_end_of_its_window(settings):
    settings.USAGE_FOLD_WINDOW_SECONDS = 1  # the worker is a thread of this process
    tenant = make_tenant()
    with tenant_context(tenant):
        acct = factories.account(external_id="acme-1")
    usage_fold_flag_clear(tenant_id=tenant.pk)

    def folded(events: int) -> bool:
        with tenant_context(tenant):
            return UsageDailyAccount.objects.filter(account=acct, events=events).exists()

    with real_worker():
        with tenant_context(tenant):
            usage_batch_record(events=batch("a", ["acme-1"], ["u1"], [0]))
        wait_for(lambda: folded(2), what="the first batch to be folded at once")
        with tenant_context(tenant):  # within the window: booked for its end
            usage_batch_record(events=batch("b", ["acme-1"], ["u1"], [0]))
        # no later batch and no beat sweep: the booked fold takes it
        wait_for(lambda: folded(4), what="the window's booked fold")
    with tenant_context(tenant):
        assert not UsagePending.objects.exists()
