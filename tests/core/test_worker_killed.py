"""A worker killed mid-task (SIGKILL: no cleanup, and its message left
unacknowledged in Redis, which hands it back only after the visibility
timeout, an hour) leaves nothing waiting for that hour. Each job's state is
in the database, so a new worker and beat's sweeps finish it: an event
handler, a usage fold, a re-score and a rule's webhook, each killed while
running in a real worker process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.db import connection, transaction

from csplatform.celery import app as celery_app
from csplatform.events import registry
from csplatform.events.models import DomainEvent, HandlerReceipt
from csplatform.events.services import events_sweep_undispatched
from csplatform.tenancy.context import tenant_context
from health.models import HealthScore, RescoreRequest, UsageDailyAccount, UsagePending
from health.services import (
    health_rescore_flag_clear,
    health_rescore_request,
    usage_batch_record,
    usage_fold_flag_clear,
)
from health.tasks import fold_all_usage_rollups, rescore_sweep
from tests import factories
from tests.conftest import make_tenant, make_user
from tests.health.test_rollups import batch
from tests.waiting import (
    hold_until_another_waits,
    purge_queues,
    unacknowledged,
    wait_for,
    worker_queues,
)
from tests.work.rules_data import move, playbook, rule
from work.models import ActionRun, ActionStatus, Task
from work.tasks import rule_actions_retry_due

# Real commits: the workers are other processes.
pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
BOOT_TIMEOUT = 120  # a worker process starts Django and connects on a busy machine


class Worker:
    """`celery worker --pool solo` on the test's queues and database, in a
    process group of its own."""

    def __init__(self, tmp_path: Path, name: str, **env: str):
        self.log = tmp_path / f"{name}.log"
        env = {
            **os.environ,
            "CSP_TEST_DATABASE": connection.settings_dict["NAME"],
            "CSP_LOG_LEVEL": "WARNING",
            **env,
        }
        # fmt: off
        argv = [sys.executable, "-m", "celery", "-A", "tests.core.killable_worker", "worker",
                "--pool", "solo", "--concurrency", "1", "-Q", ",".join(worker_queues()),
                "-l", "warning", "-n", f"{name}-{uuid.uuid4().hex[:8]}@%h",
                "--without-gossip", "--without-mingle", "--without-heartbeat"]
        # fmt: on
        with self.log.open("w") as log:
            self.proc = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self) -> None:
        """SIGKILL, as the OOM killer or a lost machine would."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def workers(tmp_path):
    """Start workers with `workers(name, **env)`. Setup runs tasks inline;
    from the first start on they go to Redis."""
    started: list[Worker] = []

    def start(name: str, **env: str) -> Worker:
        celery_app.conf.task_always_eager = False
        started.append(Worker(tmp_path, name, **env))
        return started[-1]

    try:
        yield start
    finally:
        for worker in started:
            worker.stop()
        celery_app.conf.task_always_eager = True
        purge_queues()  # also the killed worker's unacknowledged message


def killed_sessions_gone() -> bool:
    """PostgreSQL has ended the killed worker's session and released its locks:
    no other session of this database is inside a transaction."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND xact_start IS NOT NULL)"
        )
        return cursor.fetchone()[0]


def kill_while_blocked(worker: Worker, table: str) -> None:
    """Hold a lock that `worker`'s task needs on `table`, kill the worker once
    the task waits on it, then let go."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {table} IN SHARE MODE")  # writers wait, readers do not
        try:
            hold_until_another_waits(timeout=BOOT_TIMEOUT)
        finally:
            worker.kill()
    wait_for(killed_sessions_gone, what="PostgreSQL to end the killed worker's session")


def test_an_event_handler_killed_mid_way_is_finished_by_the_sweep(workers, tmp_path):
    tenant = make_tenant()
    owner = make_user(tenant, "csm")
    with tenant_context(tenant):
        book = playbook("Kickoff", steps=2)
        rule(
            "stage_entered",
            {"stage": "adoption"},
            actions=[{"kind": "start_playbook", "config": {"playbook_id": book.pk}}],
        )
        acct = factories.account(owner=owner, external_id="")
    marker = tmp_path / "handling"
    first = workers("first", CSP_TEST_BLOCK="event", CSP_TEST_MARKER=str(marker))
    with tenant_context(tenant):
        move(acct, "adoption")  # commits; sent to the urgent queue
    try:
        wait_for(marker.exists, what="the worker to start handling", timeout=BOOT_TIMEOUT)
    finally:
        first.kill()
    wait_for(killed_sessions_gone, what="PostgreSQL to end the killed worker's session")
    # Left to Redis, the delivery would come back in an hour.
    assert unacknowledged() == ["csplatform.events.tasks.dispatch_event"]
    with tenant_context(tenant):
        event = DomainEvent.objects.get(kind="stage_changed")
        assert event.dispatched_at is None and str(event.pk) == marker.read_text()
        done = set(HandlerReceipt.objects.filter(event=event).values_list("handler", flat=True))
    # The handlers before the killed one committed theirs; the rest did not run.
    names = sorted(
        {*(name for name, _ in registry.handlers_for("stage_changed")), "tests.killable"}
    )
    assert done == {name for name in names if name < "tests.killable"}

    workers("second")
    # Beat's sweep, once the event is overdue (30 s after it was sent).
    assert events_sweep_undispatched(now=event.next_attempt_at + timedelta(seconds=1)) == 1

    def delivered() -> bool:
        with tenant_context(tenant):
            return DomainEvent.objects.filter(pk=event.pk, dispatched_at__isnull=False).exists()

    wait_for(delivered, what="the new worker to finish the event", timeout=BOOT_TIMEOUT)
    with tenant_context(tenant):
        receipts = list(
            HandlerReceipt.objects.filter(event=event).values_list("handler", flat=True)
        )
        assert sorted(receipts) == names  # every handler once, none twice
        assert Task.objects.filter(account=acct).count() == 2  # the rule's playbook, once


