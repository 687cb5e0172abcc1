"""POST /api/v1/events: partial acceptance, idempotency, limits, isolation."""

import json
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Role
from csplatform.tenancy.services import api_key_create
from health.models import UsageEvent
from health.services import usage_batch_record, usage_partitions_ensure
from tests import factories
from tests.conftest import make_tenant

pytestmark = pytest.mark.django_db
URL = "/api/v1/events"


def client_for(tenant, role=Role.CSM) -> APIClient:
    with tenant_context(tenant):
        secret = api_key_create(name="segment", role=role).secret
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def post(client, body):
    return client.post(URL, data=json.dumps(body), content_type="application/json")


def ev(n=0, **extra):
    return {"account_id": "acme-1", "event": "report_exported", "user_id": f"u{n}", **extra}


def stored(tenant):
    with tenant_context(tenant):
        return list(UsageEvent.objects.order_by("id"))


def test_single_event_is_stored_and_attached_to_its_account(tenant):
    with tenant_context(tenant):
        acct = factories.account(external_id="acme-1")
    response = post(client_for(tenant), ev(properties={"format": "pdf"}))
    assert response.status_code == 200
    assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    [row] = stored(tenant)
    assert (row.account_id, row.event, row.properties) == (
        acct.pk,
        "report_exported",
        {"format": "pdf"},
    )


def test_a_batch_keeps_the_good_events_and_reports_the_bad_by_index(tenant):
    now = timezone.now()
    batch = [
        ev(1),
        {"account_id": "acme-1"},  # no event name
        ev(2, timestamp=(now + timedelta(hours=2)).isoformat()),
        ev(3, timestamp=(now - timedelta(days=400)).isoformat()),
        ev(4, properties=["not", "an", "object"]),
        "not an event",
        ev(5, timestamp="yesterday-ish"),
        ev(6, timestamp=(now - timedelta(days=2)).isoformat()),
    ]
    response = post(client_for(tenant), {"batch": batch})
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 2
    reasons = {r["index"]: r["reason"] for r in body["rejected"]}
    assert set(reasons) == {1, 2, 3, 4, 5, 6}
    assert "event is required" in reasons[1]
    assert "future" in reasons[2]
    assert "older than" in reasons[3]
    assert "properties" in reasons[4]
    assert "ISO 8601" in reasons[6]
    assert sorted(e.user_id for e in stored(tenant)) == ["u1", "u6"]


def test_a_retried_batch_is_stored_once(tenant):
    client = client_for(tenant)
    batch = [ev(i, message_id=f"m-{i}") for i in range(5)]
    assert post(client, batch).json()["accepted"] == 5
    again = post(client, [*batch, ev(9, message_id="m-9")]).json()
    assert (again["accepted"], again["duplicates"]) == (1, 5)
    assert len(stored(tenant)) == 6


def test_a_message_repeated_inside_one_batch_counts_once(tenant):
    body = post(client_for(tenant), [ev(1, message_id="same"), ev(2, message_id="same")]).json()
    assert (body["accepted"], body["duplicates"]) == (1, 1)


def test_events_before_their_account_exists_are_kept(tenant):
    post(client_for(tenant), ev(account_id="not-yet-in-crm"))
    [row] = stored(tenant)
    assert row.account_id is None and row.account_external_id == "not-yet-in-crm"


@pytest.mark.parametrize(
    ("body", "status"),
    [("{not json", 400), ("[]", 400), ('"text"', 400), ('{"batch": "x"}', 400)],
)
def test_malformed_bodies_are_400(tenant, body, status):
    response = client_for(tenant).post(URL, data=body, content_type="application/json")
    assert response.status_code == status
    assert stored(tenant) == []


def test_a_batch_under_another_key_is_400_naming_that_key(tenant):
    response = post(client_for(tenant), {"events": [ev(1), ev(2)]})
    assert response.status_code == 400
    assert "events" in response.json()["fields"]
    assert '{"batch": [...]}' in response.json()["detail"]
    assert stored(tenant) == []


def test_a_well_formed_but_invalid_single_event_is_reported_not_refused(tenant):
    # Stock clients drop a request on any 4xx, so one bad event is a 200 with a reason.
    response = post(client_for(tenant), {})
    assert response.status_code == 200
    assert response.json()["rejected"] == [{"index": 0, "reason": "account_id is required"}]


