"""Tenant isolation in lists: another tenant's key (even an admin's) sees
none of our rows. Every operation against our objects and ids (404s, 400s
by field, upserts, nothing changed) is in tests/api/test_cross_tenant.py."""

from __future__ import annotations

import pytest

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Role
from lifecycle import services
from tests import factories

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
