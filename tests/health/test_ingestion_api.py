"""GET /api/v1/ingestion/ and /api/v1/ingestion/errors/: the page's numbers
for integrators, for the calling tenant only, at a flat query count."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.dateparse import parse_datetime

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Role
from health.selectors import NO_KEY_LABEL
from tests.api.conftest import key_client
from tests.health.ingestion_data import COUNTS, build, hours_ago, log, more_rows, two_keys

pytestmark = pytest.mark.django_db
SUMMARY = "/api/v1/ingestion/"
ERRORS = "/api/v1/ingestion/errors/"


def by_key(body: dict) -> dict:
    """{key id: (name, prefix, totals, {hour: counts})} in COUNTS order."""
    return {
        k["api_key_id"]: (
            k["name"],
            k["prefix"],
            [k["totals"][c] for c in COUNTS],
            {parse_datetime(h["hour"]): [h[c] for c in COUNTS] for h in k["hours"]},
        )
        for k in body["keys"]
    }


def test_the_summary_has_the_pages_numbers(tenant):
    data = build(tenant)
    response = key_client(tenant).get(SUMMARY)
    assert response.status_code == 200
    body = response.json()
    assert body["rate_limited_available"] is True
    shown = by_key(body)
    assert set(shown) == {data["a"].pk, data["b"].pk}  # the reading key's GETs are not logged
    for key in (data["a"], data["b"]):
        name, prefix, totals, hours = shown[key.pk]
        assert (name, prefix) == (key.name, key.prefix)
        assert (totals, hours) == data["expected"][key.pk]


def test_errors_are_newest_first_with_their_reasons_and_paginated(tenant):
    data = build(tenant)
    client = key_client(tenant)
    body = client.get(ERRORS).json()
    assert body["count"] == 5  # requests with a rejection, the old one included
    flat = []
    for row in body["results"]:
        if row["errors"]:
            flat += [(row["status"], e["index"], e["reason"]) for e in row["errors"]]
        else:
            flat.append((row["status"], None, row["detail"]))
    assert flat == data["errors"]
    first = body["results"][0]
    assert (first["api_key"], first["api_key_name"], first["source"]) == (
        data["b"].pk,
        data["b"].name,
        "segment",
    )
    assert (first["accepted"], first["rejected"]) == (10, 1)
    page_two = client.get(ERRORS, {"page_size": 2, "page": 2}).json()
    assert [r["detail"] for r in page_two["results"]] == ["Body larger than 1048576 bytes.", ""]


def test_a_viewer_key_cannot_read_it(tenant):
    client = key_client(tenant, Role.VIEWER)
    assert client.get(SUMMARY).status_code == 403
    assert client.get(ERRORS).status_code == 403


def test_another_tenants_key_sees_only_its_own(tenant, other_tenant):
    build(tenant)
    theirs = build(other_tenant, label="Globex ")
    client = key_client(other_tenant, Role.ADMIN)
    summary = by_key(client.get(SUMMARY).json())
    assert set(summary) == {theirs["a"].pk, theirs["b"].pk}
    errors = client.get(ERRORS).json()
    assert errors["count"] == 5
    assert {r["api_key_name"] for r in errors["results"]} == {"Globex CRM sync", "Globex Segment"}


@pytest.mark.parametrize("path", [SUMMARY, ERRORS])
def test_query_count_is_the_same_for_3_and_30_rows(tenant, path):
    client = key_client(tenant)
    client.get(path)  # the first call records the key's last use
    keys = two_keys(tenant)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(path).status_code == 200
        return len(ctx.captured_queries)

    more_rows(tenant, keys, 3)
    few = count()
    more_rows(tenant, keys, 27)
    assert count() == few


def test_requests_without_a_key_are_shown_under_their_own_label(tenant):
    with tenant_context(tenant):
        log(None, hours_ago(1), status=400, detail="The body is not valid JSON.")
    client = key_client(tenant)
    [(name, prefix, totals, _hours)] = by_key(client.get(SUMMARY).json()).values()
    assert (name, prefix, totals) == (NO_KEY_LABEL, "", [1, 0, 0, 0, 1, 0])
    [row] = client.get(ERRORS).json()["results"]
    assert (row["api_key"], row["api_key_name"], row["detail"]) == (
        None,
        None,
        "The body is not valid JSON.",
    )
