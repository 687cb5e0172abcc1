"""Contracts: list with renewal filters, read, create, update, upsert, and date
and ARR validation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from lifecycle.models import Contract, TimelineEntry
from tests import factories
from tests.errors import error_fields, has_field

pytestmark = pytest.mark.django_db

URL = "/api/v1/contracts/"
TODAY = dt.date.today()


def day(n: int) -> str:
    return str(TODAY + dt.timedelta(days=n))


def test_list_and_filters(api, inside):
    with inside():
        a, b = factories.account(), factories.account()
        soon = factories.contract(a, renewal_date=TODAY + dt.timedelta(10))
        later = factories.contract(a, renewal_date=TODAY + dt.timedelta(200))
        gone = factories.contract(b, status="cancelled", renewal_date=TODAY + dt.timedelta(50))

    def ids(**params):
        res = api.get(URL, params)
        assert res.status_code == 200, res.json()
        return [row["id"] for row in res.json()["results"]]

    assert ids() == [soon.pk, gone.pk, later.pk]  # by renewal date
    assert ids(account=a.pk) == [soon.pk, later.pk]
    assert ids(status="cancelled") == [gone.pk]
    assert ids(renewal_before=day(60)) == [soon.pk, gone.pk]
    assert ids(renewal_after=day(20)) == [gone.pk, later.pk]
    assert ids(renewal_after=day(20), renewal_before=day(60)) == [gone.pk]

    row = api.get(f"{URL}{soon.pk}/").json()
    assert row["arr"] == "12000.00"
    assert row["seats"] == 25
    assert row["renewal_date"] == day(10)
    assert row["account_external_id"] == a.external_id


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "lost"}, "status"),
        ({"renewal_before": "next tuesday"}, "renewal_before"),
        ({"renewal_after": "2024-13-01"}, "renewal_after"),
        ({"account": "abc"}, "account"),
    ],
)
def test_bad_filters_are_400(api, params, field):
    res = api.get(URL, params)
    assert res.status_code == 400
    assert field in error_fields(res)


def test_create_records_the_timeline(api, inside):
    with inside():
        acct = factories.account(external_id="sf-c")
    res = api.post(
        URL,
        {
            "account_external_id": "sf-c",
            "arr": "48000.00",
            "seats": 120,
            "start_date": day(-10),
            "renewal_date": day(355),
            "external_id": "k-1",
        },
        format="json",
    )
    assert res.status_code == 201, res.json()
    assert res.json()["status"] == "active"
    with inside():
        contract = Contract.objects.get(pk=res.json()["id"])
        assert contract.arr == Decimal("48000.00") and contract.account == acct
        assert TimelineEntry.objects.filter(account=acct, kind="contract_changed").exists()
    # The account's ARR now counts it.
    assert api.get(f"/api/v1/accounts/{acct.pk}/").json()["arr"] == "48000.00"


VALID = {"arr": "1000", "start_date": day(0), "renewal_date": day(365)}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({**VALID}, "account"),
        ({**VALID, "account": "ACCT", "arr": "-1"}, "arr"),
        ({**VALID, "account": "ACCT", "arr": "lots"}, "arr"),
        ({**VALID, "account": "ACCT", "renewal_date": day(-1)}, "renewal_date"),
        ({**VALID, "account": "ACCT", "start_date": "soon"}, "start_date"),
        ({"account": "ACCT", "arr": "1", "start_date": day(0)}, "renewal_date"),
        ({**VALID, "account": "ACCT", "seats": -3}, "seats"),
        ({**VALID, "account": "ACCT", "status": "lost"}, "status"),
        ({**VALID, "account": "ACCT", "external_id": "taken"}, "external_id"),
    ],
)
def test_create_bad_input_is_400_naming_the_field(api, inside, payload, field):
    with inside():
        acct = factories.account()
        factories.contract(acct, external_id="taken")
    payload = {k: (acct.pk if v == "ACCT" else v) for k, v in payload.items()}
    res = api.post(URL, payload, format="json")
    assert res.status_code == 400
    assert has_field(res, field), error_fields(res)


def test_put_and_patch(api, inside):
    with inside():
        acct = factories.account()
        contract = factories.contract(acct)
    res = api.put(
        f"{URL}{contract.pk}/",
        {"account": acct.pk, "arr": "9000", "start_date": day(0), "renewal_date": day(100)},
        format="json",
    )
    assert res.status_code == 200, res.json()
    res = api.patch(f"{URL}{contract.pk}/", {"status": "renewed"}, format="json")
    assert res.status_code == 200
    with inside():
        contract.refresh_from_db()
        assert (contract.arr, contract.status, contract.renewal_date) == (
            Decimal("9000"),
            "renewed",
            TODAY + dt.timedelta(100),
        )


def test_patch_renewal_before_the_stored_start_is_400(api, inside):
    with inside():
        contract = factories.contract(factories.account(), start_date=TODAY)
    res = api.patch(f"{URL}{contract.pk}/", {"renewal_date": day(-5)}, format="json")
    assert res.status_code == 400
    assert "renewal_date" in error_fields(res)
    res = api.patch(f"{URL}{contract.pk}/", {"arr": "-5"}, format="json")
    assert res.status_code == 400
    assert "arr" in error_fields(res)


def test_upsert_twice_stores_one_row(api, inside):
    with inside():
        acct = factories.account(external_id="sf-up")
    url = f"{URL}external/k-77/"
    payload = {**VALID, "account_external_id": "sf-up", "seats": 10}
    assert api.put(url, payload, format="json").status_code == 201
    res = api.put(url, {**payload, "seats": 12}, format="json")
    assert res.status_code == 200
    assert res.json()["seats"] == 12
    with inside():
        assert Contract.objects.filter(external_id="k-77", account=acct).count() == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({**VALID}, "account"),
        ({**VALID, "account_external_id": "sf-up", "renewal_date": day(-30)}, "renewal_date"),
        ({**VALID, "account_external_id": "sf-up", "arr": "-10"}, "arr"),
    ],
)
def test_upsert_bad_input_is_400(api, inside, payload, field):
    with inside():
        factories.account(external_id="sf-up")
    res = api.put(f"{URL}external/k-bad/", payload, format="json")
    assert res.status_code == 400
    assert field in error_fields(res)
    with inside():
        assert not Contract.objects.filter(external_id="k-bad").exists()
