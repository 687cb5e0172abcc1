"""Ingestion under races: events whose account is created while they are in
flight, and batches that carry the same message ids in different orders."""

import random
import threading

import pytest
from django.db import connection, transaction

from csplatform.tenancy.context import tenant_context
from health.debounce import schedule_once
from health.models import UsageDailyAccount, UsageEvent, UsageMessage
from health.segment import segment_messages_record
from health.services import (
    health_rescore_flag_clear,
    usage_batch_record,
    usage_fold_flag_clear,
    usage_rollups_fold,
    usage_rollups_fold_all,
)
from health.services.scores import RESCORE_FLAG
from health.services.usage import FOLD_FLAG
from lifecycle.services import account_upsert
from tests.conftest import make_tenant
from tests.health.test_ingest import ev
from tests.health.test_rollups import recount, rollups


def run_threads(targets, *, timeout=120) -> list[BaseException]:
    """Run each callable in its own thread (own connection); return what they raised."""
    errors: list[BaseException] = []

    def wrap(fn):
        def run():
            try:
                fn()
            except BaseException as exc:  # reported to the test, not lost in the thread
                errors.append(exc)
            finally:
                connection.close()

        return run

    threads = [threading.Thread(target=wrap(fn)) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads), "a thread is stuck"
    return errors


def attachment(tenant, external_id) -> tuple[int, int, int]:
    """(events of the external id, of them attached, counted in the rollups)."""
    with tenant_context(tenant):
        events = UsageEvent.objects.filter(account_external_id=external_id)
        attached = events.filter(account__isnull=False)
        account_ids = set(attached.values_list("account_id", flat=True))
        counted = sum(
            UsageDailyAccount.objects.filter(account_id__in=account_ids).values_list(
                "events", flat=True
            )
        )
        return events.count(), attached.count(), counted


@pytest.mark.django_db(transaction=True)  # two threads, two connections: they see commits only
def test_a_batch_that_commits_after_its_account_was_identified_is_attached():
    """The bad order made exact: the batch's statement runs before the account
    exists, the account and its `account_identified` handler commit, then the
    batch commits. The next fold attaches and counts it."""
    tenant = make_tenant()
    stored, created = threading.Event(), threading.Event()

    def ingest():
        with tenant_context(tenant), transaction.atomic():
            usage_batch_record(events=[ev(i, account_id="late-co") for i in range(5)])
            stored.set()
            assert created.wait(30)  # commit only after the handler ran

    def create():
        assert stored.wait(30)
        with tenant_context(tenant):
            # Tasks are eager: the handler attaches on commit, in this thread.
            account_upsert(external_id="late-co", name="Late Co")
        created.set()

    assert run_threads([ingest, create]) == []
    usage_rollups_fold_all()  # the beat sweep; a committed batch also schedules a fold
    assert attachment(tenant, "late-co") == (5, 5, 5)
    with tenant_context(tenant):
        assert rollups() == recount()


@pytest.mark.django_db(transaction=True)  # seven threads, seven connections: real commits
def test_streams_racing_their_accounts_creation_are_all_attached_and_counted():
    """Six streams of batches for a new external id while a seventh thread
    creates its account: whatever order the commits land in, every event ends
    up attached and counted once the streams are done and a fold has run."""
    tenant = make_tenant()
    rounds, streams, batches, size = 4, 6, 3, 1000
    # As if a fold were always on its way: the streams only ingest (eager
    # tasks would fold inline between batches and narrow the race), and the
    # one fold after them must find everything.
    schedule_once(FOLD_FLAG, tenant.pk, ttl=600, send=lambda: None)
    # Likewise re-scores, which eager tasks would run inline in the creating
    # thread before `account_identified` is handled: a real worker does not
    # hold the handler up that way.
    schedule_once(RESCORE_FLAG, tenant.pk, ttl=600, send=lambda: None)
    for r in range(rounds):
        external_id = f"racing-{r}"
        started = threading.Barrier(streams + 1)
        progress = threading.Semaphore(0)

        def stream(n, external_id=external_id, started=started, progress=progress):
            started.wait(timeout=30)
            for b in range(batches):
                events = [
                    ev(i, account_id=external_id, message_id=f"{external_id}-{n}-{b}-{i}")
                    for i in range(size)
                ]
                with tenant_context(tenant):
                    assert usage_batch_record(events=events).accepted == size
                progress.release()

        def create(external_id=external_id, started=started, progress=progress):
            started.wait(timeout=30)
            for _ in range(streams):  # about one batch per stream is in before it
                assert progress.acquire(timeout=60)
            with tenant_context(tenant):
                account_upsert(external_id=external_id, name=f"Racing {external_id}")

        errors = run_threads([*(lambda n=n: stream(n) for n in range(streams)), create])
        assert errors == []
    usage_fold_flag_clear(tenant_id=tenant.pk)
    health_rescore_flag_clear(tenant_id=tenant.pk)
    usage_rollups_fold(tenant=tenant)
    expected = streams * batches * size
    for r in range(rounds):
        assert attachment(tenant, f"racing-{r}") == (expected, expected, expected), f"round {r}"
    with tenant_context(tenant):
        assert rollups() == recount()


