"""Schemathesis over every operation of /api/schema/, against a live server:
positive and negative data from the schema, every check. The schema must
tell the truth (constraints, error bodies, response shapes) and the server
must never answer 5xx.

What OpenAPI cannot say is in tests/api/fuzz_rules.py, each with its reason."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
import schemathesis
from django.conf import settings
from django.db import connection

from csplatform.tenancy.models import Role
from tests.api import fuzz_rules
from tests.api.conftest import key_client
from tests.api.world import seed

# The server is another process with its own connection: it sees only
# committed rows, so the seeded tenant must really be committed.
pytestmark = pytest.mark.django_db(transaction=True)

GUNICORN = Path(sys.executable).with_name("gunicorn")


def _database_url(db: dict) -> str:
    host = db["HOST"]
    auth = f"{quote(db['USER'], safe='')}:{quote(db['PASSWORD'], safe='')}"
    if host.startswith("/"):  # a unix socket directory
        return f"postgresql://{auth}@/{db['NAME']}?host={quote(host, safe='')}"
    return f"postgresql://{auth}@{host}:{db['PORT']}/{db['NAME']}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def api_server(transactional_db):
    """gunicorn on this test's database, in a process of its own: the fuzzer
    and the server then use both cores (in one process they would share the
    GIL, which made the run 60% longer)."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(db),
        "DATABASE_OWNER_URL": _database_url(db),
        "CSP_CACHE_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
        "CELERY_TASK_ALWAYS_EAGER": "1",  # as in the tests: tasks run inline
        "DJANGO_DEBUG": "0",
        "CSP_LOG_LEVEL": "ERROR",  # a 500's traceback, not every 4xx
    }
    port = _free_port()
    server = subprocess.Popen(
        [
            GUNICORN,
            "csplatform.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(f"{url}/api/schema/", timeout=5).ok:
                break
        except requests.ConnectionError:
            pass
        assert server.poll() is None, "gunicorn exited"
        assert time.monotonic() < deadline, "gunicorn did not answer in 30 s"
        time.sleep(0.2)
    yield url
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture
def api_schema(api_server, tenant, caplog):
    caplog.set_level(logging.ERROR)
    ids = seed(tenant)
    secret = key_client(tenant, Role.ADMIN).secret
    schema = schemathesis.openapi.from_url(
        f"{api_server}/api/schema/", config=fuzz_rules.config(secret, ids)
    )
    calls = Counter()
    fuzz_rules.register(schema, calls)
    started = time.monotonic()
    yield schema
    # The figures, for whoever tunes EXAMPLES (shown with -s).
    print(
        f"\nfuzz: {len(list(schema.get_all_operations()))} operations, "
        f"{sum(calls.values())} requests {dict(calls)}, {time.monotonic() - started:.0f}s"
    )


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_every_operation_holds_to_its_schema(case):
    case.call_and_validate()
