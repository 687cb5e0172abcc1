"""Ingestion under races: events whose account is created while they are in
flight, and batches that carry the same message ids in different orders."""

import itertools
import random
import threading

import pytest
from django.db import connection, transaction

from csplatform.tenancy.context import tenant_context
from health.models import UsageDailyAccount, UsageEvent, UsageMessage
from health.segment import segment_messages_record
from health.services import scores as score_services
from health.services import usage as usage_services
from health.services import (
    usage_batch_record,
    usage_rollups_fold,
    usage_rollups_fold_all,
)
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


def ingesting() -> int:
    """How many ingest statements other sessions are running right now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active'"
            " AND pid <> pg_backend_pid() AND query LIKE %s",
            ["%WITH input AS (%"],  # INGEST_SQL, whose text the payload makes long
        )
        return cursor.fetchone()[0]


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


def race_one_account(tenant, external_id, *, streams=6, batches=3, size=1000) -> None:
    """`streams` threads send batches for `external_id` while another creates
    its account, once about one batch per stream is in and several are in
    flight (mid-statement or committing)."""
    started = threading.Barrier(streams + 1)
    progress = threading.Semaphore(0)
    ended, finished = itertools.count(1), threading.Event()

    def stream(n):
        started.wait(timeout=30)
        for b in range(batches):
            events = [
                ev(i, account_id=external_id, message_id=f"{external_id}-{n}-{b}-{i}")
                for i in range(size)
            ]
            with tenant_context(tenant):
                assert usage_batch_record(events=events).accepted == size
            progress.release()
        if next(ended) == streams:  # itertools.count is atomic under the GIL
            finished.set()

    def create():
        started.wait(timeout=30)
        for _ in range(streams):
            assert progress.acquire(timeout=60)
        # Several batches in flight make the race likely; it is not what the
        # test asserts, so no deadline fails it when they are not.
        while ingesting() < 3 and not finished.is_set():
            pass
        with tenant_context(tenant):
            account_upsert(external_id=external_id, name=f"Racing {external_id}")

    assert run_threads([*(lambda n=n: stream(n) for n in range(streams)), create]) == []


@pytest.mark.django_db(transaction=True)  # seven threads, seven connections: real commits
def test_streams_racing_their_accounts_creation_are_all_attached_and_counted(monkeypatch):
    """Six streams of batches for a new external id while a seventh thread
    creates its account: whatever order the commits land in, every event ends
    up attached and counted once the streams are done and a fold has run.
    (Without the fold's second look, about every other round loses a batch.)"""
    tenant = make_tenant()
    # Eager tasks would fold and re-score inline: between a stream's batches,
    # and in the creating thread before `account_identified` is handled. A
    # real worker does that elsewhere; so scheduling is a no-op here (as when
    # the worker is busy), and the one fold after the streams must find all.
    monkeypatch.setattr(usage_services, "usage_fold_schedule", lambda **_: None)
    monkeypatch.setattr(score_services, "_rescore_schedule", lambda _tenant_id: None)
    rounds = 6
    for r in range(rounds):
        race_one_account(tenant, f"racing-{r}")
    usage_rollups_fold(tenant=tenant)
    expected = 6 * 3 * 1000
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