def test_too_many_events_or_bytes_is_413(tenant, settings):
    client = client_for(tenant)
    assert post(client, [ev(i) for i in range(1001)]).status_code == 413
    settings.USAGE_MAX_BODY_BYTES = 500
    assert post(client, [ev(i) for i in range(20)]).status_code == 413
    # Too large is answered before parsing: not a 400 for the JSON.
    not_json = client.post(URL, data="{not json " * 100, content_type="application/json")
    assert (not_json.status_code, not_json.json()["code"]) == (413, "too_large")
    assert stored(tenant) == []


def test_bad_key_is_401_and_viewer_key_is_403(tenant):
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Bearer csk_nope")
    assert post(bad, ev()).status_code == 401
    assert post(client_for(tenant, Role.VIEWER), ev()).status_code == 403
    assert stored(tenant) == []


def test_a_key_of_tenant_a_cannot_write_to_tenant_b(tenant, other_tenant):
    with tenant_context(other_tenant):
        theirs = factories.account(external_id="acme-1")
    post(client_for(tenant), ev())
    [row] = stored(tenant)
    assert row.account_id is None  # not attached to tenant B's account of the same id
    assert stored(other_tenant) == []
    with tenant_context(other_tenant):
        assert theirs.pk not in [e.account_id for e in UsageEvent.objects.all()]


def test_query_count_does_not_grow_with_batch_size(tenant):
    client = client_for(tenant)
    post(client, ev())  # the key's last-use stamp is written once a minute, not per call
    counts = []
    for size in (5, 200):
        with CaptureQueriesContext(connection) as ctx:
            assert post(client, [ev(i) for i in range(size)]).json()["accepted"] == size
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]


@pytest.mark.django_db(transaction=True)  # four threads, four connections: they see commits only
def test_racing_retries_store_each_event_once():
    tenant = make_tenant()
    batch = [ev(i, message_id=f"race-{i}") for i in range(50)]
    barrier = threading.Barrier(4)
    results = []

    def retry():
        try:
            barrier.wait(timeout=10)
            with tenant_context(tenant):
                results.append(usage_batch_record(events=batch))
        finally:
            connection.close()

    threads = [threading.Thread(target=retry) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sum(r.accepted for r in results) == 50
    assert sum(r.duplicates for r in results) == 150
    assert len(stored(tenant)) == 50


def test_partitions_are_created_ahead_and_protected():
    usage_partitions_ensure(months_ahead=6)
    month = (timezone.now() + timedelta(days=150)).strftime("%Y_%m")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'health_usageevent'::regclass AND c.relname = %s",
            [f"health_usageevent_{month}"],
        )
        assert cursor.fetchone() == (f"health_usageevent_{month}", True, True)


def test_reading_a_partition_by_name_without_context_sees_nothing(tenant):
    post(client_for(tenant), ev())
    month = timezone.now().strftime("%Y_%m")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM health_usageevent_{month}")
        assert cursor.fetchone()[0] == 0
    with tenant_context(tenant), connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM health_usageevent_{month}")
        assert cursor.fetchone()[0] == 1


def test_early_events_are_attached_when_the_account_appears(
    tenant, django_capture_on_commit_callbacks
):
    post(client_for(tenant), [ev(1, account_id="new-co"), ev(2, account_id="new-co")])
    with django_capture_on_commit_callbacks(execute=True), tenant_context(tenant):
        acct = factories.account(external_id="new-co")  # account_identified -> health
    assert [e.account_id for e in stored(tenant)] == [acct.pk, acct.pk]


def test_renaming_an_external_id_attaches_its_early_events(
    tenant, django_capture_on_commit_callbacks
):
    from lifecycle.services import account_update

    with tenant_context(tenant):
        acct = factories.account(external_id="old-id")
    post(client_for(tenant), ev(account_id="crm-fixed-id"))
    with django_capture_on_commit_callbacks(execute=True), tenant_context(tenant):
        account_update(account=acct, external_id="crm-fixed-id")
    assert [e.account_id for e in stored(tenant)] == [acct.pk]