@pytest.mark.django_db(transaction=True)  # several threads, several connections: real commits
def test_the_same_message_ids_in_shuffled_orders_never_deadlock():
    """Retries of overlapping batches in different orders: rows are locked in
    message-id order, so no two batches wait on each other in a cycle."""
    tenant = make_tenant()
    with tenant_context(tenant):
        account_upsert(external_id="acme-1", name="Acme")
    threads, rounds, ids = 4, 5, 300
    results = []
    for r in range(rounds):
        events = [ev(i, message_id=f"r{r}-m{i:04d}") for i in range(ids)]
        barrier = threading.Barrier(threads)

        def send(seed, events=events, barrier=barrier):
            shuffled = random.Random(seed).sample(events, len(events))
            barrier.wait(timeout=30)
            with tenant_context(tenant):
                results.append(usage_batch_record(events=shuffled))

        seeds = [r * threads + s for s in range(threads)]
        errors = run_threads([lambda seed=seed: send(seed) for seed in seeds])
        assert errors == [], f"round {r}: {errors[:1]}"
    assert sum(res.accepted for res in results) == rounds * ids
    assert sum(res.duplicates for res in results) == rounds * ids * (threads - 1)
    with tenant_context(tenant):
        assert UsageEvent.objects.count() == rounds * ids
        assert UsageEvent.objects.values("message_id").distinct().count() == rounds * ids


@pytest.mark.django_db
def test_message_ids_are_inserted_in_sorted_order_whatever_the_batch_order(tenant):
    """The order the lock-ordering relies on: PostgreSQL inserts the rows of
    INSERT ... SELECT ... ORDER BY in that order (the ids show it)."""
    events = [ev(i, message_id=f"m{i:04d}") for i in range(200)]
    random.Random(7).shuffle(events)
    with tenant_context(tenant):
        usage_batch_record(events=events)
        inserted = list(UsageMessage.objects.order_by("id").values_list("message_id", flat=True))
    assert inserted == sorted(e["message_id"] for e in events)


@pytest.mark.django_db(transaction=True)  # several threads, several connections: real commits
def test_segment_batches_naming_the_same_users_and_groups_in_shuffled_orders_never_deadlock():
    tenant = make_tenant()
    threads, rounds, users = 4, 4, 100
    for r in range(rounds):
        messages = [
            {"type": "identify", "userId": f"r{r}-u{i:03d}", "traits": {"n": i}}
            for i in range(users)
        ]
        messages += [
            {"type": "group", "userId": f"r{r}-u{i:03d}", "groupId": f"r{r}-g{i % 10}"}
            for i in range(users)
        ]
        messages += [
            {"type": "track", "userId": f"r{r}-u{i:03d}", "event": "x", "messageId": f"r{r}-t{i}"}
            for i in range(users)
        ]
        barrier = threading.Barrier(threads)

        def send(seed, messages=messages, barrier=barrier):
            shuffled = random.Random(seed).sample(messages, len(messages))
            barrier.wait(timeout=30)
            with tenant_context(tenant):
                result = segment_messages_record(messages=shuffled)
            assert result.rejected == []

        seeds = [r * threads + s for s in range(threads)]
        errors = run_threads([lambda seed=seed: send(seed) for seed in seeds])
        assert errors == [], f"round {r}: {errors[:1]}"
    with tenant_context(tenant):
        assert UsageEvent.objects.count() == rounds * users
        assert not UsageEvent.objects.filter(account__isnull=True).exists()
