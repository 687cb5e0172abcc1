"""Work-management benchmark: the CSM queue and capacity pages under a
realistic book, and how long a stage change takes to become playbook tasks
through a real worker.

Builds a fresh tenant with ACCOUNTS accounts owned by CSMS CSMs (plus one
leader), TASKS tasks spread over them (open, in progress, done with logged
time, skipped; due from two months ago to two months ahead; a third from
playbook steps), and one automation rule: "entered adoption -> start the
kickoff playbook" (three steps). Statistics are refreshed (ANALYZE) as
autovacuum would.

Then, with gunicorn and a real Celery worker started as in production:
- the CSM queue page (`/t/<slug>/work/`) of one CSM, and the capacity page
  (`/t/<slug>/capacity/`) as the leader, each requested REQUESTS times over
  HTTP (after WARMUP), p50/p95 in ms; their query counts from one request
  through Django's test client in this process;
- SAMPLES onboarding accounts moved to adoption one at a time (forced by the
  leader, as `account_transition` does for the API), each timed from the
  commit until its playbook tasks exist (polled every 10 ms);
- the loaded run: SAMPLES other onboarding accounts moved the same way while
  usage is ingested through the API at a steady LOAD_RATE events/s by
  LOAD_CLIENTS clients (each with its own API key, batches of LOAD_BATCH
  events over LOAD_ACCOUNTS accounts), after LOAD_WARMUP_S of it.

Celery beat runs beside the worker, as in production (it records the
coalesced `usage_recorded` and runs the sweeps).

Prints `name: value` lines. The tenant is deleted at the end (BENCH_KEEP=1
keeps it). BENCH_ACCOUNTS, BENCH_TASKS, BENCH_SAMPLES shrink it; the load is
set by BENCH_LOAD_EVENTS_PER_S, BENCH_LOAD_CLIENTS, BENCH_LOAD_BATCH,
BENCH_LOAD_ACCOUNTS and BENCH_LOAD_WARMUP_S.

    make bench-work
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import logging
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csplatform.settings")

ACCOUNTS = int(os.environ.get("BENCH_ACCOUNTS", "20000"))
CSMS = int(os.environ.get("BENCH_CSMS", "30"))
TASKS = int(os.environ.get("BENCH_TASKS", "200000"))
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "200"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "60"))
WARMUP = 5
EVENT_TIMEOUT_S = 30.0
KEEP = os.environ.get("BENCH_KEEP", "") == "1"
SEED = 20261123
LOAD_RATE = int(os.environ.get("BENCH_LOAD_EVENTS_PER_S", "2000"))
LOAD_CLIENTS = int(os.environ.get("BENCH_LOAD_CLIENTS", "8"))
LOAD_BATCH = int(os.environ.get("BENCH_LOAD_BATCH", "100"))
LOAD_ACCOUNTS = int(os.environ.get("BENCH_LOAD_ACCOUNTS", "500"))
LOAD_WARMUP_S = float(os.environ.get("BENCH_LOAD_WARMUP_S", "15"))
LOAD_NAMES = ["login", "report_viewed", "dashboard_opened", "export_csv", "workflow_run"]

# The server, worker and tenant helpers are the health bench's.
_spec = importlib.util.spec_from_file_location("bench_health", ROOT / "bench" / "health.py")
common = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(common)


def build(tenant, rng: random.Random):
    """Users, accounts, the kickoff playbook and its rule, and the tasks."""
    from django.utils import timezone

    from csplatform.tenancy.context import tenant_context
    from csplatform.tenancy.models import Membership, Role, User
    from lifecycle.models import Account, Stage
    from work.models import (
        CsmProfile,
        Playbook,
        PlaybookStep,
        Priority,
        Rule,
        RuleAction,
        Task,
        TaskStatus,
        TimeEntry,
        Trigger,
    )

    tag = tenant.slug
    now = timezone.now()
    today = timezone.localdate()
    users = User.objects.bulk_create(
        [User(email=f"csm{i}@{tag}.test", full_name=f"CSM {i}") for i in range(CSMS)]
        + [User(email=f"leader@{tag}.test", full_name="Leader")]
    )
    csms, leader = users[:CSMS], users[CSMS]
    skills = ["onboarding", "technical", "training", "executive", "renewals"]
    with tenant_context(tenant):
        memberships = Membership.objects.bulk_create(
            [Membership(user=u, role=Role.CSM) for u in csms]
            + [Membership(user=leader, role=Role.LEADER)]
        )
        CsmProfile.objects.bulk_create(
            [
                CsmProfile(
                    membership=m,
                    user=m.user,
                    skills=rng.sample(skills, 2),
                    weekly_capacity_hours=rng.choice([32, 40, 40, 40]),
                )
                for m in memberships[:CSMS]
            ]
        )
        stages = [Stage.ONBOARDING, Stage.ADOPTION, Stage.USAGE, Stage.VALUE_REALIZATION]
        accounts = Account.objects.bulk_create(
            [
                Account(
                    name=f"Bench {i}",
                    external_id=f"bench-{i}",
                    owner=csms[i % CSMS],
                    stage=Stage.ONBOARDING if i < SAMPLES * 2 else rng.choice(stages),
                    stage_entered_at=now - timedelta(days=rng.randrange(200)),
                )
                for i in range(ACCOUNTS)
            ],
            batch_size=2000,
        )
        playbook = Playbook.objects.create(name="Bench kickoff", stage=Stage.ADOPTION)
        steps = PlaybookStep.objects.bulk_create(
            [
                PlaybookStep(
                    playbook=playbook,
                    position=i,
                    title=title,
                    estimated_minutes=minutes,
                    due_offset_days=days,
                )
                for i, (title, minutes, days) in enumerate(
                    [("Kickoff call", 60, 2), ("Admin training", 90, 7), ("Success plan", 45, 10)]
                )
            ]
        )
        rule = Rule.objects.create(
            name="Adoption kickoff",
            trigger=Trigger.STAGE_ENTERED,
            trigger_config={"stage": Stage.ADOPTION},
        )
        RuleAction.objects.create(
            rule=rule, position=0, kind="start_playbook", config={"playbook_id": playbook.pk}
        )
        statuses = [
            (TaskStatus.OPEN, 55),
            (TaskStatus.IN_PROGRESS, 5),
            (TaskStatus.DONE, 33),
            (TaskStatus.SKIPPED, 4),
            (TaskStatus.CANCELLED, 3),
        ]
        batch, entries = [], []
        for i in range(TASKS):
            status = rng.choices([s for s, _ in statuses], [w for _, w in statuses])[0]
            due = today + timedelta(days=rng.randrange(-60, 60))
            step = steps[i % 3] if i % 3 == 0 else None
            estimate = step.estimated_minutes if step else rng.choice([15, 30, 30, 45, 60, 90])
            closed = status not in (TaskStatus.OPEN, TaskStatus.IN_PROGRESS)
            logged = round(estimate * rng.uniform(0.5, 1.8)) if status == TaskStatus.DONE else 0
            batch.append(
                Task(
                    account=accounts[rng.randrange(ACCOUNTS)],
                    step=step,
                    title=step.title if step else f"Follow-up {i}",
                    assignee=csms[rng.randrange(CSMS)],
                    due_date=due,
                    original_due_date=due,
                    priority=rng.choice(Priority.values),
                    estimated_minutes=estimate,
                    status=status,
                    logged_minutes=logged,
                    closed_at=now - timedelta(days=rng.randrange(0, 60)) if closed else None,
                )
            )
            if len(batch) == 5000:
                created = Task.objects.bulk_create(batch)
                entries += [
                    TimeEntry(
                        task=t,
                        user=t.assignee,
                        minutes=t.logged_minutes,
                        logged_on=t.closed_at.date(),
                    )
                    for t in created
                    if t.logged_minutes
                ]
                batch = []
        if batch:
            Task.objects.bulk_create(batch)
        TimeEntry.objects.bulk_create(entries, batch_size=5000)
    return csms, leader, accounts[: SAMPLES * 2]


def session_cookie(user) -> str:
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def page_times(port: int, path: str, cookie: str) -> list[float]:
    times = []
    for i in range(WARMUP + REQUESTS):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        start = time.perf_counter()
        conn.request("GET", path, headers={"Cookie": cookie})
        response = conn.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - start
        conn.close()
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status} {body[:300]!r}")
        if i >= WARMUP:
            times.append(elapsed * 1000)
    return times


def query_count(path: str, user) -> int:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(user)
    client.get(path)  # warm caches the way a second visit finds them
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200, response.status_code
    return len(queries)


def event_to_tasks(tenant, leader, accounts) -> list[float | None]:
    """Milliseconds from each forced move's commit until its tasks exist."""
    from csplatform.tenancy.context import tenant_context
    from csplatform.tenancy.models import Role
    from lifecycle.models import Stage
    from lifecycle.services import account_transition
    from work.models import Task

    samples: list[float | None] = []
    for account in accounts:
        with tenant_context(tenant):
            account_transition(
                account_id=account.pk,
                to_stage=Stage.ADOPTION,
                actor=leader,
                role=Role.LEADER,
                reason="bench",
                force=True,
            )
        committed = time.perf_counter()  # tenant_context is the transaction
        delay = None
        while time.perf_counter() - committed < EVENT_TIMEOUT_S:
            with tenant_context(tenant):
                if Task.objects.filter(account_id=account.pk, run__isnull=False).exists():
                    delay = (time.perf_counter() - committed) * 1000
                    break
            time.sleep(0.01)
        samples.append(delay)
    return samples


