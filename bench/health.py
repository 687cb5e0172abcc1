"""Health-score benchmark: the full set-based re-score against a plain GROUP BY
over the same rollups, and usage-to-score freshness with a real worker.

Builds a fresh tenant with ACCOUNTS accounts (contracts with seats, a feature
catalogue, NPS answers, CSM contact, sentiment, stage outcomes, a few open
escalations) and EVENTS usage events over the last 90 days, loaded with COPY
into the raw table as the database superuser (COPY FROM refuses tables with
row-level security for anyone else). The daily rollups are then built with
set-based INSERT ... SELECT ... GROUP BY from the raw events, after checking,
on a small tenant fed through the product's own ingest and fold, that this
builder produces exactly the rollups the fold does. The rollups are inserted
day by day, the physical order the fold leaves them in, and analysed, as
autovacuum would after a load.

Then, as the application role (row-level security on):
- `health_rescore(account_ids=None)` twice (cold, then warm), and one plain
  GROUP BY account over the same rollups the score reads, with the same
  windows (the daily account rollup for 60 days, the account x user and
  account x event rollups for 30), warm: the cost of just reading the data.
  The GROUP BY over the one account rollup is printed too, for reference;
- with gunicorn and a real Celery worker started as in production, posts a
  usage batch for one account at a time and polls that account's
  `HealthScore.scored_at` until the score is newer than the 200.

Prints `name: value` lines. The bench tenant is deleted at the end
(BENCH_KEEP=1 keeps it). With the ratio above 3 (or BENCH_EXPLAIN=1) the
scoring statement's EXPLAIN (ANALYZE, BUFFERS) goes to bench/health_explain.txt.

    make bench-health            # defaults below; override with env vars
"""

from __future__ import annotations

import http.client
import json
import logging
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csplatform.settings")

ACCOUNTS = int(os.environ.get("BENCH_ACCOUNTS", "20000"))
EVENTS = int(os.environ.get("BENCH_EVENTS", "5000000"))
DAYS = 90
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "20"))
WEB_WORKERS = int(os.environ.get("BENCH_WEB_WORKERS", "2"))
SCORE_TIMEOUT_S = 120.0
KEEP = os.environ.get("BENCH_KEEP", "") == "1"
EXPLAIN = os.environ.get("BENCH_EXPLAIN", "") == "1"
EXPLAIN_FILE = ROOT / "bench" / "health_explain.txt"
SEED = 20261124

# 25 event names: feature -> (counts_for_adoption, events with relative frequency).
CATALOGUE: dict[str, tuple[bool, list[tuple[str, int]]]] = {
    "Reports": (True, [("report_viewed", 30), ("report_exported", 8), ("report_scheduled", 3)]),
    "Dashboards": (True, [("dashboard_viewed", 40), ("dashboard_created", 3), ("widget_added", 5)]),
    "Integrations": (True, [("integration_connected", 1), ("sync_run", 20)]),
    "Automation": (True, [("workflow_created", 2), ("workflow_run", 25), ("rule_triggered", 15)]),
    "Collaboration": (True, [("comment_added", 12), ("mention_sent", 6), ("file_shared", 4)]),
    "Administration": (False, [("user_invited", 2), ("role_changed", 1), ("settings_updated", 2)]),
    "Search": (False, [("search_run", 25), ("filter_saved", 3)]),
    "Core": (False, [("login", 50), ("page_viewed", 120)]),
}
UNCATALOGUED = [("ticket_created", 1), ("api_call", 30), ("export_csv", 4)]
SUPPORT_EVENT = "ticket_created"


def superuser_connect():
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    conninfo = f"dbname={db['NAME']} host={db['HOST']} port={db['PORT'] or 5432}"
    return psycopg.connect(conninfo, user=os.environ.get("BENCH_SUPERUSER", "postgres"))


# -- usage generation --------------------------------------------------------


