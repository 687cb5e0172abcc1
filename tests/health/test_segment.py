"""Segment-compatible ingestion, driven by the real Segment and RudderStack
Python clients against a live server, plus the edge cases at HTTP level."""

import base64
import gzip
import json

import pytest
from rest_framework.test import APIClient

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Role
from csplatform.tenancy.services import api_key_create
from health.models import EndUser, UsageEvent
from lifecycle.models import Account
from tests import factories
from tests.conftest import make_tenant


def write_key(tenant, role=Role.CSM) -> str:
    with tenant_context(tenant):
        return api_key_create(name="segment", role=role).secret


def drive(client):
    client.group("user-1", "acct-42", traits={"name": "Umbrella Corp", "industry": "Biotech"})
    client.identify("user-1", traits={"email": "alice@umbrella.test", "plan": "pro"})
    client.track("user-1", "Report Exported", properties={"format": "csv"})
    client.track("user-2", "Dashboard Viewed", context={"groupId": "acct-42"})
    client.flush()


def assert_landed(tenant):
    with tenant_context(tenant):
        account = Account.objects.get(external_id="acct-42")
        assert (account.name, account.industry) == ("Umbrella Corp", "Biotech")
        user = EndUser.objects.get(user_id="user-1")
        assert (user.account_external_id, user.email) == ("acct-42", "alice@umbrella.test")
        assert user.traits["plan"] == "pro"
        events = {e.event: e for e in UsageEvent.objects.all()}
        assert set(events) == {"Report Exported", "Dashboard Viewed"}
        assert {e.account_id for e in events.values()} == {account.pk}
        assert events["Report Exported"].properties == {"format": "csv"}


@pytest.mark.django_db(transaction=True)  # the live server thread has its own connection
def test_the_stock_segment_client_works_unchanged(live_server):
    from segment.analytics.client import Client

    tenant = make_tenant()
    errors = []
    client = Client(
        write_key(tenant),
        host=live_server.url,
        sync_mode=True,
        max_retries=0,
        on_error=lambda e, batch: errors.append(e),
    )
    drive(client)
    assert errors == []
    assert_landed(tenant)


@pytest.mark.django_db(transaction=True)  # the live server thread has its own connection
def test_the_stock_rudderstack_client_works_unchanged_with_gzip(live_server):
    from rudderstack.analytics.client import Client

    tenant = make_tenant()
    errors = []
    client = Client(
        write_key(tenant),
        host=live_server.url,
        sync_mode=True,
        max_retries=0,
        gzip=True,
        on_error=lambda e, batch: errors.append(e),
    )
    drive(client)
    assert errors == []
    assert_landed(tenant)


def basic(secret: str) -> APIClient:
    client = APIClient()
    token = base64.b64encode(f"{secret}:".encode()).decode()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {token}")
    return client


def send(client, path, body, **extra):
    return client.post(path, data=json.dumps(body), content_type="application/json", **extra)


@pytest.mark.django_db
def test_a_track_before_its_users_group_is_kept_and_placed_when_the_group_arrives(tenant):
    from health.models import UsageDailyAccount
    from health.services import usage_rollups_fold

    client = basic(write_key(tenant))
    early = send(client, "/v1/track", {"userId": "u-early", "event": "Signed In"})
    assert early.status_code == 200
    assert (early.json()["accepted"], early.json()["rejected"]) == (1, [])
    with tenant_context(tenant):
        assert UsageEvent.objects.get().account_id is None

    grouped = send(client, "/v1/group", {"userId": "u-early", "groupId": "acct-7"})
    assert grouped.status_code == 200
    usage_rollups_fold(tenant=tenant)
    with tenant_context(tenant):
        account = Account.objects.get(external_id="acct-7")
        event = UsageEvent.objects.get()
        assert (event.account_id, event.account_external_id) == (account.pk, "acct-7")
        day = UsageDailyAccount.objects.get(account=account)
        assert (day.events, day.active_users) == (1, 1)


@pytest.mark.django_db
def test_a_track_with_neither_user_nor_group_is_reported_not_refused(tenant):
    response = send(basic(write_key(tenant)), "/v1/track", {"event": "x"})
    assert response.status_code == 200
    assert "no account" in response.json()["rejected"][0]["reason"]


@pytest.mark.django_db
def test_the_sweep_places_tracks_whose_group_raced_them(tenant):
    """A group committed while the track's request was still open cannot see
    the track; the beat sweep places it."""
    from health.models import EndUser
    from health.services import usage_rollups_fold_all

    client = basic(write_key(tenant))
    send(client, "/v1/track", {"userId": "u-race", "event": "Signed In"})
    with tenant_context(tenant):  # as if the racing group had landed unseen
        factories.account(external_id="acct-9")
        EndUser.objects.create(user_id="u-race", account_external_id="acct-9")
    usage_rollups_fold_all()
    with tenant_context(tenant):
        assert UsageEvent.objects.get().account_external_id == "acct-9"