class UsageLoad:
    """LOAD_CLIENTS threads posting usage batches through the API at a steady
    LOAD_RATE events/s in all, each on its own API key (so the per-key rate
    limit is not what is measured). A client that falls behind sends at once
    rather than skipping, so the rate it reached is printed."""

    def __init__(self, port: int, keys: list[str], external_ids: list[str]):
        self.port, self.keys, self.external_ids = port, keys, external_ids
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.events = self.errors = 0
        self.threads = [threading.Thread(target=self._client, args=(i,)) for i in range(len(keys))]

    def _batch(self, rng: random.Random, tag: str) -> bytes:
        now = datetime.now(UTC)
        return json.dumps(
            {
                "batch": [
                    {
                        "account_id": rng.choice(self.external_ids),
                        "event": rng.choice(LOAD_NAMES),
                        "user_id": f"load-user-{rng.randrange(50)}",
                        "timestamp": (now - timedelta(milliseconds=j)).isoformat(),
                        "message_id": f"{tag}-{j}",
                    }
                    for j in range(LOAD_BATCH)
                ]
            }
        ).encode()

    def _client(self, index: int) -> None:
        rng = random.Random(SEED + index)
        interval = len(self.keys) * LOAD_BATCH / LOAD_RATE  # between one client's batches
        headers = {
            "Authorization": f"Bearer {self.keys[index]}",
            "Content-Type": "application/json",
        }
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        next_at = self.started + index * interval / len(self.keys)  # staggered
        n = 0
        while not self.stop_event.is_set():
            if self.stop_event.wait(max(0.0, next_at - time.perf_counter())):
                break
            next_at += interval
            body = self._batch(rng, f"load-{self.tag}-{index}-{n}")
            n += 1
            try:
                conn.request("POST", "/api/v1/events", body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                accepted = json.loads(data)["accepted"] if response.status == 200 else None
            except (OSError, http.client.HTTPException, ValueError):
                conn.close()
                accepted = None
            with self.lock:
                if accepted is None:
                    self.errors += 1
                else:
                    self.events += accepted
        conn.close()

    def start(self) -> UsageLoad:
        self.tag = f"{int(time.time())}"
        self.started = time.perf_counter()
        for thread in self.threads:
            thread.start()
        return self

    def stop(self) -> tuple[float, int]:
        """Events per second accepted, and failed requests."""
        self.stop_event.set()
        for thread in self.threads:
            thread.join()
        return self.events / (time.perf_counter() - self.started), self.errors


def load_keys(tenant) -> list[str]:
    from csplatform.tenancy.context import tenant_context
    from csplatform.tenancy.services import api_key_create

    with tenant_context(tenant):
        return [
            api_key_create(name=f"bench load {i}", role="csm").secret for i in range(LOAD_CLIENTS)
        ]


def start_beat(schedule: Path) -> subprocess.Popen:
    env = {**os.environ, "CSP_LOG_LEVEL": "WARNING"}
    # fmt: off
    argv = [sys.executable, "-m", "celery", "-A", "csplatform", "beat",
            "-l", "warning", "--schedule", str(schedule)]
    # fmt: on
    return subprocess.Popen(argv, cwd=ROOT, env=env)


def main() -> None:
    import django

    from csplatform.embedded import ensure_env

    ensure_env()  # embedded PostgreSQL/Redis unless named; the servers it starts inherit them
    django.setup()
    logging.getLogger("celery").setLevel(logging.WARNING)

    rng = random.Random(SEED)
    setup_start = time.perf_counter()
    tenant = common.tenant_create("work")
    server = worker = beat = load = None
    out: list[tuple[str, object]] = []
    try:
        csms, leader, movers = build(tenant, rng)
        keys = load_keys(tenant)
        from health.services import usage_partitions_ensure

        usage_partitions_ensure()  # the raw events' partition of this month
        common.analyze()
        setup_s = time.perf_counter() - setup_start
        csm = csms[0]
        queue_path = f"/t/{tenant.slug}/work/"
        capacity_path = f"/t/{tenant.slug}/capacity/"
        queue_queries = query_count(queue_path, csm)
        capacity_queries = query_count(capacity_path, leader)

        port = common.free_port()
        server = common.start_server(port)
        worker = common.start_worker()
        beat = start_beat(Path(tempfile.mkdtemp()) / "celerybeat-schedule")
        queue = page_times(port, queue_path, session_cookie(csm))
        capacity = page_times(port, capacity_path, session_cookie(leader))
        samples = event_to_tasks(tenant, leader, movers[:SAMPLES])
        # The loaded run: the next SAMPLES movers while usage streams in for
        # accounts that are not moved (in steady state after the warm-up).
        first = SAMPLES * 2
        loaded_ids = [f"bench-{i}" for i in range(first, min(ACCOUNTS, first + LOAD_ACCOUNTS))]
        load = UsageLoad(port, keys, loaded_ids).start()
        time.sleep(LOAD_WARMUP_S)
        loaded = event_to_tasks(tenant, leader, movers[SAMPLES : SAMPLES * 2])
        load_rate, load_errors = load.stop()
        load = None
    finally:
        if load is not None:
            load.stop()
        common.stop_processes(beat, worker, server)
        if not KEEP:
            common.tenant_delete(tenant.pk)

    def ms(values: list[float | None]) -> list[float]:
        return [EVENT_TIMEOUT_S * 1000 if v is None else v for v in values]

    delays, loaded_delays = ms(samples), ms(loaded)
    idle_p95 = common.percentile(delays, 0.95)
    loaded_p95 = common.percentile(loaded_delays, 0.95)
    out += [
        ("accounts", ACCOUNTS),
        ("csms", CSMS),
        ("tasks", TASKS),
        ("setup_s", f"{setup_s:.1f}"),
        ("queue_p50_ms", f"{statistics.median(queue):.0f}"),
        ("queue_p95_ms", f"{common.percentile(queue, 0.95):.0f}"),
        ("queue_queries", queue_queries),
        ("capacity_p50_ms", f"{statistics.median(capacity):.0f}"),
        ("capacity_p95_ms", f"{common.percentile(capacity, 0.95):.0f}"),
        ("capacity_queries", capacity_queries),
        ("event_to_tasks_samples", len(samples)),
        ("event_to_tasks_timeouts", sum(s is None for s in samples)),
        ("event_to_tasks_p50_ms", f"{statistics.median(delays):.0f}"),
        ("event_to_tasks_p95_ms", f"{idle_p95:.0f}"),
        ("event_to_tasks_max_ms", f"{max(delays):.0f}"),
        ("loaded_ingest_target_events_per_s", LOAD_RATE),
        ("loaded_ingest_events_per_s", f"{load_rate:.0f}"),
        ("loaded_ingest_failed_requests", load_errors),
        ("event_to_tasks_loaded_samples", len(loaded)),
        ("event_to_tasks_loaded_timeouts", sum(s is None for s in loaded)),
        ("event_to_tasks_loaded_p50_ms", f"{statistics.median(loaded_delays):.0f}"),
        ("event_to_tasks_loaded_p95_ms", f"{loaded_p95:.0f}"),
        ("event_to_tasks_loaded_max_ms", f"{max(loaded_delays):.0f}"),
        ("loaded_vs_idle_p95_ratio", f"{loaded_p95 / idle_p95:.2f}"),
    ]
    for name, value in out:
        print(f"{name}: {value}")


if __name__ == "__main__":
    main()
