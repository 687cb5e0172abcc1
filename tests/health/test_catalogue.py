"""Feature catalogue, account usage summary and license utilization."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Role
from health.models import EventName
from health.services import usage_rollups_fold
from tests import factories
from tests.errors import error_fields
from tests.health.test_ingest import client_for, ev, post

pytestmark = pytest.mark.django_db


def names(response):
    return sorted(row["name"] for row in response.json()["results"])


def test_event_names_are_listed_automatically_per_tenant(tenant, other_tenant):
    post(client_for(tenant), [ev(1, event="login"), ev(2, event="export"), ev(3, event="login")])
    post(client_for(other_tenant), ev(event="secret_feature"))
    response = client_for(tenant, Role.VIEWER).get("/api/v1/event-names/")
    assert response.status_code == 200
    assert names(response) == ["export", "login"]


def test_an_admin_groups_event_names_into_features(tenant, other_tenant):
    post(client_for(tenant), ev(event="report_exported"))
    admin = client_for(tenant, Role.ADMIN)
    feature = admin.post(
        "/api/v1/features/", {"name": "Reporting", "counts_for_adoption": True}, format="json"
    )
    assert feature.status_code == 201
    with tenant_context(tenant):
        event_name = EventName.objects.get(name="report_exported")
    url = f"/api/v1/event-names/{event_name.pk}/"
    patched = admin.patch(
        url, {"display_name": "Report exported", "feature": feature.json()["id"]}, format="json"
    )
    assert patched.status_code == 200
    assert patched.json()["feature"] == feature.json()["id"]

    # a CSM cannot edit the catalogue; another tenant's feature cannot be chosen
    assert client_for(tenant).patch(url, {"display_name": "x"}, format="json").status_code == 403
    theirs = client_for(other_tenant, Role.ADMIN).post(
        "/api/v1/features/", {"name": "Theirs"}, format="json"
    )
    bad = admin.patch(url, {"feature": theirs.json()["id"]}, format="json")
    assert bad.status_code == 400 and "feature" in error_fields(bad)
    dup = admin.post("/api/v1/features/", {"name": "Reporting"}, format="json")
    assert dup.status_code == 400 and "name" in error_fields(dup)
    # and another tenant's catalogue rows are 404
    assert client_for(other_tenant, Role.ADMIN).get(url).status_code == 404


def test_usage_summary_and_license_utilization(tenant, other_tenant):
    with tenant_context(tenant):
        acct = factories.account(external_id="acme-1")
        factories.contract(acct, seats=10)
    post(client_for(tenant), [ev(i, event="login") for i in range(3)] + [ev(0, event="export")])
    usage_rollups_fold(tenant=tenant)  # what the worker does right after the commit
    admin = client_for(tenant, Role.ADMIN)
    feature = admin.post("/api/v1/features/", {"name": "Access"}, format="json").json()
    with tenant_context(tenant):
        login = EventName.objects.get(name="login")
    admin.patch(f"/api/v1/event-names/{login.pk}/", {"feature": feature["id"]}, format="json")

    summary = client_for(tenant, Role.VIEWER).get(f"/api/v1/accounts/{acct.pk}/usage/").json()
    assert len(summary["series"]) == 90
    assert summary["series"][-1] == {
        "day": summary["series"][-1]["day"],
        "events": 4,
        "active_users": 3,
    }
    assert summary["events_used"] == ["export", "login"]
    assert summary["features_used"] == ["Access"]
    assert summary["license_utilization"] == {"active_users_30d": 3, "seats": 10, "percent": 30.0}

    assert client_for(other_tenant).get(f"/api/v1/accounts/{acct.pk}/usage/").status_code == 404
    bad = client_for(tenant).get(f"/api/v1/accounts/{acct.pk}/usage/?days=9999")
    assert bad.status_code == 400 and "days" in error_fields(bad)


@pytest.mark.parametrize("path", ["/api/v1/event-names/", "/api/v1/features/"])
def test_catalogue_lists_cost_the_same_for_few_and_many_rows(tenant, path):
    writer, admin = client_for(tenant), client_for(tenant, Role.ADMIN)
    counts = []
    for n in (3, 30):
        post(writer, [ev(i, event=f"{n}-e{i}") for i in range(n)])
        for i in range(n):
            admin.post("/api/v1/features/", {"name": f"{n}-f{i}"}, format="json")
        with CaptureQueriesContext(connection) as ctx:
            assert admin.get(path).status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]


def test_bad_catalogue_input_names_the_field(tenant):
    admin = client_for(tenant, Role.ADMIN)
    for body in (
        {},
        {"name": ""},
        {"name": "x" * 101},
        {"name": "ok", "counts_for_adoption": "maybe"},
    ):
        response = admin.post("/api/v1/features/", body, format="json")
        assert response.status_code == 400, body
        assert set(error_fields(response)) <= {"name", "counts_for_adoption"}, body
        assert error_fields(response), body
    post(client_for(tenant), ev(event="login"))
    with tenant_context(tenant):
        event_name = EventName.objects.get(name="login")
    url = f"/api/v1/event-names/{event_name.pk}/"
    assert error_fields(admin.patch(url, {"feature": 999999}, format="json")).keys() == {"feature"}
    assert admin.patch(url, {"display_name": "y" * 201}, format="json").status_code == 400
    with tenant_context(tenant):
        assert EventName.objects.get(pk=event_name.pk).display_name == ""
