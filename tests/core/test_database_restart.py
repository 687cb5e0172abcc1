"""PostgreSQL restarted under ingestion, against a real gunicorn, Celery
worker and beat (a throwaway stack with its own PostgreSQL and Redis,
tests/stack.py, so the session's shared servers are untouched).

A few client threads keep posting batches; each retries a batch answered
503 (as a client honouring Retry-After would, faster) until it is answered
200. While the database is down every answer is a 503 with Retry-After and
the one error body; there is never a 4xx or a 500; every batch answered
200 is stored exactly once; and after PostgreSQL is back, ingestion and the
worker go on without restarting anything: the worker folds every stored
event into the rollups.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from collections import Counter

import pytest

from tests.stack import Stack
from tests.waiting import wait_for

CLIENTS = 3
BATCH = 20
ACCOUNTS = ["acme-1", "acme-2", "acme-3"]


@pytest.fixture
def stack(tmp_path):
    stack = Stack(
        tmp_path,
        accounts=ACCOUNTS,
        # The fold's beat sweep often: after the outage it picks up any fold
        # whose task failed while the database was down.
        env={"CSP_USAGE_RATE_LIMIT": "0", "CSP_USAGE_FOLD_SWEEP_SECONDS": "2"},
    )
    try:
        yield stack.start()
    finally:
        stack.stop()


class Clients:
    """Threads posting batches of fresh message ids, each batch until 200."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.answers: list[tuple[int, dict, str | None]] = []  # (status, body, Retry-After)
        self.acknowledged: list[list[str]] = []  # message ids of batches answered 200
        self.errors: list[BaseException] = []
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(CLIENTS)]

    def count(self, status: int) -> int:
        with self.lock:
            return sum(1 for s, _, _ in self.answers if s == status)

    def _post(self, conn: http.client.HTTPConnection, body: bytes) -> int:
        conn.request(
            "POST",
            "/api/v1/events",
            body=body,
            headers={
                "Authorization": f"Bearer {self.stack.key}",
                "Content-Type": "application/json",
            },
        )
        response = conn.getresponse()
        data = response.read()
        with self.lock:
            self.answers.append(
                (response.status, json.loads(data or b"{}"), response.getheader("Retry-After"))
            )
        return response.status

    def _run(self) -> None:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.stack.port, timeout=60)
            while not self.stop.is_set():
                ids = [uuid.uuid4().hex for _ in range(BATCH)]
                body = json.dumps(
                    {
                        "batch": [
                            {
                                "account_id": ACCOUNTS[i % len(ACCOUNTS)],
                                "event": "report_exported",
                                "user_id": f"u-{i}",
                                "message_id": mid,
                            }
                            for i, mid in enumerate(ids)
                        ]
                    }
                ).encode()
                while self._post(conn, body) == 503:
                    time.sleep(0.05)  # Retry-After says 5 s; the test is in a hurry
                with self.lock:
                    self.acknowledged.append(ids)
        except BaseException as exc:  # reported by the test
            self.errors.append(exc)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)


def test_postgresql_restarted_under_ingestion(stack):
    tenant = stack.tenant_id
    with Clients(stack) as clients:
        wait_for(lambda: clients.count(200) >= 20, what="ingestion to run", timeout=60)
        stack.stop_postgres()
        wait_for(lambda: clients.count(503) >= 10, what="503s while the database is down")
        # Down long enough for the worker to meet it too: the fold's beat sweep
        # fails on the database in the worker (its log says so).
        wait_for(
            lambda: "OperationalError" in stack.log("worker"),
            what="a task to fail on the database in the worker",
            timeout=30,
        )
        stack.start_postgres()
        after = clients.count(200)
        wait_for(lambda: clients.count(200) >= after + 20, what="ingestion after the restart")
    assert not clients.errors, clients.errors

    statuses = Counter(status for status, _, _ in clients.answers)
    assert set(statuses) == {200, 503}, statuses  # never a 4xx, never a 500
    for status, body, retry_after in clients.answers:
        if status == 503:
            assert retry_after and retry_after.isdigit()
            assert body["code"] == "unavailable" and body["request_id"]

    # Every batch answered 200 is stored, each event exactly once.
    acknowledged = [mid for ids in clients.acknowledged for mid in ids]
    rows = stack.query(
        "SELECT message_id, count(*) FROM health_usageevent WHERE tenant_id = %s"
        " GROUP BY message_id",
        (tenant,),
    )
    per_id = dict(rows)
    assert set(per_id) >= set(acknowledged)
    assert set(per_id.values()) == {1}
    # A batch is only given up on after a 200: nothing stored is unacknowledged.
    assert set(per_id) == set(acknowledged)

    # The worker and beat reconnected by themselves: every stored event is
    # folded into the rollups, without restarting them.
    def folded() -> bool:
        [(total,)] = stack.query(
            "SELECT coalesce(sum(events), 0) FROM health_usagedailyaccount WHERE tenant_id = %s",
            (tenant,),
        )
        return total == len(acknowledged)

    wait_for(folded, what="the worker to fold every stored event", timeout=120)
    assert stack.procs["worker"].poll() is None and stack.procs["beat"].poll() is None
