"""Who may call the API: API keys (with their role), signed-in users with a
tenant, and nobody else. Also the schema and docs pages."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import ApiKey, Role
from csplatform.tenancy.services import api_key_revoke
from lifecycle import services
from lifecycle.models import Account, Escalation, Segment, TimelineEntry
from tests import factories
from tests.api.conftest import key_client, session_client
from tests.conftest import make_tenant, make_user

pytestmark = pytest.mark.django_db


def test_no_credentials_is_401():
    res = APIClient().get("/api/v1/accounts/")
    assert res.status_code == 401
    assert res["WWW-Authenticate"].startswith("Bearer")


def test_wrong_key_is_401(api):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer csk_not-a-real-key")
    res = client.get("/api/v1/accounts/")
    assert res.status_code == 401
    assert "Invalid" in res.json()["detail"]


def test_revoked_key_is_401(tenant, api):
    assert api.get("/api/v1/accounts/").status_code == 200
    with tenant_context(tenant):
        api_key_revoke(api_key=api.api_key)
    assert api.get("/api/v1/accounts/").status_code == 401


def test_x_api_key_header_is_accepted(api):
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=api.secret)
    assert client.get("/api/v1/accounts/").status_code == 200


def test_a_call_records_the_keys_last_use(tenant, api):
    with tenant_context(tenant):
        assert ApiKey.objects.get(pk=api.api_key.pk).last_used_at is None
    api.get("/api/v1/accounts/")
    with tenant_context(tenant):
        assert ApiKey.objects.get(pk=api.api_key.pk).last_used_at is not None


def test_session_user_with_one_tenant_needs_no_header(tenant):
    user = make_user(tenant, Role.CSM)
    client = APIClient()
    client.force_login(user)
    assert client.get("/api/v1/accounts/").status_code == 200


def test_session_user_of_several_tenants_must_choose(tenant, other_tenant):
    from csplatform.tenancy.services import membership_add

    user = make_user(tenant, Role.CSM)
    membership_add(tenant=other_tenant, user=user, role=Role.VIEWER)
    client = APIClient()
    client.force_login(user)
    res = client.get("/api/v1/accounts/")
    assert res.status_code == 401
    assert "X-Tenant" in res.json()["detail"]
    with tenant_context(other_tenant):
        factories.account(name="Theirs")
    client.credentials(HTTP_X_TENANT=other_tenant.slug)
    assert [a["name"] for a in client.get("/api/v1/accounts/").json()["results"]] == ["Theirs"]
    # Their role there is viewer, so writes are refused there.
    assert client.post("/api/v1/accounts/", {"name": "X"}, format="json").status_code == 403


def test_session_user_naming_a_tenant_they_do_not_belong_to_is_401(tenant, users):
    stranger_tenant = make_tenant()
    client = session_client(users[Role.ADMIN], stranger_tenant)
    assert client.get("/api/v1/accounts/").status_code == 401


def _writes(tenant):
    """Every write endpoint with a valid body, against fresh objects."""
    with tenant_context(tenant):
        acct = factories.account(external_id="w-1")
        contact = factories.contact(acct)
        contract = factories.contract(acct)
        seg = services.segment_save(name="S", filters={"tier": ["smb"]})
        esc = services.escalation_open(account=factories.account(), reason="r", actor=None)
    a = f"/api/v1/accounts/{acct.pk}/"
    contract_body = {"account": acct.pk, "arr": "1", "start_date": "2025-01-01"}
    contract_body["renewal_date"] = "2026-01-01"
    return [
        ("post", "/api/v1/accounts/", {"name": "N"}),
        ("put", a, {"name": "N"}),
        ("patch", a, {"name": "N"}),
        ("put", "/api/v1/accounts/external/w-2/", {"name": "N"}),
        ("post", a + "transitions/", {"to_stage": "churned"}),
        ("post", a + "achievements/kickoff_held/complete/", {}),
        ("post", a + "achievements/kickoff_held/reopen/", {}),
        ("post", a + "escalations/", {"reason": "r"}),
        ("post", a + "notes/", {"body": "b"}),
        ("post", f"/api/v1/escalations/{esc.pk}/resolve/", {"resolution": "x"}),
        ("post", "/api/v1/contacts/", {"account": acct.pk, "name": "N", "email": "n@c.test"}),
        ("patch", f"/api/v1/contacts/{contact.pk}/", {"name": "N"}),
        (
            "put",
            "/api/v1/contacts/external/c-2/",
            {"account": acct.pk, "name": "M", "email": "m@c.test"},
        ),
        ("post", "/api/v1/contracts/", contract_body),
        ("patch", f"/api/v1/contracts/{contract.pk}/", {"seats": 3}),
        ("put", "/api/v1/contracts/external/k-2/", contract_body),
        ("post", "/api/v1/segments/", {"name": "T", "filters": {"tier": ["smb"]}}),
        ("patch", f"/api/v1/segments/{seg.pk}/", {"name": "U"}),
    ]


@pytest.mark.parametrize("client_kind", ["key", "session"])
def test_viewer_is_refused_every_write_and_nothing_changes(tenant, users, client_kind):
    viewer = (
        key_client(tenant, Role.VIEWER)
        if client_kind == "key"
        else session_client(users[Role.VIEWER], tenant)
    )
    writes = _writes(tenant)
    with tenant_context(tenant):
        before = (
            Account.objects.count(),
            TimelineEntry.objects.count(),
            Escalation.objects.filter(resolved_at__isnull=True).count(),
            list(Segment.objects.values_list("name", flat=True)),
        )
    for method, url, body in writes:
        res = getattr(viewer, method)(url, body, format="json")
        assert res.status_code == 403, (method, url, res.status_code)
    with tenant_context(tenant):
        after = (
            Account.objects.count(),
            TimelineEntry.objects.count(),
            Escalation.objects.filter(resolved_at__isnull=True).count(),
            list(Segment.objects.values_list("name", flat=True)),
        )
    assert after == before


def test_viewer_reads(viewer_api, inside):
    with inside():
        acct = factories.account()
    assert viewer_api.get("/api/v1/accounts/").json()["count"] == 1
    assert viewer_api.get(f"/api/v1/accounts/{acct.pk}/timeline/").status_code == 200
    assert viewer_api.get(f"/api/v1/accounts/{acct.pk}/transitions/").status_code == 200


def test_the_same_writes_succeed_for_a_leader(tenant):
    """The viewer test above only means something if those writes are valid."""
    leader = key_client(tenant, Role.LEADER)
    for method, url, body in _writes(tenant):
        res = getattr(leader, method)(url, body, format="json")
        assert res.status_code in (200, 201), (method, url, res.status_code, res.json())


def test_schema_and_docs_render(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    for path in (
        "/api/v1/accounts/external/{external_id}/",
        "/api/v1/accounts/{id}/transitions/",
        "/api/v1/contacts/external/{external_id}/",
        "/api/v1/timeline/",
    ):
        assert path in text
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()


def test_browsable_api_renders_every_endpoint_for_a_signed_in_user(tenant, users):
    with tenant_context(tenant):
        acct = factories.account()
        contact = factories.contact(acct)
        contract = factories.contract(acct)
        seg = services.segment_save(name="S", filters={"tier": ["smb"]})
        esc = services.escalation_open(account=acct, reason="r", actor=None)
    client = session_client(users[Role.ADMIN], tenant)
    a = f"/api/v1/accounts/{acct.pk}/"
    for url in [
        "/api/v1/",
        "/api/v1/accounts/",
        a,
        a + "transitions/",
        a + "achievements/",
        a + "escalations/",
        a + "timeline/",
        "/api/v1/contacts/",
        f"/api/v1/contacts/{contact.pk}/",
        "/api/v1/contracts/",
        f"/api/v1/contracts/{contract.pk}/",
        "/api/v1/segments/",
        f"/api/v1/segments/{seg.pk}/",
        f"/api/v1/segments/{seg.pk}/accounts/",
        "/api/v1/escalations/",
        f"/api/v1/escalations/{esc.pk}/",
        "/api/v1/timeline/",
    ]:
        res = client.get(url, HTTP_ACCEPT="text/html")
        assert res.status_code == 200, url
        assert res["Content-Type"].startswith("text/html")


def test_api_root_lists_the_resources(api):
    res = api.get("/api/v1/")
    assert res.status_code == 200
    assert set(res.json()) == {
        "accounts",
        "contacts",
        "contracts",
        "segments",
        "escalations",
        "timeline",
    }


def test_session_writes_need_the_csrf_token_but_api_keys_do_not(tenant, users, api):
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(users[Role.CSM])
    browser.credentials(HTTP_X_TENANT=tenant.slug)
    res = browser.post("/api/v1/accounts/", {"name": "Forged"}, format="json")
    assert res.status_code == 403
    assert "CSRF" in res.json()["detail"]
    assert browser.get("/api/v1/accounts/").status_code == 200  # reads need no token

    integration = APIClient(enforce_csrf_checks=True)
    integration.credentials(HTTP_AUTHORIZATION=f"Bearer {api.secret}")
    assert (
        integration.post("/api/v1/accounts/", {"name": "Synced"}, format="json").status_code == 201
    )
    with tenant_context(tenant):
        assert list(Account.objects.values_list("name", flat=True)) == ["Synced"]
