"""Shared fixtures: a real PostgreSQL test database created and migrated by
the owner role and used by the non-owner app role (so row-level security is
live in every test), and factories rooted at a tenant."""

from __future__ import annotations

import contextlib
import itertools
import os
import socket

import pytest
from django.conf import settings
from django.core.servers.basehttp import ThreadedWSGIServer
from django.db import connections
from django.utils import timezone
from pytest_django.live_server_helper import LiveServer

from csplatform.celery import app as celery_app
from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Role, Tenant, User
from csplatform.tenancy.services import membership_add, tenant_create
from lifecycle.models import Account
from tests import factories
from tests.waiting import purge_queues
from work import services as work_services
from work.models import Task

_seq = itertools.count(1)


def _use_credentials(alias: str, creds: dict) -> None:
    conn = connections[alias]
    conn.close()
    conn.settings_dict["USER"] = creds["USER"]
    conn.settings_dict["PASSWORD"] = creds["PASSWORD"]


@pytest.fixture(scope="session")
def django_db_setup(
    django_test_environment, django_db_blocker, django_db_keepdb, django_db_modify_db_settings
):
    """pytest-django's own setup, but as two roles. `django_db_modify_db_settings`
    gives each xdist worker its own database (test_csplatform_gw0, ...)."""
    from django.test.utils import setup_databases, teardown_databases

    with django_db_blocker.unblock():
        # Create and migrate the test database as the owner role ...
        _use_credentials("default", settings.DATABASE_OWNER)
        old_config = setup_databases(
            verbosity=0,
            interactive=False,
            keepdb=django_db_keepdb,
            aliases={"default"},
            # No test uses serialized_rollback: skip dumping the migrated database.
            serialized_aliases=set(),
        )
        with connections["default"].cursor() as cursor:
            # ... let the app role empty tables between transactional tests ...
            cursor.execute(
                f"GRANT TRUNCATE ON ALL TABLES IN SCHEMA public TO {settings.APP_DB_ROLE}"
            )
        # ... and run every test as the app role that RLS applies to.
        _use_credentials("default", settings.DATABASE_APP)
    yield
    with django_db_blocker.unblock():
        # Threads that outlive their test (the live server's keep-alive request
        # threads, a Celery worker's) still hold app-role sessions; DROP
        # DATABASE would wait 5 s for them and fail. The app role may end its own.
        with connections["default"].cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND usename = current_user"
                " AND pid <> pg_backend_pid()"
            )
        _use_credentials("default", settings.DATABASE_OWNER)
        # Should one still be left, the next run clobbers the database.
        with contextlib.suppress(Exception):
            teardown_databases(old_config, verbosity=0, keepdb=django_db_keepdb)


@pytest.fixture(autouse=True, scope="session")
def _celery_eager():
    """Tasks run inline unless a test starts a real worker (see tests/core)."""
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield


@pytest.fixture(autouse=True, scope="session")
def _fresh_redis():
    """Ids restart with each test database, so rate-limit counters and
    debounce flags keyed by them, and tasks a killed run left queued, must not
    carry over. The prefix and the queues are this process's own (settings)."""
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)
    purge_queues()
    yield


class _NoDelayWSGIServer(ThreadedWSGIServer):
    """Django's handler sends a response's headers and body separately; with
    Nagle on, the client's delayed ACK holds every response ~40 ms."""

    def get_request(self):
        sock, address = super().get_request()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, address


@pytest.fixture(scope="session")
def live_server(request):
    """pytest-django's live server (same name, so its helper still makes the
    test transactional), answering without the Nagle delay."""
    addr = request.config.getvalue("liveserver") or os.getenv(
        "DJANGO_LIVE_TEST_SERVER_ADDRESS", "localhost"
    )
    server = LiveServer(addr, start=False)
    server.thread.server_class = _NoDelayWSGIServer
    server.start()
    yield server
    server.stop()


def make_tenant(name: str | None = None) -> Tenant:
    n = next(_seq)
    return tenant_create(name=name or f"Vendor {n}", slug=f"vendor-{n}")


def make_user(tenant: Tenant | None = None, role: str = Role.CSM, **extra) -> User:
    n = next(_seq)
    user = User.objects.create_user(
        extra.pop("email", f"user{n}@example.com"), "pw-for-tests-1", full_name=f"User {n}"
    )
    if tenant is not None:
        membership_add(tenant=tenant, user=user, role=role, **extra)
    return user


@pytest.fixture
def tenant(db) -> Tenant:
    return make_tenant("Acme Analytics")


@pytest.fixture
def other_tenant(db) -> Tenant:
    return make_tenant("Globex Software")


@pytest.fixture
def in_tenant(tenant):
    """Run the test body inside the tenant's context."""
    with tenant_context(tenant):
        yield tenant


@pytest.fixture
def inside(tenant):
    """`with inside():` sets up or reads data in the tenant's context."""
    return lambda: tenant_context(tenant)


@pytest.fixture
def users(tenant) -> dict[str, User]:
    return {role: make_user(tenant, role) for role in Role.values}


@pytest.fixture
def csm(users) -> User:
    return users[Role.CSM]


@pytest.fixture
def account(inside, csm) -> Account:
    """An account of `tenant` owned by its CSM."""
    with inside():
        return factories.account(owner=csm, name="Initech")


def new_task(account, assignee, due=None, **extra) -> Task:
    """An open task on `account`, due today unless said (call in its tenant's context)."""
    extra.setdefault("title", "Kickoff call")
    return work_services.task_create(
        account=account,
        due_date=due or timezone.localdate(),
        actor=None,
        assignee=assignee,
        **extra,
    )


@pytest.fixture
def task(inside, account, csm) -> Task:
    """An open task due today on `account`, assigned to the CSM."""
    with inside():
        return new_task(account, csm)
