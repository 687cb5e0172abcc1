"""The ingestion log: every ingestion request a tenant can be told about is
logged with what was accepted and what was rejected and why; 429s are counted
in Redis, never written to PostgreSQL; old rows are pruned."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import ApiKey, Role
from health import ratelimit
from health.models import IngestionLog, UsageEvent
from health.selectors import ingestion_summary
from health.services import ingestion_request_record
from health.tasks import prune_usage_message_ids
from tests.conftest import make_tenant, make_user
from tests.database import owner_cursor
from tests.health.test_ingest import client_for, ev, post
from tests.health.test_segment import basic, send, write_key

pytestmark = pytest.mark.django_db


def logged(tenant) -> list[IngestionLog]:
    with tenant_context(tenant):
        return list(IngestionLog.objects.select_related("api_key").order_by("id"))


def the_key(tenant) -> ApiKey:
    with tenant_context(tenant):
        return ApiKey.objects.latest("id")


def test_a_batch_with_bad_events_is_one_row_with_counts_and_reasons(tenant):
    client = client_for(tenant)
    batch = [ev(1, message_id="a"), {"account_id": "acme-1"}, ev(2, message_id="a"), "x"]
    assert post(client, {"batch": batch}).status_code == 200
    [row] = logged(tenant)
    assert row.api_key == the_key(tenant)
    assert (row.source, row.status) == ("events", 200)
    assert (row.accepted, row.duplicates, row.rejected) == (1, 1, 2)
    assert row.errors == [
        {"index": 1, "reason": "event is required"},
        {"index": 3, "reason": "event must be an object"},
    ]
    assert row.detail == ""


def test_the_sample_of_rejections_is_capped_but_the_count_is_not(tenant):
    post(client_for(tenant), [{"event": "x"} for _ in range(35)])
    [row] = logged(tenant)
    assert row.rejected == 35
    assert [e["index"] for e in row.errors] == list(range(20))


def test_whole_request_rejections_are_logged_with_their_reason(tenant, settings):
    client = client_for(tenant)
    assert (
        client.post("/api/v1/events", data="{nope", content_type="application/json").status_code
        == 400
    )
    assert post(client, {"batch": "x"}).status_code == 400
    assert post(client, [ev(i) for i in range(1001)]).status_code == 413
    settings.USAGE_MAX_BODY_BYTES = 100
    assert post(client, [ev(i) for i in range(5)]).status_code == 413
    rows = logged(tenant)
    assert [(r.status, r.detail) for r in rows] == [
        (400, "The body is not valid JSON."),
        (400, 'Send an event object, a list of events, or {"batch": [...]}.'),
        (413, "At most 1000 events per request."),
        (413, "Body larger than 100 bytes."),
    ]
    assert all(r.accepted == r.rejected == 0 and r.api_key is not None for r in rows)


def test_a_key_without_the_role_to_write_is_logged_as_refused(tenant):
    assert post(client_for(tenant, Role.VIEWER), ev()).status_code == 403
    [row] = logged(tenant)
    assert (row.status, row.detail) == (403, "Your role does not allow this.")


def test_a_bad_key_is_not_logged_anywhere_it_could_be_seen(tenant):
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Bearer csk_nope")
    assert post(bad, ev()).status_code == 401
    assert logged(tenant) == []


def test_rate_limited_requests_are_counted_in_redis_not_in_the_database(tenant, settings):
    settings.USAGE_RATE_LIMIT = 2
    client = client_for(tenant)
    codes = [post(client, ev(i)).status_code for i in range(5)]
    assert codes == [200, 200, 429, 429, 429]
    assert [r.status for r in logged(tenant)] == [200, 200]
    with tenant_context(tenant):
        summary = ingestion_summary()
    [key] = summary["keys"]
    assert key["api_key_id"] == the_key(tenant).pk
    assert (key["totals"]["requests"], key["totals"]["rate_limited"]) == (2, 3)


def test_a_429_with_redis_down_is_dropped_silently(tenant, settings):
    ratelimit.redis_client.cache_clear()
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    try:
        with tenant_context(tenant):
            key = ApiKey.objects.create(name="k", prefix="csk_x", key_hash="h" * 64)
            assert ingestion_request_record(api_key_id=key.pk, source="events", status=429) is None
            summary = ingestion_summary()
    finally:
        ratelimit.redis_client.cache_clear()
    assert logged(tenant) == []
    assert summary["rate_limited_available"] is False


def test_a_segment_batch_is_logged_with_source_segment(tenant):
    client = basic(write_key(tenant))
    batch = {
        "batch": [
            {"type": "track", "userId": "u1", "event": "Opened", "context": {"groupId": "g1"}},
            {"type": "identify"},
            {"type": "page", "userId": "u1"},
        ]
    }
    assert send(client, "/v1/batch", batch).status_code == 200
    assert client.post("/v1/batch", data="{x", content_type="application/json").status_code == 400
    ok, bad = logged(tenant)
    assert (ok.source, ok.status, ok.accepted, ok.rejected) == ("segment", 200, 1, 2)
    assert ok.errors == [
        {"index": 1, "reason": "userId is required"},
        {"index": 2, "reason": "unsupported type 'page'"},
    ]
    assert (bad.source, bad.status, bad.detail) == ("segment", 400, "The body is not valid JSON.")


def test_a_signed_in_user_posting_is_logged_without_a_key(tenant, users):
    client = APIClient()
    client.force_login(users[Role.CSM])
    client.credentials(HTTP_X_TENANT=tenant.slug)
    body = json.dumps([ev(1)])
    assert (
        client.post("/api/v1/events", data=body, content_type="application/json").status_code == 200
    )
    [row] = logged(tenant)
    assert (row.api_key_id, row.accepted) == (None, 1)


def test_each_tenant_logs_only_its_own_requests(tenant, other_tenant):
    post(client_for(tenant), ev())
    post(client_for(other_tenant), [ev(1), {}])
    [mine] = logged(tenant)
    [theirs] = logged(other_tenant)
    assert (mine.accepted, mine.rejected) == (1, 0)
    assert (theirs.accepted, theirs.rejected) == (1, 1)


def test_the_hourly_prune_drops_old_rows_and_keeps_recent_ones(tenant, other_tenant, settings):
    settings.INGESTION_LOG_DAYS = 14
    now = timezone.now()
    for t in (tenant, other_tenant):
        with tenant_context(t):
            for age in (timedelta(days=15), timedelta(days=13), timedelta(hours=1)):
                IngestionLog.objects.create(source="events", status=200, received_at=now - age)
    prune_usage_message_ids()
    for t in (tenant, other_tenant):
        kept = sorted(now - r.received_at for r in logged(t))
        assert kept == [timedelta(hours=1), timedelta(days=13)]


@pytest.fixture
def ingest_fails():
    """A real fault in the ingest statement: a check constraint, added by the
    table's owner for this test only, that one message id violates."""
    with owner_cursor() as cursor:
        cursor.execute(
            "ALTER TABLE health_usagemessage ADD CONSTRAINT test_boom"
            " CHECK (message_id <> 'boom') NOT VALID"
        )
    try:
        yield "boom"
    finally:
        with owner_cursor() as cursor:
            cursor.execute("ALTER TABLE health_usagemessage DROP CONSTRAINT test_boom")