@pytest.mark.django_db
def test_a_batch_retried_by_message_id_is_stored_once(tenant):
    with tenant_context(tenant):
        factories.account(external_id="acct-1")
    client = basic(write_key(tenant))
    batch = {
        "batch": [
            {
                "type": "track",
                "userId": "u",
                "event": "e",
                "messageId": f"m{i}",
                "context": {"groupId": "acct-1"},
            }
            for i in range(3)
        ]
        + [{"type": "page", "userId": "u"}]
    }
    first = send(client, "/v1/batch", batch).json()
    again = send(client, "/v1/batch", batch).json()
    assert (first["accepted"], again["accepted"], again["duplicates"]) == (3, 0, 3)
    assert first["rejected"] == [{"index": 3, "reason": "unsupported type 'page'"}]
    with tenant_context(tenant):
        assert UsageEvent.objects.count() == 3


@pytest.mark.django_db
def test_gzip_bodies_are_accepted_and_broken_gzip_is_400(tenant):
    with tenant_context(tenant):
        factories.account(external_id="acct-1")
    client = basic(write_key(tenant))
    body = gzip.compress(
        json.dumps({"userId": "u", "event": "e", "context": {"groupId": "acct-1"}}).encode()
    )
    ok = client.post(
        "/v1/track", data=body, content_type="application/json", HTTP_CONTENT_ENCODING="gzip"
    )
    assert ok.status_code == 200 and ok.json()["accepted"] == 1
    bad = client.post(
        "/v1/track", data=b"not gzip", content_type="application/json", HTTP_CONTENT_ENCODING="gzip"
    )
    assert bad.status_code == 400


@pytest.mark.django_db
def test_bad_write_keys_are_401_and_viewer_keys_403(tenant):
    assert send(basic("csk_wrong"), "/v1/track", {"userId": "u", "event": "e"}).status_code == 401
    assert (
        send(basic(write_key(tenant, Role.VIEWER)), "/v1/batch", {"batch": []}).status_code == 403
    )


@pytest.mark.django_db
def test_malformed_segment_bodies_are_400(tenant):
    client = basic(write_key(tenant))
    assert client.post("/v1/batch", data="{x", content_type="application/json").status_code == 400
    assert send(client, "/v1/batch", {"batch": "nope"}).status_code == 400
    assert send(client, "/v1/track", ["a", "list"]).status_code == 400


@pytest.mark.django_db
def test_a_write_key_of_tenant_a_cannot_touch_tenant_b(tenant, other_tenant):
    with tenant_context(other_tenant):
        theirs = factories.account(external_id="acct-9", name="Theirs")
    send(
        basic(write_key(tenant)),
        "/v1/group",
        {"userId": "u", "groupId": "acct-9", "traits": {"name": "Hijacked"}},
    )
    with tenant_context(other_tenant):
        assert Account.objects.get(pk=theirs.pk).name == "Theirs"
        assert EndUser.objects.count() == 0
    with tenant_context(tenant):
        assert Account.objects.get(external_id="acct-9").name == "Hijacked"  # its own account


@pytest.mark.django_db
def test_values_postgresql_cannot_store_reject_their_message_only(tenant):
    client = basic(write_key(tenant))
    good = {"type": "track", "event": "login", "userId": "u1", "context": {"groupId": "acme"}}
    raw = (
        '{"batch": ['
        + json.dumps(good)
        + ',{"type": "identify", "userId": "u\\u0000"}'
        + ',{"type": "group", "groupId": "g\\ud800", "traits": {}}'
        + ',{"type": "track", "event": "x", "userId": "u2", "properties": {"n": NaN}}'
        + "]}"
    )
    response = client.post("/v1/batch", data=raw, content_type="application/json")
    assert response.status_code == 200
    body = response.json()
    assert sorted(r["index"] for r in body["rejected"]) == [1, 2, 3]
    assert body["accepted"] == 1


@pytest.mark.django_db
def test_a_body_over_the_limit_is_413_even_when_it_is_not_json(tenant, settings):
    settings.USAGE_MAX_BODY_BYTES = 500
    client = basic(write_key(tenant))
    for body, extra in [
        (b"{not json " * 100, {}),
        (gzip.compress(b"{not json " * 100), {"HTTP_CONTENT_ENCODING": "gzip"}),
    ]:
        response = client.post("/v1/batch", data=body, content_type="application/json", **extra)
        assert (response.status_code, response.json()["code"]) == (413, "too_large")