class Profile:
    """How one account uses the product: volume, shape over time, users, features."""

    def __init__(self, rng: random.Random, index: int, account_id: int, seats: int):
        self.account_id = account_id
        self.external_id = f"bench-{index}"
        roll = rng.random()
        self.shape = (
            "idle"
            if roll < 0.08
            else "gone"  # used the product, then stopped two months ago
            if roll < 0.13
            else "growing"
            if roll < 0.35
            else "declining"
            if roll < 0.58
            else "steady"
        )
        self.weight = 0.0 if self.shape == "idle" else rng.lognormvariate(0, 1.1)
        self.active_share = rng.uniform(0.15, 1.0)  # share of days with any use
        base = seats or rng.randint(3, 40)
        self.users = max(1, round(base * rng.uniform(0.05, 1.1)))
        features = [f for f in CATALOGUE if f != "Core" and rng.random() < rng.uniform(0.2, 0.9)]
        names = list(CATALOGUE["Core"][1])
        for feature in features:
            names += CATALOGUE[feature][1]
        names += [u for u in UNCATALOGUED if rng.random() < 0.5]
        self.events = [n for n, _ in names]
        self.cum_weights = []
        total = 0
        for _, w in names:
            total += w
            self.cum_weights.append(total)

    def intensity(self, days_back: int) -> float:
        age = days_back / (DAYS - 1)  # 0 today, 1 ninety days ago
        return {
            "idle": 0.0,
            "gone": 1.0 if days_back >= 62 else 0.0,
            "growing": 0.2 + 1.8 * (1 - age),
            "declining": 0.2 + 1.8 * age,
            "steady": 1.0,
        }[self.shape]


def usage_cells(rng: random.Random, profiles: list[Profile]) -> list[tuple[Profile, int, int]]:
    """(profile, days_back, events) with exactly EVENTS events in all."""
    cells = []
    for p in profiles:
        if not p.weight:
            continue
        days = [
            (d, p.intensity(d)) for d in range(DAYS) if rng.random() < p.active_share or d == 70
        ]
        norm = sum(i for _, i in days) or 1.0
        cells += [(p, d, p.weight * i / norm) for d, i in days if i > 0]
    scale = EVENTS / sum(c for _, _, c in cells)
    out, cum, done = [], 0.0, 0
    for p, d, c in cells:  # cumulative rounding: the total is exact
        cum += c * scale
        n = round(cum) - done
        done += n
        if n:
            out.append((p, d, n))
    return out


def copy_usage(tenant_id: int, profiles: list[Profile], rng: random.Random) -> int:
    """COPY the raw events (text format, as the superuser). Returns the count."""
    now = datetime.now(UTC)
    today = now.date()
    seconds_today = now.hour * 3600 + now.minute * 60 + now.second
    dates = [(today - timedelta(days=d)).isoformat() for d in range(DAYS)]
    clock = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400)]
    written = 0
    with superuser_connect() as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY health_usageevent (tenant_id, account_id, account_external_id, user_id, "
            "event, occurred_at, message_id) FROM STDIN"
        ) as copy:
            lines: list[str] = []
            for p, d, n in usage_cells(rng, profiles):
                prefix = f"{tenant_id}\t{p.account_id}\t{p.external_id}\t"
                span = max(1, seconds_today) if d == 0 else 86400
                day = dates[d]
                names = rng.choices(p.events, cum_weights=p.cum_weights, k=n)
                for name in names:
                    r = rng.random()
                    # a few anonymous events; otherwise power users dominate
                    user = "" if r < 0.03 else f"u{p.account_id}-{int(p.users * r * r)}"
                    written += 1
                    lines.append(
                        f"{prefix}{user}\t{name}\t{day} {clock[rng.randrange(span)]}+00"
                        f"\tbh-{written}\n"
                    )
                if len(lines) >= 100_000:
                    copy.write("".join(lines).encode())
                    lines.clear()
            copy.write("".join(lines).encode())
        conn.commit()
    return written


