"""The one error contract: every API error is JSON of one shape, whatever
failed and wherever (DRF, Django, the database, an unknown route), and input
that could reach PostgreSQL unchecked is refused with the field named."""

from __future__ import annotations

import json
import logging

import pytest
from django.db import ProgrammingError
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.routers import APIRootView

from csplatform.api.base import TenantScoped, TenantScopedViewSet
from csplatform.tenancy.models import Role
from lifecycle.models import Account
from tests import factories
from tests.api.conftest import key_client
from tests.errors import error_fields

SHAPE = {"detail", "code", "fields"}


def _is_error(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) >= SHAPE, body
    return body


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/no-such-thing/",
        "/api/v1/accounts/AAA/",
        "/api/v1/accounts/AAA/usage/",
        "/api/v1/accounts/99999999999999999999/",
        "/api/v1/accounts",  # no trailing slash: still JSON, and it says so
        "/v1/nope",
        "/api/",
    ],
)
@pytest.mark.parametrize("debug", [False, True])
def test_unknown_routes_and_bad_ids_are_json_404s(api, path, debug):
    with override_settings(DEBUG=debug):
        body = _is_error(api.get(path), 404)
    assert body["code"] == "not_found"


def test_json_nested_past_the_limit_is_400_not_500(api, inside):
    deep = "[" * 600 + "]" * 600
    body = _is_error(
        api.post(
            "/api/v1/accounts/",
            f'{{"name": "A", "attributes": {deep}}}',
            content_type="application/json",
        ),
        400,
    )
    assert "attributes" in " ".join(body["fields"]) or "deep" in body["detail"]
    very_deep = "[" * 100_000 + "]" * 100_000
    _is_error(api.post("/api/v1/accounts/", very_deep, content_type="application/json"), 400)
    with inside():
        assert not Account.objects.exists()


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"name": "A", "owner_email": "x\\u0000@a.test"}', "owner_email"),
        ('{"name": "A", "external_id": "crm\\u0000"}', "external_id"),
        ('{"name": "A", "attributes": {"re\\ud800gion": "x"}}', "attributes"),
        ('{"name": "A", "attributes": {"region": "\\udc00"}}', "attributes.region"),
        ('{"name": "A", "attributes": {"n": 1e999999}}', "attributes.n"),
        ('{"name": "A", "attributes": {"n": 123456789012345678901234567890}}', "attributes.n"),
    ],
)
def test_strings_and_numbers_postgresql_cannot_store_are_400_by_field(api, inside, raw, field):
    response = api.post("/api/v1/accounts/", raw, content_type="application/json")
    _is_error(response, 400)
    assert field in error_fields(response)
    assert "\\ud800" not in response.content.decode() and "\\udc00" not in response.content.decode()
    with inside():
        assert not Account.objects.exists()


def test_nan_is_not_json(api):
    raw = '{"name": "A", "attributes": {"n": NaN}}'
    body = _is_error(api.post("/api/v1/accounts/", raw, content_type="application/json"), 400)
    assert body["code"] == "parse_error"


def test_a_nul_in_the_query_string_or_the_path_names_it(api):
    body = _is_error(api.get("/api/v1/accounts/?search=a%00b"), 400)
    assert body["fields"] == {"search": ["Contains a NUL character."]}
    body = _is_error(api.put("/api/v1/accounts/external/a%00b/", {"name": "A"}, format="json"), 400)
    assert "external_id" in body["fields"]


@override_settings(API_MAX_BODY_BYTES=2048)
def test_a_body_over_the_limit_is_413_json(api, inside):
    big = json.dumps({"name": "A", "description": "x" * 5000})
    body = _is_error(api.post("/api/v1/accounts/", big, content_type="application/json"), 413)
    assert body["code"] == "too_large"


@pytest.mark.urls("tests.api.urls_boom")
def test_a_failed_statement_is_a_json_500_with_the_real_error_logged(api, caplog):
    with caplog.at_level(logging.ERROR, logger="csplatform.api"):
        response = api.get("/api/v1/boom/statement/", HTTP_X_REQUEST_ID="req-contract-0001")
    body = _is_error(response, 500)
    assert body["code"] == "server_error"
    assert body["request_id"] == response["X-Request-ID"] == "req-contract-0001"
    logged = [r for r in caplog.records if r.exc_info]
    # The tenant context's teardown must not hide it behind TransactionManagementError.
    assert logged and isinstance(logged[0].exc_info[1], ProgrammingError)
    assert "req-contract-0001" in logged[0].getMessage()


@pytest.mark.urls("tests.api.urls_boom")
@pytest.mark.parametrize("debug", [False, True])
def test_a_bug_is_a_json_500_never_a_debug_page(api, debug):
    with override_settings(DEBUG=debug):
        response = api.get("/api/v1/boom/bug/")
    body = _is_error(response, 500)
    assert body["request_id"] and "ZeroDivisionError" not in response.content.decode()


@pytest.mark.urls("tests.api.urls_boom")
def test_a_domain_conflict_is_409_with_its_code_and_extra_data(api):
    body = _is_error(api.get("/api/v1/boom/refused/"), 409)
    assert body == {
        "detail": "The renewal is already closed.",
        "code": "renewal_closed",
        "fields": {},
        "extra": {"renewal_id": 7},
    }


def test_validation_errors_name_nested_fields_by_dotted_path(leader_api):
    response = leader_api.post(
        "/api/v1/rules/",
        {"name": "R", "trigger": "stage_entered", "actions": [{"kind": "nope"}]},
        format="json",
    )
    assert any(name.startswith("actions.0") for name in error_fields(response))


def test_a_subclass_cannot_unscope_the_base():
    with pytest.raises(TypeError, match="queryset"):
        type("Leaky", (TenantScopedViewSet,), {"queryset": Account.all_tenants.all()})
    with pytest.raises(TypeError, match="get_queryset"):
        type("Leaky", (TenantScopedViewSet,), {"get_queryset": lambda self: None})
    with pytest.raises(TypeError, match="permission_classes"):
        type("Open", (TenantScopedViewSet,), {"permission_classes": []})


def _api_views(patterns, prefix=""):
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _api_views(entry.url_patterns, route)
        elif isinstance(entry, URLPattern) and route.lstrip("^").startswith(("api/v1/", "v1/")):
            yield route, entry.callback


def test_every_api_view_goes_through_the_tenant_base():
    views = list(_api_views(get_resolver().url_patterns))
    assert len(views) > 50
    unscoped = []
    for route, callback in views:
        cls = getattr(callback, "cls", None)
        if cls is None and callback.__module__ == "csplatform.ui.errors":
            continue  # the JSON 404 for unknown routes
        if cls is not None and issubclass(cls, APIRootView):
            continue  # the router's index of routes: no data
        if cls is None or not issubclass(cls, TenantScoped):
            unscoped.append(route)
    assert unscoped == []


def test_another_tenants_key_cannot_read_through_the_base(tenant, other_tenant, inside):
    with inside():
        account = factories.account()
    other = key_client(other_tenant, Role.ADMIN)
    _is_error(other.get(f"/api/v1/accounts/{account.pk}/"), 404)


@pytest.mark.parametrize(
    "path",
    ["/api/v1/accounts/", "/api/v1/accounts/external/crm-1/", "/api/v1/contacts/external/c-1/"],
)
def test_options_describes_the_route_without_loading_anything(api, path):
    response = api.options(path)
    assert response.status_code == 200
    assert (
        "PUT" in response.json()["allowed_methods"] or "POST" in response.json()["allowed_methods"]
    )
