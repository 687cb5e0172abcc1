"""Bodies sent with `Transfer-Encoding: chunked` (no Content-Length), by a
real chunked client against a real gunicorn: read to their end, with the
size limit enforced while reading, on the native and the Segment endpoints."""

import base64
import gzip
import http.client
import json

import pytest

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.services import api_key_create
from health.models import IngestionLog, UsageEvent
from tests import factories
from tests.conftest import make_tenant
from tests.gunicorn import gunicorn_server

LIMIT = 4096  # the server's CSP_USAGE_MAX_BODY_BYTES, small so bodies stay small

# Real commits: gunicorn's processes read what the test writes.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def port(django_db_setup, django_db_blocker):
    with gunicorn_server(CSP_USAGE_MAX_BODY_BYTES=str(LIMIT), CSP_USAGE_RATE_LIMIT="0") as p:
        yield p


@pytest.fixture
def tenant_and_key():
    tenant = make_tenant()
    with tenant_context(tenant):
        factories.account(external_id="acme-1")
        secret = api_key_create(name="chunked").secret
    return tenant, secret


def chunked_post(port, path, body: bytes, headers: dict) -> tuple[int, dict]:
    """POST `body` in 100-byte chunks, with no Content-Length."""

    def chunks():
        for start in range(0, len(body), 100):
            yield body[start : start + 100]

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(
            "POST",
            path,
            body=chunks(),
            headers={"Transfer-Encoding": "chunked", **headers},
            encode_chunked=True,
        )
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        conn.close()


def native(secret) -> dict:
    return {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}


def segment(secret, **extra) -> dict:
    token = base64.b64encode(f"{secret}:".encode()).decode()
    return {"Authorization": f"Basic {token}", "Content-Type": "application/json", **extra}


def events(n, prefix="m"):
    return [
        {"account_id": "acme-1", "event": "report_exported", "message_id": f"{prefix}-{i}"}
        for i in range(n)
    ]


def stored(tenant) -> int:
    with tenant_context(tenant):
        return UsageEvent.objects.filter(account__isnull=False).count()


def test_a_chunked_batch_is_read_whole_and_stored(port, tenant_and_key):
    tenant, secret = tenant_and_key
    body = json.dumps({"batch": events(20)}).encode()
    assert 1000 < len(body) < LIMIT  # several chunks, under the limit
    status, answer = chunked_post(port, "/api/v1/events", body, native(secret))
    assert (status, answer) == (200, {"accepted": 20, "duplicates": 0, "rejected": []})
    assert stored(tenant) == 20


def test_a_chunked_body_over_the_limit_is_413_json_or_not(port, tenant_and_key):
    tenant, secret = tenant_and_key
    big = json.dumps({"batch": events(60)}).encode()
    assert len(big) > LIMIT
    for body in (big, b"{not json at all " * 400):
        status, answer = chunked_post(port, "/api/v1/events", body, native(secret))
        assert (status, answer["code"]) == (413, "too_large")
    assert stored(tenant) == 0
    with tenant_context(tenant):
        assert list(IngestionLog.objects.values_list("status", flat=True)) == [413, 413]


def test_a_chunked_gzip_segment_batch_is_inflated_and_stored(port, tenant_and_key):
    tenant, secret = tenant_and_key
    batch = [
        {"type": "track", "userId": f"u{i}", "event": "Report Exported", "messageId": f"s-{i}"}
        | {"context": {"groupId": "acme-1"}}
        for i in range(15)
    ]
    body = gzip.compress(json.dumps({"batch": batch}).encode())
    status, answer = chunked_post(
        port, "/v1/batch", body, segment(secret, **{"Content-Encoding": "gzip"})
    )
    assert (status, answer["accepted"], answer["rejected"]) == (200, 15, [])
    assert stored(tenant) == 15


def test_a_chunked_segment_body_over_the_limit_is_413_plain_or_inflated(port, tenant_and_key):
    tenant, secret = tenant_and_key
    plain = json.dumps({"batch": [{"type": "track", "padding": "x" * LIMIT}]}).encode()
    status, answer = chunked_post(port, "/v1/batch", plain, segment(secret))
    assert (status, answer["code"]) == (413, "too_large")
    # Small on the wire, over the limit once inflated.
    bomb = gzip.compress(json.dumps({"batch": [], "padding": "x" * 50 * LIMIT}).encode())
    assert len(bomb) < LIMIT
    status, answer = chunked_post(
        port, "/v1/batch", bomb, segment(secret, **{"Content-Encoding": "gzip"})
    )
    assert (status, answer["code"]) == (413, "too_large")
    assert stored(tenant) == 0