# The daily rollups from the raw events, as one pass of set-based SQL with the
# fold's semantics (health/sql.py ROLLUP_CTES): day is the UTC date; events
# count every event; users count distinct non-empty user ids; the *_user
# tables list who was counted. Rows go in day by day, as the fold writes them.
ROLLUP_BUILD_SQL = [
    """
    CREATE TEMP TABLE bench_changed ON COMMIT DROP AS
    SELECT e.account_id, e.event, e.user_id, (e.occurred_at AT TIME ZONE 'UTC')::date AS day,
           count(*) AS n
    FROM health_usageevent e
    WHERE e.tenant_id = %(tenant)s AND e.account_id IS NOT NULL
      AND EXISTS (SELECT 1 FROM lifecycle_account a WHERE a.id = e.account_id)
    GROUP BY 1, 2, 3, 4
    """,
    """
    INSERT INTO health_usagedailyeventuser
        (tenant_id, account_id, event, day, user_id, created_at, updated_at)
    SELECT %(tenant)s, account_id, event, day, user_id, now(), now()
    FROM bench_changed WHERE user_id <> '' ORDER BY day, account_id, event, user_id
    """,
    """
    INSERT INTO health_usagedailyaccountuser
        (tenant_id, account_id, day, user_id, created_at, updated_at)
    SELECT DISTINCT %(tenant)s, account_id, day, user_id, now(), now()
    FROM bench_changed WHERE user_id <> '' ORDER BY day, account_id, user_id
    """,
    """
    INSERT INTO health_usagedailyevent
        (tenant_id, account_id, event, day, events, users, created_at, updated_at)
    SELECT %(tenant)s, account_id, event, day, sum(n), count(*) FILTER (WHERE user_id <> ''),
           now(), now()
    FROM bench_changed GROUP BY account_id, event, day ORDER BY day, account_id, event
    """,
    """
    INSERT INTO health_usagedailyaccount
        (tenant_id, account_id, day, events, active_users, created_at, updated_at)
    SELECT %(tenant)s, account_id, day, sum(n),
           count(DISTINCT user_id) FILTER (WHERE user_id <> ''), now(), now()
    FROM bench_changed GROUP BY account_id, day ORDER BY day, account_id
    """,
]

ROLLUP_TABLES = {
    "health_usagedailyaccount": "account_id, day, events, active_users",
    "health_usagedailyevent": "account_id, event, day, events, users",
    "health_usagedailyaccountuser": "account_id, day, user_id",
    "health_usagedailyeventuser": "account_id, event, day, user_id",
}


def rollups_build(tenant_id: int) -> None:
    with superuser_connect() as conn, conn.cursor() as cur:
        cur.execute("SET LOCAL work_mem = '256MB'")
        # Django's foreign keys are deferred: checked at COMMIT, one trigger
        # call per row per key (minutes for millions of rows). Every row here
        # names an existing account and the tenant (bench_changed keeps only
        # those), so the load skips them, as pg_restore does.
        cur.execute("SET LOCAL session_replication_role = replica")
        for sql in ROLLUP_BUILD_SQL:
            cur.execute(sql, {"tenant": tenant_id})
        conn.commit()


def rollups_read(tenant_id: int) -> dict[str, set]:
    with superuser_connect() as conn, conn.cursor() as cur:
        out = {}
        for table, columns in ROLLUP_TABLES.items():
            cur.execute(f"SELECT {columns} FROM {table} WHERE tenant_id = %s", [tenant_id])
            out[table] = set(cur.fetchall())
        return out


