"""A throwaway deployment for fault tests: its own PostgreSQL and Redis
(started by csplatform.embedded in a temporary data folder, so the test
session's shared servers are never touched), migrated, with gunicorn, a
Celery worker and Celery beat pointed at them, as `make run` starts them.
The test can stop and start that PostgreSQL for real, and read its tables
as the superuser (row-level security does not hide rows from it)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable

# Who runs a new tenant, an account and an API key into the new database, and
# names the worker's queues, whatever settings declare (one line of JSON).
_SETUP = """
import json, django
django.setup()
from django.conf import settings
from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.services import api_key_create, tenant_create
from lifecycle.models import Account

tenant = tenant_create(name="Fault test", slug="fault-test")
with tenant_context(tenant):
    for external_id in {accounts!r}:
        Account.objects.create(name=external_id, external_id=external_id)
    key = api_key_create(name="fault test", role="csm").secret
queues = sorted({{
    value for name, value in vars(settings._wrapped).items()
    if name.startswith("CELERY_") and name.endswith("_QUEUE") and isinstance(value, str)
}})
print(json.dumps({{"key": key, "tenant_id": tenant.pk, "queues": queues}}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    def __init__(self, data_dir: Path, *, accounts: list[str], env: dict | None = None):
        self.data_dir = data_dir
        self.accounts = accounts
        self.extra_env = env or {}
        self.procs: dict[str, subprocess.Popen] = {}
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    # -- processes -----------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "DATABASE_OWNER_URL", "REDIS_URL")
            and not k.startswith(("PYTEST_", "CSP_"))
        }
        env.update(
            CSP_DATA_DIR=str(self.data_dir),
            DJANGO_SETTINGS_MODULE="csplatform.settings",
            PYTHONUNBUFFERED="1",
            **self.extra_env,
        )
        return env

    def _run(self, *argv: str, env: dict) -> str:
        done = subprocess.run(
            [PY, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        if done.returncode != 0:
            raise RuntimeError(f"{argv[:2]} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def start(self) -> Stack:
        env = self._env()
        # The embedded servers start in data_dir (cleanup_mode=None: they outlive us).
        urls = json.loads(
            self._run(
                "-c",
                "import json; from csplatform.embedded import ensure_env;"
                " print(json.dumps(ensure_env()))",
                env=env,
            )
            .strip()
            .splitlines()[-1]
        )
        self.env = {**env, **urls}
        self.socket_dir = urls["DATABASE_URL"].split("host=", 1)[1]
        self._run("manage.py", "migrate", "--noinput", env=self.env)
        found = json.loads(
            self._run("-c", _SETUP.format(accounts=self.accounts), env=self.env).splitlines()[-1]
        )
        self.key, self.tenant_id = found["key"], found["tenant_id"]
        logs = self.data_dir / "logs"
        logs.mkdir(exist_ok=True)
        # fmt: off
        commands = {
            "web": ["-m", "gunicorn", "csplatform.wsgi:application",
                    "--bind", f"127.0.0.1:{self.port}", "--workers", "2", "--threads", "2",
                    "--graceful-timeout", "5"],
            "worker": ["-m", "celery", "-A", "csplatform", "worker", "-l", "info",
                       "--concurrency", "1", "-Q", ",".join(found["queues"])],
            "beat": ["-m", "celery", "-A", "csplatform", "beat", "-l", "info",
                     "--schedule", str(self.data_dir / "celerybeat-schedule")],
        }
        # fmt: on
        for name, argv in commands.items():
            with open(logs / f"{name}.log", "w") as out:
                self.procs[name] = subprocess.Popen(
                    [PY, *argv],
                    cwd=ROOT,
                    env=self.env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    process_group=0,
                )
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            if time.monotonic() > deadline or self.procs["web"].poll() is not None:
                raise RuntimeError("gunicorn did not start: " + self.log("web")[-4000:])
            time.sleep(0.1)

    def log(self, name: str) -> str:
        return (self.data_dir / "logs" / f"{name}.log").read_text(errors="replace")

    def stop(self) -> None:
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()  # the main process stops its own children
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=15)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of the group
            proc.wait()
        with contextlib.suppress(Exception):
            self.postgres("stop", "-m", "immediate")
        pid_file = self.data_dir / "redis" / "redis.pid"
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)

    # -- the database ------------------------------------------------------------------
    def postgres(self, *args: str) -> None:
        """pg_ctl on this stack's server, as the user pgserver runs it as."""
        from pgserver._commands import pg_ctl

        user = "pgserver" if os.geteuid() == 0 else None
        pg_ctl(["-w", *args], pgdata=self.data_dir / "pg", user=user, timeout=120)

    def stop_postgres(self) -> None:
        # fast: open transactions are rolled back and every session is ended.
        self.postgres("stop", "-m", "fast")

    def start_postgres(self) -> None:
        opts = f'-h "" -k {self.socket_dir}'
        self.postgres("-o", opts, "-l", str(self.data_dir / "pg" / "log"), "start")

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(
            dbname="csplatform", user="postgres", host=self.socket_dir, autocommit=True
        ) as conn:
            return conn.execute(sql, params).fetchall()