@pytest.mark.django_db(transaction=True)  # the owner's DDL runs on its own connection
def test_a_5xx_leaves_a_row_with_its_request_id_after_the_rollback(ingest_fails):
    tenant = make_tenant()
    client = client_for(tenant)
    response = post(client, [ev(1), ev(2, message_id=ingest_fails)])
    assert response.status_code == 500
    request_id = response["X-Request-ID"]
    assert response.json()["request_id"] == request_id
    ok = post(client, [ev(3)])
    assert ok.status_code == 200
    rows = logged(tenant)
    assert [(r.status, r.accepted, r.request_id) for r in rows] == [
        (500, 0, request_id),
        (200, 1, ok["X-Request-ID"]),  # every row carries its request's id
    ]
    assert rows[0].api_key == the_key(tenant) and rows[0].detail.startswith("Something went")
    with tenant_context(tenant):
        assert not UsageEvent.objects.filter(user_id__in=["u1", "u2"]).exists()  # rolled back
    # ... and the integrator finds it with the id its client saw.
    [error] = client.get("/api/v1/ingestion/errors/").json()["results"]
    assert (error["status"], error["request_id"]) == (500, request_id)


@pytest.mark.django_db(transaction=True)  # the owner's DDL runs on its own connection
def test_a_failed_segment_batch_is_logged_too_and_shown_on_the_page(ingest_fails):
    from tests.pages.conftest import signed_in, url

    tenant = make_tenant()
    track = {"type": "track", "userId": "u1", "event": "x", "messageId": ingest_fails}
    response = send(basic(write_key(tenant)), "/v1/batch", {"batch": [track]})
    assert response.status_code == 500
    [row] = logged(tenant)
    assert (row.source, row.status, row.request_id) == ("segment", 500, response["X-Request-ID"])
    admin = make_user(tenant, Role.ADMIN)
    html = signed_in(admin).get(url("usage_ingestion", tenant)).content.decode()
    assert f"<code>{response['X-Request-ID']}</code>" in html