def rollups_check() -> int:
    """Feed a small tenant through the product (ingest statement, then the
    fold), then rebuild its rollups with ROLLUP_BUILD_SQL: both must agree.
    Returns the number of rollup rows compared."""
    from csplatform.celery import app as celery_app
    from csplatform.tenancy.context import tenant_context
    from health.services import usage_batch_record, usage_rollups_fold
    from lifecycle.models import Account

    rng = random.Random(SEED + 1)
    tenant = tenant_create("check")
    try:
        with tenant_context(tenant):
            accounts = Account.objects.bulk_create(
                [Account(name=f"Check {i}", external_id=f"check-{i}") for i in range(12)]
            )
        now = datetime.now(UTC)
        events = [
            {
                "account_id": f"check-{rng.randrange(13)}",  # check-12 does not exist
                "event": rng.choice(["login", "report_viewed", "sync_run", SUPPORT_EVENT]),
                "user_id": rng.choice(["", "a", "b", "c", "d", "e"]),
                "timestamp": (now - timedelta(seconds=rng.randrange(80 * 86400))).isoformat(),
                "message_id": f"check-{i}",
            }
            for i in range(6000)
        ]
        # Tasks inline: the fold scheduled on commit runs here, not on a worker.
        celery_app.conf.task_always_eager = True
        try:
            for i in range(0, len(events), 1000):
                with tenant_context(tenant):
                    result = usage_batch_record(events=events[i : i + 1000])
                    assert not result.rejected, result.rejected[:3]
            usage_rollups_fold(tenant=tenant)
        finally:
            celery_app.conf.task_always_eager = False
        folded = rollups_read(tenant.pk)
        with superuser_connect() as conn, conn.cursor() as cur:
            for table in ROLLUP_TABLES:
                cur.execute(f"DELETE FROM {table} WHERE tenant_id = %s", [tenant.pk])
            conn.commit()
        rollups_build(tenant.pk)
        built = rollups_read(tenant.pk)
        for table in ROLLUP_TABLES:
            if folded[table] != built[table]:
                raise SystemExit(
                    f"rollup check failed on {table}: fold {len(folded[table])} rows, "
                    f"built {len(built[table])}, differing "
                    f"{sorted(folded[table] ^ built[table])[:5]}"
                )
        if not folded["health_usagedailyaccount"] or len(accounts) != 12:
            raise SystemExit("rollup check folded nothing")
        return sum(len(rows) for rows in built.values())
    finally:
        tenant_delete(tenant.pk)


# -- tenant ------------------------------------------------------------------


def tenant_create(tag: str):
    from csplatform.tenancy.services import tenant_create as create

    slug = f"bench-{tag}-{uuid.uuid4().hex[:8]}"
    return create(name=f"Benchmark {slug}", slug=slug)


def tenant_delete(tenant_id: int) -> None:
    """Every row of the tenant, as the superuser (the raw events alone are
    millions of rows; FK triggers off, since the whole tenant goes)."""
    with superuser_connect() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
        )
        tables = [r[0] for r in cur.fetchall()]
        cur.execute("SET LOCAL session_replication_role = replica")
        for table in tables:
            cur.execute(f'DELETE FROM "{table}" WHERE tenant_id = %s', [tenant_id])
        cur.execute("DELETE FROM tenancy_tenant WHERE id = %s", [tenant_id])
        conn.commit()


