"""Tenant isolation: another tenant's key (even an admin's) gets 404 for our
objects on every endpoint, sees none of them in lists, cannot name them in
filters or link to them, and changes nothing."""

from __future__ import annotations

import pytest

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Role
from lifecycle import services
from lifecycle.models import (
    Account,
    AccountAchievement,
    Contact,
    Contract,
    Escalation,
    Segment,
    TimelineEntry,
)
from tests import factories
from tests.errors import error_fields

pytestmark = pytest.mark.django_db


@pytest.fixture
def ours(tenant, users):
    """Tenant A's objects, one of each kind."""
    with tenant_context(tenant):
        acct = factories.account(external_id="crm-ours", owner=users[Role.CSM])
        contact = factories.contact(acct, external_id="c-ours")
        contract = factories.contract(acct, external_id="k-ours")
        seg = services.segment_save(name="Ours", filters={"tier": ["mid_market"]})
        esc = services.escalation_open(account=acct, reason="ours", actor=None)
        services.note_add(account=acct, body="private", actor=None)
    return {
        "acct": acct,
        "contact": contact,
        "contract": contract,
        "seg": seg,
        "esc": esc,
        "owner": users[Role.CSM],
    }


def _snapshot(tenant):
    with tenant_context(tenant):
        return (
            list(Account.objects.values_list("name", "stage", "tier", "is_escalated")),
            list(Contact.objects.values_list("name", "email")),
            list(Contract.objects.values_list("arr", "status")),
            list(Segment.objects.values_list("name", "filters")),
            list(Escalation.objects.values_list("resolved_at", flat=True)),
            TimelineEntry.objects.count(),
            AccountAchievement.objects.count(),
        )


DETAIL = [
    ("get", "/api/v1/accounts/{acct}/", None),
    ("put", "/api/v1/accounts/{acct}/", {"name": "Hijacked"}),
    ("patch", "/api/v1/accounts/{acct}/", {"name": "Hijacked"}),
    ("get", "/api/v1/accounts/{acct}/transitions/", None),
    ("post", "/api/v1/accounts/{acct}/transitions/", {"to_stage": "churned"}),
    ("get", "/api/v1/accounts/{acct}/achievements/", None),
    ("post", "/api/v1/accounts/{acct}/achievements/kickoff_held/complete/", {}),
    ("post", "/api/v1/accounts/{acct}/achievements/kickoff_held/reopen/", {}),
    ("get", "/api/v1/accounts/{acct}/escalations/", None),
    ("post", "/api/v1/accounts/{acct}/escalations/", {"reason": "x"}),
    ("get", "/api/v1/accounts/{acct}/timeline/", None),
    ("post", "/api/v1/accounts/{acct}/notes/", {"body": "x"}),
    ("get", "/api/v1/contacts/{contact}/", None),
    ("put", "/api/v1/contacts/{contact}/", {"account": 1, "name": "X", "email": "x@c.test"}),
    ("patch", "/api/v1/contacts/{contact}/", {"name": "Hijacked"}),
    ("get", "/api/v1/contracts/{contract}/", None),
    ("patch", "/api/v1/contracts/{contract}/", {"status": "cancelled"}),
    ("get", "/api/v1/segments/{seg}/", None),
    ("patch", "/api/v1/segments/{seg}/", {"name": "Hijacked"}),
    ("get", "/api/v1/segments/{seg}/accounts/", None),
    ("get", "/api/v1/escalations/{esc}/", None),
    ("post", "/api/v1/escalations/{esc}/resolve/", {"resolution": "x"}),
]


@pytest.mark.parametrize(("method", "template", "body"), DETAIL)
def test_another_tenants_key_gets_404(tenant, ours, other_api, method, template, body):
    url = template.format(**{k: v.pk for k, v in ours.items()})
    before = _snapshot(tenant)
    res = getattr(other_api, method)(url, body, format="json")
    assert res.status_code == 404, res.content
    assert "ours" not in res.content.decode() and "private" not in res.content.decode()
    assert _snapshot(tenant) == before


LISTS = [
    "/api/v1/accounts/",
    "/api/v1/contacts/",
    "/api/v1/contracts/",
    "/api/v1/segments/",
    "/api/v1/escalations/",
    "/api/v1/escalations/?open=true",
    "/api/v1/timeline/",
]


@pytest.mark.parametrize("url", LISTS)
def test_lists_show_none_of_another_tenants_rows(ours, api, other_api, url):
    assert api.get(url).json()["count"] >= 1  # tenant A sees its own
    res = other_api.get(url)
    assert res.status_code == 200
    assert res.json()["count"] == 0
    assert res.json()["results"] == []


@pytest.mark.parametrize(
    ("url", "param", "key"),
    [
        ("/api/v1/accounts/", "segment", "seg"),
        ("/api/v1/accounts/", "owner", "owner"),
        ("/api/v1/contacts/", "account", "acct"),
        ("/api/v1/contracts/", "account", "acct"),
        ("/api/v1/escalations/", "account", "acct"),
        ("/api/v1/timeline/", "account", "acct"),
    ],
)
def test_filters_cannot_name_another_tenants_objects(ours, other_api, url, param, key):
    res = other_api.get(url, {param: ours[key].pk})
    assert res.status_code == 400
    assert error_fields(res)[param][0].startswith("No ")


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/v1/contacts/", {"name": "X", "email": "x@c.test"}),
        (
            "/api/v1/contracts/",
            {"arr": "1", "start_date": "2025-01-01", "renewal_date": "2026-01-01"},
        ),
    ],
)
@pytest.mark.parametrize("link", ["account", "account_external_id"])
def test_cannot_link_to_another_tenants_account(tenant, ours, other_api, url, body, link):
    ref = ours["acct"].pk if link == "account" else ours["acct"].external_id
    before = _snapshot(tenant)
    res = other_api.post(url, {**body, link: ref}, format="json")
    assert res.status_code == 400
    assert error_fields(res)[link][0].startswith("No ")
    assert _snapshot(tenant) == before


def test_upsert_with_the_same_external_id_stays_within_each_tenant(
    tenant, other_tenant, ours, other_api
):
    before = _snapshot(tenant)
    res = other_api.put("/api/v1/accounts/external/crm-ours/", {"name": "Theirs"}, format="json")
    assert res.status_code == 201  # a new account of tenant B, not ours updated
    assert res.json()["id"] != ours["acct"].pk
    assert _snapshot(tenant) == before
    with tenant_context(other_tenant):
        assert Account.objects.get(external_id="crm-ours").name == "Theirs"


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/v1/contacts/external/c-ours/", {"name": "X", "email": "x@c.test"}),
        (
            "/api/v1/contracts/external/k-ours/",
            {"arr": "1", "start_date": "2025-01-01", "renewal_date": "2026-01-01"},
        ),
    ],
)
def test_child_upsert_cannot_reach_another_tenants_account(tenant, ours, other_api, url, body):
    before = _snapshot(tenant)
    res = other_api.put(url, {**body, "account_external_id": "crm-ours"}, format="json")
    assert res.status_code == 400
    assert "account_external_id" in error_fields(res)
    assert _snapshot(tenant) == before
