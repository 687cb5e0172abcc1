"""When the server drops the database connection: the API answers 503 with
Retry-After and the one error body (code "unavailable"), never a 500 or a
4xx, wherever the loss is met (the tenant middleware's key lookup, a view's
statement, the commit after a view answered 200), and the next request
reconnects. A batch whose commit failed is never answered 200.

Each test drops a connection of the test's own thread with
pg_terminate_backend from a second session. transaction=True throughout:
the requests must commit (and fail to) for real, outside a test transaction.
"""

from __future__ import annotations

import uuid

import pytest
from django.db import close_old_connections, connection, connections
from django.test import override_settings

from csplatform.tenancy.context import tenant_context
from health.models import UsageEvent
from tests import factories
from tests.api.conftest import key_client
from tests.conftest import make_user

pytestmark = pytest.mark.django_db(transaction=True)


def drop(conn=connection) -> None:
    conn.ensure_connection()
    with conn.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s, 10000)", [pid])
            assert cursor.fetchone()[0]
    finally:
        other.close()


@pytest.fixture
def api(tenant):
    client = key_client(tenant)
    # Django's test client re-raises a view's exception; a real server answers.
    client.raise_request_exception = False
    return client


def event(message_id: str | None = None) -> dict:
    return {
        "account_id": "acme-1",
        "event": "report_exported",
        "user_id": "u-1",
        "message_id": message_id or uuid.uuid4().hex,
    }


def stored(tenant, message_id: str) -> int:
    with tenant_context(tenant):
        return UsageEvent.objects.filter(message_id=message_id).count()


def assert_unavailable(response) -> None:
    assert response.status_code == 503, response.content
    assert response["Retry-After"].isdigit()
    body = response.json()
    assert body["code"] == "unavailable"
    assert set(body) == {"detail", "code", "fields", "request_id"}
    assert body["request_id"] == response["X-Request-ID"]


def test_an_idle_connection_the_server_dropped_is_replaced_before_use(api, tenant):
    api.get("/api/v1/accounts/")
    drop()
    # What every real request starts with (the test client skips it): the
    # kept connection gets a health check before its first use.
    close_old_connections()
    assert api.get("/api/v1/accounts/").status_code == 200


@pytest.mark.parametrize("debug", [False, True])
def test_the_key_lookup_meeting_a_dropped_connection_answers_503(api, tenant, debug):
    api.get("/api/v1/accounts/")
    drop()
    with override_settings(DEBUG=debug):  # with DEBUG too, not Django's debug page
        response = api.post("/api/v1/events", event(), format="json")
    assert_unavailable(response)
    # The dead connection was discarded: the next request connects afresh.
    again = event()
    assert api.post("/api/v1/events", again, format="json").status_code == 200
    assert stored(tenant, again["message_id"]) == 1


@pytest.mark.urls("tests.api.urls_dbgone")
def test_a_connection_lost_inside_a_view_answers_503_and_stores_nothing(api, tenant):
    lost = event()
    assert_unavailable(api.post("/api/v1/dbgone/mid-request/", [lost], format="json"))
    assert stored(tenant, lost["message_id"]) == 0
    assert api.get("/api/v1/accounts/").status_code == 200


@pytest.mark.urls("tests.api.urls_dbgone")
def test_a_batch_whose_commit_fails_is_never_answered_200(api, tenant):
    lost = event()
    # The view answered 200 with the batch accepted; the commit after it failed.
    assert_unavailable(api.post("/api/v1/dbgone/before-commit/", [lost], format="json"))
    assert stored(tenant, lost["message_id"]) == 0
    # The client's retry is the first copy to be stored, once.
    retried = api.post("/api/v1/events", lost, format="json")
    assert retried.status_code == 200
    assert retried.json()["accepted"] == 1
    assert stored(tenant, lost["message_id"]) == 1


def test_a_page_meeting_a_dropped_connection_answers_503(client, tenant):
    user = make_user(tenant)
    with tenant_context(tenant):
        factories.account(name="Initech")
    client.force_login(user)
    client.raise_request_exception = False
    assert client.get(f"/t/{tenant.slug}/").status_code in (200, 302)
    drop()
    response = client.get(f"/t/{tenant.slug}/")
    assert response.status_code == 503
    assert response["Retry-After"].isdigit()
    assert b"Unavailable" in response.content
    assert client.get(f"/t/{tenant.slug}/").status_code in (200, 302)
