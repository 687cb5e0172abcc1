"""Ingestion benchmark: the API end to end against COPY into the same table.

Starts gunicorn as in production (several workers) on the configured
database, posts EVENTS events in batches from parallel clients, then loads
the same events with COPY (as the database superuser: COPY FROM refuses
tables with row-level security for anyone else) and prints the ratio.
Also measures single-event requests against the cheapest authenticated
request on the same server in the same run (`GET /api/v1/ping/`: the key
lookup, the tenant context, nothing else), alternating rounds of each so
both see the same machine, and how fast the rollup fold (the worker's half,
run here in-process after the load) counts what the API queued. Prints
`name: value` lines.

    make bench-ingest            # defaults below; override with env vars
    BENCH_EVENTS=20000 BENCH_SINGLE_REQUESTS=1000 make bench-ingest   # a quick try
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csplatform.settings")

EVENTS = int(os.environ.get("BENCH_EVENTS", "200000"))
BATCH = int(os.environ.get("BENCH_BATCH", "500"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "8"))
WORKERS = int(os.environ.get("BENCH_WEB_WORKERS", "4"))
SINGLES = int(os.environ.get("BENCH_SINGLE_REQUESTS", "2000"))
# Single events and pings are timed in this many alternating rounds.
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "4"))
ACCOUNTS = 200


def setup_tenant() -> str:
    import django

    from csplatform.embedded import ensure_env

    ensure_env()  # embedded PostgreSQL/Redis unless named; the servers it starts inherit them
    django.setup()
    from csplatform.tenancy.context import tenant_context
    from csplatform.tenancy.services import api_key_create, tenant_create
    from lifecycle.models import Account

    slug = f"bench-{uuid.uuid4().hex[:8]}"
    tenant = tenant_create(name=f"Benchmark {slug}", slug=slug)
    with tenant_context(tenant):
        Account.objects.bulk_create(
            [Account(name=f"Bench {i}", external_id=f"bench-{i}") for i in range(ACCOUNTS)]
        )
        return api_key_create(name="bench", role="csm").secret


def make_events(n: int, tag: str) -> list[dict]:
    base = datetime.now(UTC) - timedelta(hours=1)
    return [
        {
            "account_id": f"bench-{i % ACCOUNTS}",
            "event": f"feature_{i % 25}",
            "user_id": f"user-{i % 3000}",
            "timestamp": (base + timedelta(milliseconds=i)).isoformat(),
            "properties": {"plan": "pro", "n": i},
            "message_id": f"{tag}-{i}",
        }
        for i in range(n)
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int) -> subprocess.Popen:
    env = {**os.environ, "CSP_USAGE_RATE_LIMIT": "0", "CSP_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "csplatform.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(WORKERS),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("gunicorn did not start")


def post(conn: http.client.HTTPConnection, key: str, body: bytes | None) -> dict:
    """POST a batch to the ingestion endpoint, or (body None) GET the ping."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    if body is None:
        conn.request("GET", "/api/v1/ping/", headers=headers)
    else:
        conn.request("POST", "/api/v1/events", body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    if response.status != 200:
        raise RuntimeError(f"{response.status}: {data[:200]!r}")
    return json.loads(data)


def run_clients(port: int, key: str, bodies: list[bytes | None]) -> tuple[float, int, list[float]]:
    lock = threading.Lock()
    queue = list(reversed(bodies))
    accepted = 0
    latencies: list[float] = []

    def worker():
        nonlocal accepted
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            with lock:
                if not queue:
                    return
                body = queue.pop()
            t0 = time.perf_counter()
            result = post(conn, key, body)
            elapsed = time.perf_counter() - t0
            with lock:
                accepted += result.get("accepted", 0)
                latencies.append(elapsed)

    threads = [threading.Thread(target=worker) for _ in range(CLIENTS)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, accepted, latencies


def copy_rate(events: list[dict], tenant_key: str) -> float:
    import psycopg
    from django.conf import settings

    from csplatform.tenancy.services import api_key_resolve

    tenant_id = api_key_resolve(tenant_key).tenant_id
    db = settings.DATABASES["default"]
    conninfo = f"dbname={db['NAME']} host={db['HOST']} port={db['PORT'] or 5432}"
    user = os.environ.get("BENCH_SUPERUSER", "postgres")
    with psycopg.connect(conninfo, user=user) as conn, conn.cursor() as cur:
        start = time.perf_counter()
        with cur.copy(
            "COPY health_usageevent (tenant_id, account_external_id, user_id, event, "
            "occurred_at, properties, message_id) FROM STDIN"
        ) as copy:
            for e in events:
                copy.write_row(
                    (
                        tenant_id,
                        e["account_id"],
                        e["user_id"],
                        e["event"],
                        e["timestamp"],
                        json.dumps(e["properties"]),
                        "copy-" + e["message_id"],
                    )
                )
        conn.commit()
        return len(events) / (time.perf_counter() - start)


def fold_rate(key: str, events: int) -> float:
    """The downstream half: drain the rollup queue the API filled, as the
    worker does after each commit, and return events counted per second."""
    from csplatform.tenancy.services import api_key_resolve
    from health.services import usage_rollups_fold

    tenant = api_key_resolve(key).tenant
    start = time.perf_counter()
    usage_rollups_fold(tenant=tenant)
    return events / (time.perf_counter() - start)


def main() -> None:
    key = setup_tenant()
    port = free_port()
    server = start_server(port)
    try:
        events = make_events(EVENTS, uuid.uuid4().hex[:6])
        bodies = [
            json.dumps({"batch": events[i : i + BATCH]}).encode()
            for i in range(0, len(events), BATCH)
        ]
        elapsed, accepted, latencies = run_clients(port, key, bodies)
        if accepted != EVENTS:
            raise SystemExit(f"accepted {accepted} of {EVENTS}")
        api_rate = accepted / elapsed
        fold = fold_rate(key, accepted)
        copy = copy_rate(events, key)

        singles = [json.dumps(e).encode() for e in make_events(SINGLES, uuid.uuid4().hex[:6])]
        per_round = max(1, SINGLES // ROUNDS)
        single_elapsed = noop_elapsed = 0.0
        single_lat: list[float] = []
        noop_lat: list[float] = []
        for r in range(ROUNDS):
            # Alternating rounds: a slow spell of the machine hits both alike.
            elapsed, _n, lat = run_clients(port, key, singles[r * per_round : (r + 1) * per_round])
            single_elapsed += elapsed
            single_lat += lat
            elapsed, _n, lat = run_clients(port, key, [None] * per_round)
            noop_elapsed += elapsed
            noop_lat += lat
        single_lat.sort()
        noop_lat.sort()
        single_rate = len(single_lat) / single_elapsed
        noop_rate = len(noop_lat) / noop_elapsed
    finally:
        server.terminate()
        server.wait(timeout=30)

    print(f"events: {EVENTS}")
    print(f"batch_size: {BATCH}")
    print(f"parallel_clients: {CLIENTS}")
    print(f"web_workers: {WORKERS}")
    print(f"ingest_api_events_per_s: {api_rate:.0f}")
    print(f"batch_p50_ms: {statistics.median(latencies) * 1000:.1f}")
    print(f"rollup_fold_events_per_s: {fold:.0f}")
    print(f"copy_events_per_s: {copy:.0f}")
    print(f"ingest_vs_copy_ratio: {api_rate / copy:.3f}")
    print(f"single_event_requests_per_s: {single_rate:.0f}")
    print(f"single_event_p50_ms: {single_lat[len(single_lat) // 2] * 1000:.1f}")
    print(f"single_event_p95_ms: {single_lat[int(len(single_lat) * 0.95)] * 1000:.1f}")
    print(f"noop_requests_per_s: {noop_rate:.0f}")
    print(f"noop_p50_ms: {noop_lat[len(noop_lat) // 2] * 1000:.1f}")
    print(f"single_event_vs_noop_ratio: {single_rate / noop_rate:.3f}")


if __name__ == "__main__":
    main()
