"""Accounts: list with filters and pagination, read, create, update, and upsert
by external id."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from csplatform.tenancy.models import Role
from lifecycle import services
from lifecycle.models import Account, Stage, TimelineEntry
from tests import factories
from tests.api.conftest import session_client
from tests.conftest import make_tenant, make_user
from tests.errors import error_fields, has_field

pytestmark = pytest.mark.django_db

URL = "/api/v1/accounts/"


def test_list_shows_accounts_with_owner_arr_and_next_renewal(api, inside, users):
    csm = users[Role.CSM]
    with inside():
        acct = factories.account(name="Initech", owner=csm, tier="enterprise", industry="Fintech")
        factories.contract(
            acct, arr=Decimal("10000"), renewal_date=dt.date.today() + dt.timedelta(30)
        )
        factories.contract(
            acct, arr=Decimal("2500.50"), renewal_date=dt.date.today() + dt.timedelta(90)
        )
        factories.account(name="Hooli")

    res = api.get(URL)

    assert res.status_code == 200
    assert res.json()["count"] == 2
    first = res.json()["results"][1]  # ordered by name: Hooli, Initech
    assert first["name"] == "Initech"
    assert first["owner"] == {"id": csm.pk, "email": csm.email}
    assert first["arr"] == "12500.50"
    assert first["next_renewal"] == str(dt.date.today() + dt.timedelta(30))
    assert first["tier"] == "enterprise" and first["industry"] == "Fintech"
    assert first["stage"] == "onboarding" and first["is_escalated"] is False
    for field in (
        "id",
        "external_id",
        "attributes",
        "stage_entered_at",
        "created_at",
        "updated_at",
    ):
        assert field in first
    assert res.json()["results"][0]["owner"] is None


def test_list_filters(api, inside, users):
    csm = users[Role.CSM]
    with inside():
        a = factories.account(name="Alpha Corp", owner=csm, tier="smb", industry="Retail")
        b = factories.account(name="Beta Inc", external_id="sf-001", tier="strategic")
        c = factories.account(name="Gamma Alpha", stage=Stage.USAGE)
        services.escalation_open(account=b, reason="Outage", actor=None)
        seg = services.segment_save(name="Retail", filters={"industry": ["Retail"]})

    def names(**params):
        res = api.get(URL, params)
        assert res.status_code == 200, res.json()
        return {row["name"] for row in res.json()["results"]}

    assert names(search="alpha") == {a.name, c.name}
    assert names(search="sf-001") == {b.name}
    assert names(stage="usage") == {c.name}
    assert names(owner=csm.pk) == {a.name}
    assert names(tier="strategic") == {b.name}
    assert names(segment=seg.pk) == {a.name}
    assert names(escalated="true") == {b.name}
    assert names(escalated="false") == {a.name, c.name}
    assert names() == {a.name, b.name, c.name}


def test_list_is_paginated(api, inside):
    with inside():
        for _ in range(5):
            factories.account()
    res = api.get(URL, {"page_size": 2, "page": 2})
    body = res.json()
    assert body["count"] == 5
    assert len(body["results"]) == 2
    assert body["next"] and body["previous"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"stage": "limbo"}, "stage"),
        ({"tier": "gold"}, "tier"),
        ({"segment": 987654}, "segment"),
        ({"owner": 987654}, "owner"),
        ({"escalated": "perhaps"}, "escalated"),
    ],
)
def test_bad_list_filters_are_400_naming_the_parameter(api, params, field):
    res = api.get(URL, params)
    assert res.status_code == 400
    assert field in error_fields(res)


def test_retrieve_includes_allowed_transitions(api, inside):
    with inside():
        acct = factories.account()
    res = api.get(f"{URL}{acct.pk}/")
    assert res.status_code == 200
    body = res.json()
    assert body["id"] == acct.pk
    targets = {t["stage"]: t for t in body["allowed_transitions"]}
    assert set(targets) == {"adoption", "churned"}
    assert targets["adoption"]["ready"] is False
    assert "Kickoff call held" in targets["adoption"]["missing"]
    assert targets["churned"]["ready"] is True


def test_unknown_account_is_404(api):
    assert api.get(f"{URL}987654/").status_code == 404


def test_create(api, inside, users):
    csm = users[Role.CSM]
    res = api.post(
        URL,
        {
            "name": "Umbrella",
            "external_id": "sf-42",
            "owner": csm.pk,
            "tier": "strategic",
            "industry": "Pharma",
            "attributes": {"region": "EMEA"},
        },
        format="json",
    )
    assert res.status_code == 201, res.json()
    body = res.json()
    assert body["owner"]["email"] == csm.email
    assert body["attributes"] == {"region": "EMEA"}
    assert body["stage"] == "onboarding"
    assert body["arr"] == "0.00"
    assert body["allowed_transitions"]
    with inside():
        stored = Account.objects.get(pk=body["id"])
        assert (stored.name, stored.external_id, stored.tier) == ("Umbrella", "sf-42", "strategic")
        assert TimelineEntry.objects.filter(account=stored, kind="account_created").exists()


def test_create_with_owner_email_and_initial_stage(api, users):
    csm = users[Role.CSM]
    res = api.post(
        URL,
        {"name": "Stark", "owner_email": csm.email.upper(), "stage": "usage"},
        format="json",
    )
    assert res.status_code == 201, res.json()
    assert res.json()["owner"]["id"] == csm.pk
    assert res.json()["stage"] == "usage"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "A", "tier": "gold"}, "tier"),
        ({"name": "A", "stage": "limbo"}, "stage"),
        ({"name": "A", "attributes": ["not", "an", "object"]}, "attributes"),
        ({"name": "A", "owner": 987654}, "owner"),
        ({"name": "A", "owner_email": "nobody@example.com"}, "owner_email"),
        ({"name": "A", "external_id": "x" * 101}, "external_id"),
        ({"name": "A", "attributes": {"note": "nul\x00byte"}}, "attributes"),
        ({"name": "nul\x00byte"}, "name"),
    ],
)
def test_create_bad_input_is_400_naming_the_field(api, payload, field):
    res = api.post(URL, payload, format="json")
    assert res.status_code == 400
    assert has_field(res, field), error_fields(res)


def test_owner_from_another_tenant_cannot_be_assigned(api):
    outsider = make_user(make_tenant(), Role.CSM)
    res = api.post(URL, {"name": "A", "owner": outsider.pk}, format="json")
    assert res.status_code == 400
    assert error_fields(res)["owner"][0].startswith("No ")


def test_create_with_an_existing_external_id_is_400(api, inside):
    with inside():
        factories.account(external_id="sf-dup")
    res = api.post(URL, {"name": "Twin", "external_id": "sf-dup"}, format="json")
    assert res.status_code == 400
    assert "external_id" in error_fields(res)
    with inside():
        assert Account.objects.filter(external_id="sf-dup").count() == 1


def test_put_and_patch_update(api, inside, users):
    csm = users[Role.CSM]
    with inside():
        acct = factories.account(name="Old name", industry="Retail")

    res = api.put(f"{URL}{acct.pk}/", {"name": "New name", "owner": csm.pk}, format="json")
    assert res.status_code == 200, res.json()
    assert res.json()["name"] == "New name"
    assert res.json()["owner"]["id"] == csm.pk

    res = api.patch(f"{URL}{acct.pk}/", {"tier": "smb"}, format="json")
    assert res.status_code == 200
    assert res.json()["tier"] == "smb"
    assert res.json()["name"] == "New name"  # PATCH keeps what it leaves out
    with inside():
        acct.refresh_from_db()
        assert (acct.name, acct.tier, acct.industry, acct.owner_id) == (
            "New name",
            "smb",
            "Retail",
            csm.pk,
        )
        assert TimelineEntry.objects.filter(account=acct, kind="owner_changed").exists()


@pytest.mark.parametrize(
    ("method", "payload", "field"),
    [
        ("put", {"tier": "smb"}, "name"),
        ("patch", {"tier": "gold"}, "tier"),
        ("patch", {"name": ""}, "name"),
        ("patch", {"attributes": "text"}, "attributes"),
        ("patch", {"owner": 987654}, "owner"),
        ("patch", {"external_id": "taken"}, "external_id"),
    ],
)
def test_update_bad_input_is_400_naming_the_field(api, inside, method, payload, field):
    with inside():
        factories.account(external_id="taken")
        acct = factories.account()
    res = getattr(api, method)(f"{URL}{acct.pk}/", payload, format="json")
    assert res.status_code == 400
    assert has_field(res, field), error_fields(res)


def test_upsert_creates_then_updates_one_row(api, inside):
    url = f"{URL}external/crm-0001/"
    first = api.put(url, {"name": "Wayne Enterprises", "tier": "enterprise"}, format="json")
    assert first.status_code == 201, first.json()
    again = api.put(url, {"name": "Wayne Enterprises", "tier": "enterprise"}, format="json")
    assert again.status_code == 200
    renamed = api.put(url, {"name": "Wayne Corp"}, format="json")
    assert renamed.status_code == 200
    assert first.json()["id"] == again.json()["id"] == renamed.json()["id"]
    assert renamed.json()["external_id"] == "crm-0001"
    with inside():
        rows = Account.objects.filter(external_id="crm-0001")
        assert rows.count() == 1
        assert rows.get().name == "Wayne Corp"
        assert rows.get().tier == "enterprise"


@pytest.mark.parametrize(
    ("payload", "field"),
    [({}, "name"), ({"name": "A", "tier": "gold"}, "tier"), ({"name": "A", "owner": 0}, "owner")],
)
def test_upsert_bad_input_is_400_naming_the_field(api, inside, payload, field):
    res = api.put(f"{URL}external/crm-bad/", payload, format="json")
    assert res.status_code == 400
    assert field in error_fields(res)
    with inside():
        assert not Account.objects.filter(external_id="crm-bad").exists()


@pytest.mark.parametrize("external_id", ["x" * 101, "nul%00byte", "%20%20"])
def test_upsert_rejects_a_bad_external_id_in_the_url(api, external_id):
    res = api.put(f"{URL}external/{external_id}/", {"name": "A"}, format="json")
    assert res.status_code == 400
    assert "external_id" in error_fields(res)


def test_signed_in_user_acts_with_the_x_tenant_header(tenant, users, inside):
    csm = users[Role.CSM]
    client = session_client(csm, tenant)
    res = client.post(URL, {"name": "Made in the browser"}, format="json")
    assert res.status_code == 201, res.json()
    with inside():
        entry = TimelineEntry.objects.get(account_id=res.json()["id"], kind="account_created")
        assert entry.actor == csm  # a session call records the person
    assert client.get(URL).json()["count"] == 1


def test_api_key_writes_record_the_key_not_a_person(api, inside):
    res = api.post(URL, {"name": "Synced"}, format="json")
    with inside():
        entry = TimelineEntry.objects.get(account_id=res.json()["id"], kind="account_created")
    assert entry.actor is None
    assert entry.payload["via_api_key"] == api.api_key.pk


def test_a_viewer_cannot_own_accounts(api, tenant, inside):
    viewer = make_user(tenant, Role.VIEWER)
    res = api.post(URL, {"name": "A", "owner": viewer.pk}, format="json")
    assert res.status_code == 400
    assert "viewer cannot own" in error_fields(res)["owner"][0]
    with inside():
        assert not Account.objects.exists()
