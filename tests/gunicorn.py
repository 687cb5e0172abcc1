"""A real gunicorn, as in production, serving the test database: for what
only a real server shows (chunked request bodies, its own processes and
connections). Tests that use it commit their data (`transaction=True`)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_database_url() -> str:
    """The URL of this test process's database, as the application role."""
    db = connection.settings_dict
    port = f":{db['PORT']}" if db["PORT"] else ""
    return (
        f"postgresql://{quote(db['USER'], safe='')}:{quote(db['PASSWORD'], safe='')}"
        f"@{port}/{quote(db['NAME'], safe='')}?host={quote(db['HOST'], safe='/')}"
    )


@contextlib.contextmanager
def gunicorn_server(*, workers: int = 1, **env: str) -> Iterator[int]:
    """Start gunicorn on a free localhost port and yield the port; stop it
    on exit. Tasks run eagerly in its workers (no broker consumer is this
    test's), and its Redis keys carry this test process's prefix."""
    port = _free_port()
    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "csplatform.settings",
        "DATABASE_URL": app_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CSP_CACHE_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
        "CELERY_TASK_ALWAYS_EAGER": "1",
        "CSP_LOG_LEVEL": "WARNING",
        **env,
    }
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "gunicorn", "csplatform.wsgi"),
            *("-b", f"127.0.0.1:{port}", "-w", str(workers), "--log-level", "warning"),
        ],
        cwd=ROOT,
        env=environ,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"gunicorn exited with {proc.returncode}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("gunicorn did not listen within 60 s") from None
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
