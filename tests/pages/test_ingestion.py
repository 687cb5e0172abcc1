"""The ingestion page: per key per hour what was accepted and rejected, the
last errors, for admins and leaders only, never another tenant's."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from csplatform.tenancy.models import Role
from health.models import IngestionLog
from tests.health.ingestion_data import build, hours_ago, more_rows, two_keys
from tests.pages.conftest import url

pytestmark = pytest.mark.django_db


def per_key(html: str) -> dict:
    """{data-key: (name cell, totals, {data-hour: counts})} as rendered."""
    found = {}
    for key, body in re.findall(
        r'<tbody class="ingestion-key" data-key="([^"]+)">(.*?)</tbody>', html, re.S
    ):
        totals = re.search(r'<tr class="totals">(.*?)</tr>', body, re.S).group(1)
        name = re.search(r'<th scope="rowgroup">(.*?)</th>', totals, re.S).group(1)
        hours = {
            hour: [int(n) for n in re.findall(r"<td>(\d+)</td>", cells)]
            for hour, cells in re.findall(
                r'<tr class="hour" data-hour="([^"]+)">(.*?)</tr>', body, re.S
            )
        }
        found[key] = (name, [int(n) for n in re.findall(r"<td>(\d+)</td>", totals)], hours)
    return found


def errors(html: str) -> list[tuple]:
    rows = []
    for cells in re.findall(r'<tr class="error">(.*?)</tr>', html, re.S):
        tds = re.findall(r"<td>(.*?)</td>", cells, re.S)
        index = None if tds[4] == "\u2013" else int(tds[4])  # an en dash: no index
        rows.append((int(tds[3]), index, tds[5].replace("&quot;", '"')))
    return rows


def test_numbers_per_key_per_hour_and_totals(page, tenant):
    data = build(tenant)
    html = page(Role.ADMIN).get(url("usage_ingestion", tenant)).content.decode()
    shown = per_key(html)
    assert set(shown) == {str(data["a"].pk), str(data["b"].pk)}
    for key in (data["a"], data["b"]):
        name, totals, hours = shown[str(key.pk)]
        expected_totals, expected_hours = data["expected"][key.pk]
        assert name.startswith(key.name) and key.prefix in name
        assert totals == expected_totals
        assert hours == {h.isoformat(): counts for h, counts in expected_hours.items()}


def test_last_errors_newest_first_with_index_and_reason(page, tenant):
    data = build(tenant)
    html = page(Role.LEADER).get(url("usage_ingestion", tenant)).content.decode()
    assert errors(html) == data["errors"]


def test_only_admins_and_leaders_see_the_page_and_its_link(page, tenant):
    target = url("usage_ingestion", tenant)
    for role, status in [
        (Role.VIEWER, 403),
        (Role.CSM, 403),
        (Role.LEADER, 200),
        (Role.ADMIN, 200),
    ]:
        assert page(role).get(target).status_code == status, role
        accounts = page(role).get(url("accounts", tenant)).content.decode()
        assert (f'href="{target}"' in accounts) is (status == 200), role


def test_empty_state(page, tenant):
    html = page(Role.ADMIN).get(url("usage_ingestion", tenant)).content.decode()
    assert 'id="ingestion-empty"' in html and 'id="errors-empty"' in html
    assert per_key(html) == {} and errors(html) == []


def test_another_tenants_ingestion_never_appears(page, tenant, other_tenant):
    data = build(tenant)
    build(other_tenant, label="Globex ")
    html = page(Role.ADMIN).get(url("usage_ingestion", tenant)).content.decode()
    assert "Globex" not in html
    shown = per_key(html)
    assert set(shown) == {str(data["a"].pk), str(data["b"].pk)}
    assert shown[str(data["a"].pk)][1] == data["expected"][data["a"].pk][0]
    assert errors(html) == data["errors"]


def test_query_count_is_the_same_for_3_and_30_rows(page, tenant):
    client = page(Role.ADMIN)
    client.get(url("usage_ingestion", tenant))  # the first visit stores the tenant in the session
    keys = two_keys(tenant)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url("usage_ingestion", tenant))
        assert response.status_code == 200
        return len(ctx.captured_queries), len(errors(response.content.decode()))

    more_rows(tenant, keys, 3)
    few, few_errors = count()
    more_rows(tenant, keys, 27)
    many, many_errors = count()
    assert (few_errors, many_errors) == (3, 30)
    # Session, user, membership (twice: middleware and header), tenant settings
    # and savepoints, then the page's own three: the hourly GROUP BY, key names
    # and the last errors; and the nav's "My work" count.
    assert few == many == 20


def test_a_sampled_request_says_how_many_more_and_the_list_stops_at_50(page, tenant, inside):
    sample = [{"index": i, "reason": "event is required"} for i in range(20)]
    with inside():
        for minute in (1, 2, 3):
            IngestionLog.objects.create(
                source="events",
                status=200,
                received_at=hours_ago(1) + timedelta(minutes=minute),
                rejected=25,
                errors=sample,
            )
    shown = errors(page(Role.ADMIN).get(url("usage_ingestion", tenant)).content.decode())
    assert len(shown) == 50
    assert shown[19:22] == [
        (200, 19, "event is required"),
        (200, None, "and 5 more rejected"),
        (200, 0, "event is required"),
    ]
