"""API clients for the REST tests: one per role, authenticated by a tenant API
key (`Authorization: Bearer`), plus a signed-in session client."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Role
from csplatform.tenancy.services import api_key_create


def json_client() -> APIClient:
    """The API takes JSON bodies only (csplatform.api.base): send JSON unless
    a test says otherwise."""
    client = APIClient()
    client.default_format = "json"
    return client


def key_client(tenant, role: str = Role.CSM) -> APIClient:
    with tenant_context(tenant):
        issued = api_key_create(name=f"{role} integration", role=role)
    client = json_client()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    client.api_key = issued.api_key
    client.secret = issued.secret
    return client


def session_client(user, tenant) -> APIClient:
    client = json_client()  # CSRF is not enforced for the test client's requests
    client.force_login(user)
    client.credentials(HTTP_X_TENANT=tenant.slug)
    return client


@pytest.fixture
def api(tenant) -> APIClient:
    """A csm-role API key of `tenant`."""
    return key_client(tenant, Role.CSM)


@pytest.fixture
def leader_api(tenant) -> APIClient:
    return key_client(tenant, Role.LEADER)


@pytest.fixture
def viewer_api(tenant) -> APIClient:
    return key_client(tenant, Role.VIEWER)


@pytest.fixture
def other_api(other_tenant) -> APIClient:
    """An admin key of another tenant: the strongest role, still sees nothing of ours."""
    return key_client(other_tenant, Role.ADMIN)