def test_a_fold_killed_mid_way_is_finished_by_the_sweep(workers):
    tenant = make_tenant()
    with tenant_context(tenant):
        acct = factories.account(external_id="acme-1")
    usage_fold_flag_clear(tenant_id=tenant.pk)
    first = workers("first")
    with tenant_context(tenant):  # commits; its fold is queued at once
        usage_batch_record(events=batch("k", ["acme-1"], ["u1", "u2"], [0]))
    kill_while_blocked(first, "health_usagedailyaccount")
    assert unacknowledged() == ["health.tasks.fold_usage_rollups"]  # back in an hour
    with tenant_context(tenant):
        assert UsagePending.objects.exists()  # the killed fold's transaction rolled back

    workers("second")
    fold_all_usage_rollups.delay()  # what beat sends every CSP_USAGE_FOLD_SWEEP_SECONDS

    def folded() -> bool:
        with tenant_context(tenant):
            return not UsagePending.objects.exists()

    wait_for(folded, what="the sweep to fold the batch", timeout=BOOT_TIMEOUT)
    with tenant_context(tenant):
        assert UsageDailyAccount.objects.get(account=acct).events == 4


def test_a_rescore_killed_mid_way_is_finished_by_the_sweep(workers, settings):
    settings.HEALTH_RESCORE_DELAY_SECONDS = 0  # the countdown is set here, by the sender
    tenant = make_tenant()
    with tenant_context(tenant):
        acct = factories.account()  # its events are handled, and it is scored, inline
    with tenant_context(tenant):  # from now on, by workers
        HealthScore.objects.all().delete()
        RescoreRequest.objects.all().delete()
    health_rescore_flag_clear(tenant_id=tenant.pk)
    first = workers("first")
    with tenant_context(tenant):  # commits; its re-score is queued
        health_rescore_request(account_ids=[acct.pk])
    kill_while_blocked(first, "health_healthscore")
    assert unacknowledged() == ["health.tasks.rescore_requested"]  # back in an hour
    with tenant_context(tenant):
        assert RescoreRequest.objects.filter(account=acct).exists()

    workers("second")
    rescore_sweep.delay()  # what beat sends every 30 s

    def scored() -> bool:
        with tenant_context(tenant):
            return HealthScore.objects.filter(account=acct).exists()

    wait_for(scored, what="the sweep to re-score the account", timeout=BOOT_TIMEOUT)
    with tenant_context(tenant):
        assert not RescoreRequest.objects.exists()


class HangingReceiver:
    """A webhook receiver whose first request hangs until released; every
    request is answered 200 in the end."""

    def __init__(self):
        self.requests: list[bytes] = []
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                receiver.requests.append(self.rfile.read(int(self.headers["Content-Length"])))
                if len(receiver.requests) == 1:
                    receiver.release.wait(timeout=BOOT_TIMEOUT)
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/csp"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def test_a_webhook_killed_mid_request_is_retried_by_the_sweep(workers, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True  # the receiver listens on 127.0.0.1
    receiver = HangingReceiver()
    try:
        tenant = make_tenant()
        with tenant_context(tenant):
            rule(
                "stage_entered",
                {"stage": "adoption"},
                actions=[
                    {"kind": "webhook", "config": {"url": receiver.url, "secret": "s3cret-1"}}
                ],
            )
            acct = factories.account(external_id="")
        first = workers("first", CSP_WEBHOOK_ALLOW_PRIVATE="1")
        with tenant_context(tenant):
            move(acct, "adoption")  # the rule fires in the worker; the webhook follows
        try:
            wait_for(lambda: receiver.requests, what="the webhook request", timeout=BOOT_TIMEOUT)
        finally:
            first.kill()
        receiver.release.set()
        wait_for(killed_sessions_gone, what="PostgreSQL to end the killed worker's session")
        assert unacknowledged() == ["work.tasks.rule_action_retry"]  # back in an hour
        with tenant_context(tenant):
            run = ActionRun.objects.get(kind="webhook")
            assert run.status == ActionStatus.PENDING  # the attempt died with the worker

        workers("second", CSP_WEBHOOK_ALLOW_PRIVATE="1")
        rule_actions_retry_due.delay()  # what beat sends every 20 s

        def succeeded() -> bool:
            with tenant_context(tenant):
                return ActionRun.objects.filter(pk=run.pk, status=ActionStatus.SUCCEEDED).exists()

        wait_for(succeeded, what="the sweep to retry the webhook", timeout=BOOT_TIMEOUT)
    finally:
        receiver.close()
    # At least once: the cut request and its retry carry the same bytes (and id).
    assert len(receiver.requests) == 2 and receiver.requests[0] == receiver.requests[1]
