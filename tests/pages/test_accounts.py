"""The accounts list (search, filters, paging, funnel) and creating/editing accounts."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Role
from lifecycle import services
from lifecycle.models import Account, StageHistory, TimelineEntry
from tests import factories
from tests.conftest import make_user
from tests.pages.conftest import url

pytestmark = pytest.mark.django_db


def names(response) -> list[str]:
    """Account names in the results table, in order."""
    return re.findall(
        r'<td><a href="/t/[^"]+/accounts/\d+/">([^<]+)</a>', response.content.decode()
    )


@pytest.fixture
def book(inside, users):
    """A small book of business across stages, owners, tiers and escalation."""
    with inside():
        alpha = factories.account(
            name="Alpha Corp",
            external_id="SF-001",
            tier="strategic",
            owner=users[Role.CSM],
            industry="Retail",
        )
        factories.contract(
            alpha, arr=Decimal("120000"), renewal_date=dt.date.today() + dt.timedelta(days=30)
        )
        beta = factories.account(name="Beta Labs", external_id="SF-002", tier="smb")
        factories.complete_stage(beta)
        services.account_transition(
            account_id=beta.pk, to_stage="adoption", actor=None, role=Role.CSM
        )
        gamma = factories.account(
            name="Gamma Health", external_id="SF-003", tier="smb", owner=users[Role.LEADER]
        )
        services.escalation_open(account=gamma, reason="Outage", actor=None)
        segment = services.segment_save(name="SMB", filters={"tier": ["smb"]})
    return {"alpha": alpha, "beta": beta, "gamma": gamma, "segment": segment}


def test_list_shows_the_columns(page, tenant, book):
    response = page(Role.VIEWER).get(url("accounts", tenant))
    body = response.content.decode()
    assert names(response) == ["Alpha Corp", "Beta Labs", "Gamma Health"]
    for column in ("Name", "Stage", "Owner", "Tier", "ARR", "Next renewal", "Escalation"):
        assert f">{column}</th>" in body
    row = body[body.index("Alpha Corp") : body.index("Beta Labs")]
    assert "120,000" in row
    assert (dt.date.today() + dt.timedelta(days=30)).isoformat() in row
    assert "Strategic" in row and "Onboarding" in row
    gamma_row = body[body.index("Gamma Health") :]
    assert "Escalated" in gamma_row.split("</tr>")[0]


@pytest.mark.parametrize(
    "query,expected",
    [
        ("q=beta", ["Beta Labs"]),
        ("q=SF-003", ["Gamma Health"]),
        ("stage=adoption", ["Beta Labs"]),
        ("tier=smb", ["Beta Labs", "Gamma Health"]),
        ("escalated=yes", ["Gamma Health"]),
        ("escalated=no", ["Alpha Corp", "Beta Labs"]),
        ("tier=smb&escalated=no", ["Beta Labs"]),
    ],
)
def test_search_and_filters(page, tenant, book, query, expected):
    assert names(page(Role.VIEWER).get(url("accounts", tenant, query=query))) == expected


def test_filter_by_owner_and_segment(page, tenant, book, users):
    client = page(Role.VIEWER)
    by_owner = client.get(url("accounts", tenant, query=f"owner={users[Role.CSM].pk}"))
    assert names(by_owner) == ["Alpha Corp"]
    by_segment = client.get(url("accounts", tenant, query=f"segment={book['segment'].pk}"))
    assert names(by_segment) == ["Beta Labs", "Gamma Health"]


def test_owner_filter_offers_only_members_of_the_tenant(page, tenant, other_tenant, book):
    outsider = make_user(other_tenant, Role.CSM)
    client = page(Role.VIEWER)
    body = client.get(url("accounts", tenant)).content.decode()
    assert f'value="{outsider.pk}"' not in body
    response = client.get(url("accounts", tenant, query=f"owner={outsider.pk}&tier=smb"))
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    # The bad owner is reported and ignored; the valid tier filter still applies.
    assert names(response) == ["Beta Labs", "Gamma Health"]


def test_funnel_counts_accounts_per_stage(page, tenant, book):
    body = page(Role.VIEWER).get(url("accounts", tenant)).content.decode()
    start = body.index('class="funnel"')
    funnel = body[start : body.index("</nav>", start)]
    assert re.search(r"<strong>2</strong>Onboarding", funnel)
    assert re.search(r"<strong>1</strong>Adoption", funnel)
    assert re.search(r"<strong>0</strong>Churned", funnel)


def test_list_is_paginated_by_50(page, tenant, inside):
    with inside():
        for i in range(51):
            factories.account(name=f"Customer {i:03d}")
    client = page(Role.VIEWER)
    first = client.get(url("accounts", tenant))
    assert len(names(first)) == 50
    assert "Page 1 of 2" in first.content.decode()
    second = client.get(url("accounts", tenant, query="page=2"))
    assert names(second) == ["Customer 050"]
    # Paging keeps the filters.
    filtered = client.get(url("accounts", tenant, query="q=Customer&page=1")).content.decode()
    assert "?q=Customer&amp;page=2" in filtered


def test_htmx_filter_returns_only_the_results_table(page, tenant, book):
    response = page(Role.VIEWER).get(
        url("accounts", tenant, query="q=alpha"),
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="account-results",
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body and body.lstrip().startswith('<div id="account-results">')
    assert names(response) == ["Alpha Corp"]


def test_csm_creates_an_account(page, tenant, inside, users):
    response = page(Role.CSM).post(
        url("account_new", tenant),
        {
            "name": "Delta Inc",
            "external_id": "SF-9",
            "owner": users[Role.CSM].pk,
            "tier": "enterprise",
            "industry": "Logistics",
        },
    )
    with inside():
        acct = Account.objects.get(external_id="SF-9")
        assert response["Location"] == url("account", tenant, acct.pk)
        assert (acct.name, acct.owner, acct.tier, acct.stage) == (
            "Delta Inc",
            users[Role.CSM],
            "enterprise",
            "onboarding",
        )
        assert StageHistory.objects.filter(account=acct, stage="onboarding").exists()
        assert TimelineEntry.objects.filter(account=acct, kind="account_created").exists()


def test_create_account_with_bad_input_shows_errors_and_stores_nothing(
    page, tenant, inside, book, other_tenant
):
    client = page(Role.CSM)
    outsider = make_user(other_tenant, Role.CSM)
    cases = [
        ({"name": "", "tier": "smb"}, "name", "This field is required."),
        ({"name": "X", "tier": "gold"}, "tier", "Select a valid choice"),
        ({"name": "X", "tier": "smb", "owner": outsider.pk}, "owner", "Select a valid choice"),
        ({"name": "Dup", "tier": "smb", "external_id": "SF-001"}, "external_id", "already exists"),
    ]
    with inside():
        before = Account.objects.count()
    for data, field, message in cases:
        response = client.post(url("account_new", tenant), data)
        assert response.status_code == 422, data
        body = response.content.decode()
        errors = re.search(rf'id="id_{field}_error">(.*?)</ul>', body, re.S)
        assert errors and message in errors.group(1), (field, body[:200])
    with inside():
        assert Account.objects.count() == before


def test_csm_edits_an_account_and_the_owner_change_is_on_the_timeline(
    page, tenant, inside, book, users
):
    alpha = book["alpha"]
    response = page(Role.CSM).post(
        url("account_edit", tenant, alpha.pk),
        {
            "name": "Alpha Corporation",
            "owner": users[Role.LEADER].pk,
            "tier": "enterprise",
            "industry": "Retail",
        },
    )
    assert response["Location"] == url("account", tenant, alpha.pk)
    with inside():
        alpha.refresh_from_db()
        assert (alpha.name, alpha.owner, alpha.tier) == (
            "Alpha Corporation",
            users[Role.LEADER],
            "enterprise",
        )
        assert alpha.external_id == "SF-001"  # not editable on the page
        assert TimelineEntry.objects.filter(account=alpha, kind="owner_changed").exists()


def test_edit_with_bad_input_shows_errors_and_changes_nothing(page, tenant, inside, book):
    alpha = book["alpha"]
    response = page(Role.CSM).post(
        url("account_edit", tenant, alpha.pk), {"name": "", "tier": "smb"}
    )
    assert response.status_code == 422
    body = response.content.decode()
    # The message is tied to its field for screen readers.
    assert 'id="id_name_error"' in body and 'aria-describedby="id_name_error"' in body
    with inside():
        alpha.refresh_from_db()
        assert (alpha.name, alpha.tier) == ("Alpha Corp", "strategic")


def _seed_accounts(tenant, n):
    with tenant_context(tenant):
        segment = services.segment_save(name=f"Big {n}", filters={"tier": ["strategic"]})
        for i in range(n):
            owner = make_user(tenant, Role.CSM)  # a distinct owner per row
            acct = factories.account(name=f"Account {i:03d}", owner=owner, tier="strategic")
            factories.contract(acct)
            factories.contract(acct, arr=Decimal("500"))
            if i % 2:
                services.escalation_open(account=acct, reason="r", actor=owner)
    return segment


@pytest.mark.parametrize("query", ["", "q=Account&tier=strategic&escalated=no", "segment"])
def test_accounts_list_query_count_does_not_grow_with_rows(page, tenant, query):
    client = page(Role.VIEWER)
    client.get(url("accounts", tenant))  # the first visit stores the tenant in the session

    def count(n):
        segment = _seed_accounts(tenant, n)
        q = f"segment={segment.pk}" if query == "segment" else query
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url("accounts", tenant, query=q))
        assert response.status_code == 200
        return len(ctx.captured_queries), len(names(response))

    few, few_rows = count(3)
    many, many_rows = count(27)  # 30 accounts in all now
    assert many_rows > few_rows
    assert many == few


def test_the_owner_picker_offers_only_people_who_can_own_accounts(page, tenant, users):
    body = page(Role.CSM).get(url("account_new", tenant)).content.decode()
    picker = body[body.index('name="owner"') : body.index("</select>", body.index('name="owner"'))]
    for role in (Role.CSM, Role.LEADER, Role.ADMIN):
        assert f'value="{users[role].pk}"' in picker
    assert f'value="{users[Role.VIEWER].pk}"' not in picker
