"""Contacts: list, read, create, update, upsert by external id, and linking to
an account by its id or its CRM id."""

from __future__ import annotations

import pytest

from lifecycle.models import Contact
from tests import factories
from tests.conftest import make_tenant
from tests.errors import error_fields, has_field

pytestmark = pytest.mark.django_db

URL = "/api/v1/contacts/"


def test_list_and_filters(api, inside):
    with inside():
        a = factories.account(external_id="sf-a")
        b = factories.account()
        champ = factories.contact(a, email="Ada@Customer.test", role="champion")
        user = factories.contact(a, role="end_user")
        other = factories.contact(b, role="champion")

    def ids(**params):
        res = api.get(URL, params)
        assert res.status_code == 200, res.json()
        return {row["id"] for row in res.json()["results"]}

    assert len(ids()) == 3
    assert ids(account=a.pk) == {champ.pk, user.pk}
    assert ids(role="champion") == {champ.pk, other.pk}
    assert ids(email="ADA@customer.test") == {champ.pk}

    row = api.get(URL, {"email": "ada@customer.test"}).json()["results"][0]
    assert row["account"] == a.pk
    assert row["account_external_id"] == "sf-a"
    assert row["email"] == "ada@customer.test"
    assert row["role"] == "champion"


@pytest.mark.parametrize(
    ("params", "field"), [({"role": "boss"}, "role"), ({"account": 987654}, "account")]
)
def test_bad_filters_are_400(api, params, field):
    res = api.get(URL, params)
    assert res.status_code == 400
    assert field in error_fields(res)


def test_retrieve(api, inside):
    with inside():
        contact = factories.contact(factories.account(), title="VP Ops")
    res = api.get(f"{URL}{contact.pk}/")
    assert res.status_code == 200
    assert res.json()["title"] == "VP Ops"
    assert api.get(f"{URL}987654/").status_code == 404


def test_create_by_account_id(api, inside):
    with inside():
        acct = factories.account()
    res = api.post(
        URL,
        {"account": acct.pk, "name": "Grace", "email": "grace@c.test", "role": "admin"},
        format="json",
    )
    assert res.status_code == 201, res.json()
    assert res.json()["account"] == acct.pk
    with inside():
        assert Contact.objects.get(pk=res.json()["id"]).role == "admin"


def test_create_by_account_external_id(api, inside):
    with inside():
        acct = factories.account(external_id="sf-77")
    res = api.post(
        URL,
        {"account_external_id": "sf-77", "name": "Linus", "email": "linus@c.test"},
        format="json",
    )
    assert res.status_code == 201, res.json()
    assert res.json()["account"] == acct.pk
    assert res.json()["account_external_id"] == "sf-77"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "A", "email": "a@c.test"}, "account"),
        ({"account": 987654, "name": "A", "email": "a@c.test"}, "account"),
        ({"account_external_id": "nope", "name": "A", "email": "a@c.test"}, "account_external_id"),
        ({"account": "ACCT", "email": "a@c.test"}, "name"),
        ({"account": "ACCT", "name": "A"}, "email"),
        ({"account": "ACCT", "name": "A", "email": "not-an-email"}, "email"),
        ({"account": "ACCT", "name": "A", "email": "a@c.test", "role": "boss"}, "role"),
        ({"account": "ACCT", "name": "A", "email": "dup@c.test"}, "email"),
        (
            {"account": "ACCT", "name": "A", "email": "b@c.test", "external_id": "c-1"},
            "external_id",
        ),
    ],
)
def test_create_bad_input_is_400_naming_the_field(api, inside, payload, field):
    with inside():
        acct = factories.account()
        factories.contact(acct, email="dup@c.test", external_id="c-1")
    payload = {k: (acct.pk if v == "ACCT" else v) for k, v in payload.items()}
    res = api.post(URL, payload, format="json")
    assert res.status_code == 400
    assert has_field(res, field), error_fields(res)


def test_another_tenants_account_cannot_be_linked(api, inside):
    theirs_tenant = make_tenant()
    from csplatform.tenancy.context import tenant_context

    with tenant_context(theirs_tenant):
        theirs = factories.account(external_id="shared-crm-id")
    for payload in ({"account": theirs.pk}, {"account_external_id": "shared-crm-id"}):
        res = api.post(URL, {**payload, "name": "X", "email": "x@c.test"}, format="json")
        assert res.status_code == 400
        assert next(iter(error_fields(res).values()))[0].startswith("No ")
    with inside():
        assert not Contact.objects.exists()


def test_put_and_patch(api, inside):
    with inside():
        a, b = factories.account(), factories.account()
        contact = factories.contact(a, name="Old", email="old@c.test")
    res = api.put(
        f"{URL}{contact.pk}/",
        {"account": b.pk, "name": "New", "email": "new@c.test", "title": "CTO"},
        format="json",
    )
    assert res.status_code == 200, res.json()
    res = api.patch(f"{URL}{contact.pk}/", {"role": "champion"}, format="json")
    assert res.status_code == 200
    with inside():
        contact.refresh_from_db()
        assert (contact.account_id, contact.name, contact.email, contact.title, contact.role) == (
            b.pk,
            "New",
            "new@c.test",
            "CTO",
            "champion",
        )


@pytest.mark.parametrize(
    ("method", "payload", "field"),
    [
        ("put", {"name": "A", "email": "a@c.test"}, "account"),
        ("patch", {"email": "nope"}, "email"),
        ("patch", {"role": "boss"}, "role"),
        ("patch", {"account": 987654}, "account"),
        ("patch", {"email": "taken@c.test"}, "email"),
    ],
)
def test_update_bad_input_is_400(api, inside, method, payload, field):
    with inside():
        acct = factories.account()
        factories.contact(acct, email="taken@c.test")
        contact = factories.contact(acct)
    res = getattr(api, method)(f"{URL}{contact.pk}/", payload, format="json")
    assert res.status_code == 400
    assert has_field(res, field), error_fields(res)


def test_upsert_twice_stores_one_row(api, inside):
    with inside():
        factories.account(external_id="sf-acct")
    url = f"{URL}external/ct-9/"
    payload = {"account_external_id": "sf-acct", "name": "Barbara", "email": "b@c.test"}
    assert api.put(url, payload, format="json").status_code == 201
    res = api.put(url, {**payload, "title": "Director"}, format="json")
    assert res.status_code == 200
    assert res.json()["title"] == "Director"
    with inside():
        assert Contact.objects.filter(external_id="ct-9").count() == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "A", "email": "a@c.test"}, "account"),
        ({"account_external_id": "sf-acct", "email": "a@c.test"}, "name"),
        ({"account_external_id": "sf-acct", "name": "A", "email": "bad"}, "email"),
    ],
)
def test_upsert_bad_input_is_400(api, inside, payload, field):
    with inside():
        factories.account(external_id="sf-acct")
    res = api.put(f"{URL}external/ct-bad/", payload, format="json")
    assert res.status_code == 400
    assert field in error_fields(res)


def test_upsert_rejects_a_bad_external_id_in_the_url(api, inside):
    with inside():
        factories.account(external_id="sf-acct")
    payload = {"account_external_id": "sf-acct", "name": "A", "email": "a@c.test"}
    res = api.put(f"{URL}external/nul%00byte/", payload, format="json")
    assert res.status_code == 400
    assert "external_id" in error_fields(res)