def test_usage_recorded_is_one_event_per_account_per_window(tenant, settings):
    """Emitted once the rollups include the events (health re-scores from the
    rollups), coalesced per account over every batch of the window."""
    from csplatform.events.models import DomainEvent
    from csplatform.events.services import events_coalesced_record_due
    from health.services import usage_rollups_fold

    with tenant_context(tenant):
        a = factories.account(external_id="a-1")
        b = factories.account(external_id="b-1")
    batch = [ev(i, account_id="a-1") for i in range(7)] + [
        ev(i, account_id="b-1") for i in range(3)
    ]
    batch.append(ev(99, account_id="unknown"))
    post(client_for(tenant), batch)
    post(client_for(tenant), [ev(50, account_id="a-1"), ev(51, account_id="a-1")])

    def recorded():
        # what beat does once the window has passed
        events_coalesced_record_due(
            now=timezone.now() + timedelta(seconds=settings.EVENT_COALESCE_SECONDS)
        )
        with tenant_context(tenant):
            return sorted(
                (e.account_id, e.payload["events"])
                for e in DomainEvent.objects.filter(kind="usage_recorded")
            )

    assert recorded() == []  # not before the rollups count them
    assert usage_rollups_fold(tenant=tenant) == 2
    assert recorded() == [(a.pk, 9), (b.pk, 3)]
    assert usage_rollups_fold(tenant=tenant) == 0  # a second fold finds nothing
    assert recorded() == [(a.pk, 9), (b.pk, 3)]
    with tenant_context(tenant):
        # and per event name, for rules that react to one event ("usage_seen")
        names = {
            e.account_id: e.payload["names"]
            for e in DomainEvent.objects.filter(kind="usage_recorded")
        }
    assert names == {a.pk: {"report_exported": 9}, b.pk: {"report_exported": 3}}


def test_a_committed_batch_reaches_the_rollups_without_anyone_asking(
    tenant, django_capture_on_commit_callbacks
):
    """The request schedules the fold on commit (run inline here, as tasks are
    eager in tests; tests/health/test_fold.py runs it on a real worker)."""
    from health.models import UsageDailyAccount, UsagePending

    with tenant_context(tenant):
        acct = factories.account(external_id="acme-1")
    with django_capture_on_commit_callbacks(execute=True):
        post(client_for(tenant), [ev(1, user_id="u1"), ev(2, user_id="u2")])
    with tenant_context(tenant):
        assert not UsagePending.objects.exists()
        day = UsageDailyAccount.objects.get(account=acct)
    assert (day.events, day.active_users) == (2, 2)


def test_message_ids_are_forgotten_only_after_the_retry_window(tenant, other_tenant):
    from health.models import UsageMessage
    from health.services import usage_messages_prune

    for t in (tenant, other_tenant):
        post(client_for(t), [ev(1, message_id="old"), ev(2, message_id="new")])
        with tenant_context(t):
            UsageMessage.objects.filter(message_id="old").update(
                created_at=timezone.now() - timedelta(days=8)
            )
    assert usage_messages_prune(older_than=timedelta(days=7)) == 2
    client = client_for(tenant)
    assert post(client, ev(2, message_id="new")).json()["duplicates"] == 1  # still known
    assert post(client, ev(1, message_id="old")).json()["accepted"] == 1  # window passed


def test_values_postgresql_cannot_store_reject_their_event_only(tenant):
    # Raw JSON: NaN, Infinity and lone surrogates are what Python's decoder
    # reads but jsonb refuses; each must cost its own event, not the batch.
    deep = "[" * 40 + "]" * 40
    events = [
        json.dumps(ev(1)),
        '{"account_id": "acme-1", "event": "x", "properties": {"ratio": NaN}}',
        '{"account_id": "acme-1", "event": "x", "properties": {"big": Infinity}}',
        '{"account_id": "acme-1", "event": "bad\\ud800name"}',
        '{"account_id": "acme-1", "event": "x", "properties": {"k\\udc00": 1}}',
        '{"account_id": "acme-1", "event": "x", "user_id": "u\\u0000"}',
        '{"account_id": "acme-1", "event": "x", "properties": {"deep": ' + deep + "}}",
        json.dumps(ev(2)),
    ]
    response = client_for(tenant).post(
        URL, data='{"batch": [' + ",".join(events) + "]}", content_type="application/json"
    )
    assert response.status_code == 200
    body = response.json()
    reasons = {r["index"]: r["reason"] for r in body["rejected"]}
    assert set(reasons) == {1, 2, 3, 4, 5, 6}
    assert reasons[1].startswith("properties.ratio") and reasons[2].startswith("properties.big")
    assert reasons[3].startswith("event") and reasons[5].startswith("user_id")
    assert "deep" in reasons[6]
    assert body["accepted"] == 2
    assert sorted(e.user_id for e in stored(tenant)) == ["u1", "u2"]


def test_a_body_nested_beyond_parsing_is_400_not_500(tenant):
    response = client_for(tenant).post(
        URL, data="[" * 100_000 + "]" * 100_000, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
