"""Waiting for a positive signal, never for a guessed time: poll for the
expected state with a deadline, drain a real worker's queues with a sentinel
task, or hold a transaction until another one is seen waiting on its locks.
Each fails the test when the signal does not come."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from django.conf import settings
from django.db import connection

from csplatform.celery import app as celery_app

T = TypeVar("T")


def wait_for(check: Callable[[], T], *, what: str, timeout: float = 60) -> T:
    """Poll `check` until it returns something truthy, and return that.
    Raises AssertionError on timeout (an Exception, so threads can report it)."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:.0f} s for {what}")
        time.sleep(0.05)
    return result


def worker_queues() -> list[str]:
    """This test process's Celery queues (per xdist worker, see settings)."""
    return list(settings.WORKER_QUEUES)


def _queue_keys() -> list[tuple[str, int, str]]:
    """(queue, priority, Redis key) of every list kombu keeps for our queues:
    one per priority step, the highest priority (0) under the queue's name."""
    steps = settings.CELERY_BROKER_TRANSPORT_OPTIONS["priority_steps"]
    return [
        (queue, step, f"{queue}\x06\x16{step}" if step else queue)
        for queue in worker_queues()
        for step in steps
    ]


@dataclass(frozen=True)
class Queued:
    queue: str
    priority: int
    task: str
    args: tuple
    kwargs: dict
    eta: str | None


def queued() -> list[Queued]:
    """The messages waiting in this process's queues, oldest first per list
    (for tests that send with no worker running)."""
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    found = []
    for queue, priority, key in _queue_keys():
        for raw in reversed(client.lrange(key, 0, -1)):  # LPUSHed: newest first
            message = json.loads(raw)
            args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
            headers = message["headers"]
            found.append(
                Queued(queue, priority, headers["task"], tuple(args), kwargs, headers.get("eta"))
            )
    return found


def _unacked() -> dict[bytes, str]:
    """kombu's ledger of messages delivered to a worker and not acknowledged
    (tag -> [message, exchange, queue]), ours only: tag -> task name."""
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    found = {}
    for tag, entry in client.hgetall("unacked").items():
        message, _exchange, queue = json.loads(entry)
        if queue in worker_queues():
            found[tag] = message["headers"]["task"]
    return found


def unacknowledged() -> list[str]:
    """The tasks of our queues that a worker took and never acknowledged:
    Redis hands them back only after the visibility timeout."""
    return sorted(_unacked().values())


def purge_queues() -> None:
    """Drop whatever a test left queued, so no later worker runs it, and the
    messages a killed worker left unacknowledged, which Redis would otherwise
    hand back to our queues after the visibility timeout."""
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(*(key for _q, _p, key in _queue_keys()))
    if tags := list(_unacked()):
        client.hdel("unacked", *tags)
        client.zrem("unacked_index", *tags)


_sentinels: dict[str, threading.Event] = {}


@celery_app.task(name="tests.sentinel")
def sentinel(token: str) -> None:
    # The worker of `real_worker` is a thread of this process.
    _sentinels[token].set()


@contextlib.contextmanager
def real_worker() -> Iterator[None]:
    """A solo Celery worker (one task at a time, each queue in order) on the
    test queues, with eager mode off while it runs."""
    from celery.contrib.testing.worker import start_worker

    celery_app.conf.task_always_eager = False
    try:
        with start_worker(
            celery_app,
            pool="solo",
            perform_ping_check=False,
            shutdown_timeout=10,
            queues=worker_queues(),
            hostname=f"tests-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}@%h",
        ):
            yield
    finally:
        celery_app.conf.task_always_eager = True


def drain(timeout: float = 60) -> None:
    """Return once the worker has handled everything queued so far: a
    sentinel sent to each queue now runs after the messages before it."""
    for queue in worker_queues():
        token = uuid.uuid4().hex
        ran = _sentinels[token] = threading.Event()
        sentinel.apply_async((token,), queue=queue)
        try:
            if not ran.wait(timeout):
                raise AssertionError(f"no sentinel ran on {queue} within {timeout:.0f} s")
        finally:
            del _sentinels[token]


def hold_until_another_waits(timeout: float = 30) -> None:
    """Inside an open transaction: return once another session is blocked
    on a lock this one holds, so the race under test really happens."""

    def blocked() -> bool:
        with connection.cursor() as cursor:
            # pg_locks is read live (pg_stat_activity would be a snapshot
            # frozen for the rest of this transaction).
            cursor.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE NOT granted"
                " AND pg_backend_pid() = ANY(pg_blocking_pids(pid)))"
            )
            return cursor.fetchone()[0]

    wait_for(blocked, what="another transaction to wait on this one's locks", timeout=timeout)