def build_tenant(tenant, rng: random.Random) -> list[Profile]:
    """Accounts and everything the measures read except usage, in bulk."""
    from django.utils import timezone

    from csplatform.tenancy.context import tenant_context
    from health.models import CsmSentiment, EventName, Feature, NpsResponse
    from health.services import usage_partitions_ensure
    from lifecycle.models import (
        Account,
        AccountAchievement,
        Contract,
        ContractStatus,
        Escalation,
        Stage,
        StageAchievement,
        TimelineEntry,
    )

    now = timezone.now()
    today = now.date()
    stages = [
        (Stage.ONBOARDING, 10),
        (Stage.ADOPTION, 20),
        (Stage.USAGE, 30),
        (Stage.VALUE_REALIZATION, 20),
        (Stage.ADVOCACY, 10),
        (Stage.CHURNED, 10),
    ]
    usage_partitions_ensure(months_back=4)
    with tenant_context(tenant):
        escalated = set(rng.sample(range(ACCOUNTS), ACCOUNTS // 50))
        accounts = Account.objects.bulk_create(
            [
                Account(
                    name=f"Bench {i}",
                    external_id=f"bench-{i}",
                    tier=rng.choice(["strategic", "enterprise", "mid_market", "smb"]),
                    stage=rng.choices([s for s, _ in stages], [w for _, w in stages])[0],
                    stage_entered_at=now - timedelta(days=rng.randrange(200)),
                    is_escalated=i in escalated,
                )
                for i in range(ACCOUNTS)
            ],
            batch_size=2000,
        )
        Escalation.objects.bulk_create(
            [
                Escalation(account=accounts[i], reason="bench", opened_at=now)
                for i in sorted(escalated)
            ]
        )
        seats: dict[int, int] = {}
        contracts = []
        for a in accounts:
            roll = rng.random()
            if roll < 0.12:
                continue  # no contract: license utilization is missing
            start = today - timedelta(days=rng.randrange(30, 700))
            status = ContractStatus.ACTIVE if roll < 0.92 else ContractStatus.EXPIRED
            n = round(rng.lognormvariate(3, 0.9)) + 1
            if status == ContractStatus.ACTIVE:
                seats[a.pk] = n
            contracts.append(
                Contract(
                    account=a,
                    arr=Decimal(n * 600),
                    seats=n,
                    start_date=start,
                    renewal_date=start + timedelta(days=365 * (1 + (today - start).days // 365)),
                    status=status,
                )
            )
        Contract.objects.bulk_create(contracts, batch_size=2000)

        features = {
            name: Feature.objects.create(name=name, counts_for_adoption=key)
            for name, (key, _) in CATALOGUE.items()
        }
        EventName.objects.bulk_create(
            [
                EventName(name=event, feature=features[name])
                for name, (_, events) in CATALOGUE.items()
                for event, _ in events
            ]
            + [EventName(name=event) for event, _ in UNCATALOGUED]
        )

        nps, sentiment, contact, done = [], [], [], []
        required = {}
        for sa in StageAchievement.objects.filter(required=True):
            required.setdefault(sa.stage, []).append(sa)
        profiles = []
        for i, a in enumerate(accounts):
            p = Profile(rng, i, a.pk, seats.get(a.pk, 0))
            profiles.append(p)
            happy = {"growing": 2, "steady": 1, "declining": -2, "gone": -3, "idle": -1}[p.shape]
            if rng.random() < 0.35:
                for r in range(rng.randint(1, 3)):
                    score = max(0, min(10, round(rng.gauss(7 + happy, 2))))
                    nps.append(
                        NpsResponse(
                            account=a,
                            respondent=f"person-{r}@bench-{i}.test",
                            score=score,
                            responded_at=now - timedelta(days=rng.randrange(170)),
                        )
                    )
            if rng.random() < 0.25:
                sentiment.append(
                    CsmSentiment(
                        account=a,
                        value=rng.choice(["red", "yellow", "green"]),
                        comment="bench",
                    )
                )
            if rng.random() < 0.7:
                for _ in range(rng.randint(1, 3)):
                    contact.append(
                        TimelineEntry(
                            account=a,
                            kind=rng.choice(["note", "meeting_logged", "call_logged"]),
                            title="bench contact",
                            occurred_at=now - timedelta(days=rng.randrange(90)),
                        )
                    )
            for sa in required.get(a.stage, []):
                if rng.random() < 0.6:
                    done.append(AccountAchievement(account=a, achievement=sa))
        NpsResponse.objects.bulk_create(nps, batch_size=5000)
        CsmSentiment.objects.bulk_create(sentiment, batch_size=5000)
        TimelineEntry.objects.bulk_create(contact, batch_size=5000)
        AccountAchievement.objects.bulk_create(done, batch_size=5000)
    return profiles


def analyze() -> None:
    """What autovacuum would have done by the time of a nightly re-score: the
    rollups vacuumed (visibility map) and every table's statistics current,
    the small catalogue tables included (without them the planner guesses)."""
    with superuser_connect() as conn:
        conn.autocommit = True
        for table in ROLLUP_TABLES:
            conn.execute(f"VACUUM {table}")
        conn.execute("ANALYZE")


# -- figures -----------------------------------------------------------------


def full_rescore(tenant) -> tuple[float, int, tuple[str, list | dict] | None]:
    """Wall time of one full re-score (its transaction included), the
    accounts scored, and the scoring statement as executed."""
    from django.db import connection

    from csplatform.tenancy.context import tenant_context
    from health.models import HealthScore
    from health.services import health_rescore

    captured = []

    def capture(execute, sql, params, many, context):
        if "INSERT INTO health_healthscore" in sql:
            captured.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        start = time.perf_counter()
        with tenant_context(tenant):
            health_rescore(account_ids=None)
        elapsed = time.perf_counter() - start
    with tenant_context(tenant):
        scored = HealthScore.objects.filter(score__isnull=False).count()
    return elapsed, scored, (captured[0] if captured else None)


GROUPBY_ONE_TABLE_SQL = """
SELECT account_id, count(*), sum(events), sum(active_users)
FROM health_usagedailyaccount
WHERE tenant_id = %s AND day > current_date - 60
GROUP BY account_id
"""


# The plain GROUP BY account over the same rollups the score reads, with the
# windows it reads them for: the floor that reading the data alone costs.
GROUPBY_SQL = """
SELECT account_id, sum(n) FROM (
    SELECT account_id, events AS n FROM health_usagedailyaccount
    WHERE tenant_id = %s AND day > current_date - 60
    UNION ALL
    SELECT account_id, 1 FROM health_usagedailyaccountuser
    WHERE tenant_id = %s AND day > current_date - 30
    UNION ALL
    SELECT account_id, events FROM health_usagedailyevent
    WHERE tenant_id = %s AND day > current_date - 30
) rollups
GROUP BY account_id
"""


def plain_groupby(tenant, sql: str = GROUPBY_SQL) -> tuple[float, int]:
    """The median of three warm runs (after one to warm up), fully fetched."""
    from django.db import connection

    from csplatform.tenancy.context import tenant_context

    times, rows = [], 0
    for _ in range(4):
        with tenant_context(tenant), connection.cursor() as cursor:
            start = time.perf_counter()
            cursor.execute(sql, [tenant.pk] * sql.count("%s"))
            rows = len(cursor.fetchall())
            times.append(time.perf_counter() - start)
    return statistics.median(times[1:]), rows


def explain(tenant, statement: tuple[str, list | dict]) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of the scoring statement, rolled back."""
    from django.db import connection, transaction

    from csplatform.tenancy.context import tenant_context

    sql, params = statement

    class Rollback(Exception):
        pass

    lines: list[str] = []
    try:
        with tenant_context(tenant), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, VERBOSE) " + sql, params)
            lines = [row[0] for row in cursor.fetchall()]
            raise Rollback
    except Rollback:
        pass
    EXPLAIN_FILE.write_text("\n".join(lines) + "\n")


def distribution(tenant) -> dict[str, int]:
    from django.db.models import Count

    from csplatform.tenancy.context import tenant_context
    from health.models import HealthScore

    with tenant_context(tenant):
        rows = HealthScore.objects.values("band").annotate(n=Count("id"))
        return {r["band"] or "none": r["n"] for r in rows}


# -- usage to score ----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int) -> subprocess.Popen:
    env = {**os.environ, "CSP_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "csplatform.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(WEB_WORKERS),
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


def start_worker() -> subprocess.Popen:
    from django.conf import settings

    from csplatform.celery import app as celery_app

    env = {**os.environ, "CSP_LOG_LEVEL": "WARNING"}
    env.pop("CSP_HEALTH_RESCORE_DELAY_SECONDS", None)  # the production default
    queues = ",".join(settings.WORKER_QUEUES)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "csplatform",
            "worker",
            "-Q",
            queues,
            "--concurrency",
            "2",
            "-l",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the Celery worker exited")
        if celery_app.control.ping(timeout=0.5):
            return proc
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("the Celery worker did not answer")


def stop_processes(*procs: subprocess.Popen | None) -> None:
    """SIGTERM to each started process, then up to 30 s to exit before a kill."""
    started = [proc for proc in procs if proc is not None]
    for proc in started:
        proc.terminate()
    for proc in started:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def post_batch(port: int, key: str, external_id: str, tag: str) -> None:
    now = datetime.now(UTC)
    body = json.dumps(
        {
            "batch": [
                {
                    "account_id": external_id,
                    "event": name,
                    "user_id": f"fresh-{j % 4}",
                    "timestamp": (now - timedelta(seconds=j)).isoformat(),
                    "message_id": f"{tag}-{j}",
                }
                for j, name in enumerate(["login", "report_viewed", "workflow_run"] * 5)
            ]
        }
    ).encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(
            "POST",
            "/api/v1/events",
            body=body,
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    if response.status != 200 or json.loads(data)["accepted"] != 15:
        raise RuntimeError(f"{response.status}: {data[:200]!r}")


def usage_to_score(tenant, key: str, port: int, profiles: list[Profile]) -> list[float | None]:
    """Seconds from each batch's 200 until its account's score is newer
    (None: not within SCORE_TIMEOUT_S)."""
    from csplatform.tenancy.context import tenant_context
    from health.models import HealthScore

    rng = random.Random(SEED + 2)
    samples: list[float | None] = []
    for i, p in enumerate(rng.sample(profiles, SAMPLES)):
        post_batch(port, key, p.external_id, f"fresh-{uuid.uuid4().hex[:8]}-{i}")
        acked_at = datetime.now(UTC)
        acked = time.perf_counter()
        deadline = acked + SCORE_TIMEOUT_S
        delay = None
        while time.perf_counter() < deadline:
            with tenant_context(tenant):
                scored_at = (
                    HealthScore.objects.filter(account_id=p.account_id)
                    .values_list("scored_at", flat=True)
                    .first()
                )
            if scored_at is not None and scored_at > acked_at:
                delay = time.perf_counter() - acked
                break
            time.sleep(0.1)
        samples.append(delay)
    return samples


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def main() -> None:
    import django

    from csplatform.embedded import ensure_env

    ensure_env()  # embedded PostgreSQL/Redis unless named; the servers it starts inherit them
    django.setup()
    from csplatform.tenancy.context import tenant_context
    from csplatform.tenancy.services import api_key_create

    logging.getLogger("celery").setLevel(logging.WARNING)  # the check's inline tasks

    out: list[tuple[str, object]] = []
    setup_start = time.perf_counter()
    checked = rollups_check()
    rng = random.Random(SEED)
    tenant = tenant_create("health")
    server = worker = None
    try:
        profiles = build_tenant(tenant, rng)
        events = copy_usage(tenant.pk, profiles, rng)
        rollups_build(tenant.pk)
        analyze()
        setup_s = time.perf_counter() - setup_start

        cold, _, _ = full_rescore(tenant)
        warm, scored, statement = full_rescore(tenant)
        groupby, groups = plain_groupby(tenant)
        groupby_one, _ = plain_groupby(tenant, GROUPBY_ONE_TABLE_SQL)
        ratio = warm / groupby
        if statement and (EXPLAIN or ratio > 3):
            explain(tenant, statement)

        with tenant_context(tenant):
            key = api_key_create(name="bench", role="csm").secret
        port = free_port()
        server = start_server(port)
        worker = start_worker()
        samples = usage_to_score(tenant, key, port, profiles)
        bands = distribution(tenant)
    finally:
        stop_processes(worker, server)
        if not KEEP:
            tenant_delete(tenant.pk)

    # A sample that timed out counts as the bound, so it cannot flatter the p95.
    delays = [SCORE_TIMEOUT_S if s is None else s for s in samples]
    out += [
        ("accounts", ACCOUNTS),
        ("usage_events", events),
        ("rollup_check_rows", checked),
        ("setup_s", f"{setup_s:.1f}"),
        ("accounts_scored", scored),
        ("full_rescore_cold_s", f"{cold:.2f}"),
        ("full_rescore_s", f"{warm:.2f}"),
        ("accounts_per_s", f"{ACCOUNTS / warm:.0f}"),
        ("plain_groupby_s", f"{groupby:.3f}"),
        ("plain_groupby_rows", groups),
        ("rescore_vs_groupby_ratio", f"{ratio:.2f}"),
        ("cold_rescore_vs_groupby_ratio", f"{cold / groupby:.2f}"),
        ("plain_groupby_one_table_s", f"{groupby_one:.3f}"),
        ("rescore_vs_one_table_ratio", f"{warm / groupby_one:.2f}"),
        ("bands", " ".join(f"{band}={n}" for band, n in sorted(bands.items()))),
        ("usage_to_score_samples", len(samples)),
        ("usage_to_score_timeouts", sum(s is None for s in samples)),
        ("usage_to_score_p50_s", f"{statistics.median(delays):.1f}"),
        ("usage_to_score_p95_s", f"{percentile(delays, 0.95):.1f}"),
        ("usage_to_score_max_s", f"{max(delays):.1f}"),
    ]
    for name, value in out:
        print(f"{name}: {value}")


if __name__ == "__main__":
    main()
