"""The health portfolio: accounts and ARR by band, the week's movers from
hand-built snapshots, missing data, filters, roles, tenant isolation and a
flat query count."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Role
from health.models import HealthScore, HealthSnapshot
from lifecycle.services import segment_save
from tests import factories
from tests.conftest import make_user
from tests.pages.conftest import ago, signed_in, text, url

pytestmark = pytest.mark.django_db


def scored(acct, score: int | None, band: str, missing=()) -> HealthScore:
    """A current score whose breakdown lacks data for `missing`."""
    breakdown = [{"measure": "usage_frequency", "points": 50.0, "missing": False}] + [
        {"measure": m, "points": None, "missing": True} for m in missing
    ]
    return HealthScore.objects.create(account=acct, score=score, band=band, breakdown=breakdown)


def snapshot(acct, days_ago: int, score: int, band: str = "yellow") -> None:
    HealthSnapshot.objects.create(
        account=acct, day=ago(days_ago), reason="daily", score=score, band=band
    )


def portfolio(client, tenant, query: str = "") -> str:
    response = client.get(url("health_portfolio", tenant, query=query))
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def book(inside, users):
    """Five accounts: two red, a yellow, a green, one not scored; the CSM
    owns the two red ones; ARR only from active contracts."""
    csm = users[Role.CSM]
    with inside():
        red1 = factories.account(name="Red One", owner=csm, tier="enterprise")
        red2 = factories.account(name="Red Two", owner=csm)
        yellow = factories.account(name="Yellow Co", tier="enterprise")
        green = factories.account(name="Green Co")
        fresh = factories.account(name="Fresh Co")
        factories.contract(red1, arr=Decimal("10000"))
        factories.contract(red1, arr=Decimal("99999"), status="expired")
        factories.contract(red2, arr=Decimal("5000"))
        factories.contract(yellow, arr=Decimal("7000"))
        factories.contract(green, arr=Decimal("20000"))
        factories.contract(green, arr=Decimal("1500"))
        factories.contract(fresh, arr=Decimal("3000"))
        scored(red1, 20, "red", missing=["nps", "breadth"])
        scored(red2, 35, "red", missing=["nps"])
        scored(yellow, 60, "yellow")
        scored(green, 90, "green", missing=["csm_sentiment"])
    return {"red1": red1, "red2": red2, "yellow": yellow, "green": green, "fresh": fresh}


@pytest.fixture
def elsewhere(other_tenant):
    """Another tenant's red account with ARR, movers and missing data."""
    with tenant_context(other_tenant):
        theirs = factories.account(name="Globex Red")
        factories.contract(theirs, arr=Decimal("500000"))
        scored(theirs, 10, "red", missing=["nps"])
        snapshot(theirs, 8, 95)
    return theirs


def test_bands_count_accounts_and_active_arr(page, tenant, book, elsewhere):
    html = portfolio(page(Role.LEADER), tenant)
    assert text(html, "band-red") == "Red 2 40% · 15,000 ARR"
    assert text(html, "band-yellow") == "Yellow 1 20% · 7,000 ARR"
    assert text(html, "band-green") == "Green 1 20% · 21,500 ARR"
    assert text(html, "band-none") == "No data 1 20% · 3,000 ARR"
    assert "5 accounts, 46,500 ARR on active contracts" in html
    assert "Globex" not in html


def test_movers_compare_with_the_latest_snapshot_at_least_a_week_old(
    page, tenant, inside, book, elsewhere
):
    with inside():
        snapshot(book["red1"], 8, 80, "green")  # the comparison: 80 → 20
        snapshot(book["red1"], 30, 20, "red")  # older: ignored
        snapshot(book["red1"], 3, 21, "red")  # not a week old: ignored
        snapshot(book["red2"], 7, 45, "yellow")  # 45 → 35
        snapshot(book["green"], 9, 60, "yellow")  # 60 → 90
        snapshot(book["yellow"], 8, 60)  # unchanged: neither list
        snapshot(book["fresh"], 8, 50)  # no score now: neither list
    html = portfolio(page(Role.LEADER), tenant)

    down = text(html, "movers-down")
    assert down.index("Red One") < down.index("Red Two")
    assert text(html, f"mover-{book['red1'].pk}").endswith("80 Green 20 Red -60")
    assert text(html, f"mover-{book['red2'].pk}").endswith("45 Yellow 35 Red -10")
    up = text(html, "movers-up")
    assert text(html, f"mover-{book['green'].pk}").endswith("60 Yellow 90 Green +30")
    assert "Yellow Co" not in down + up and "Fresh Co" not in down + up
    assert "Globex" not in html


def test_missing_data_per_measure_and_the_accounts_missing_most(page, tenant, book, elsewhere):
    html = portfolio(page(Role.LEADER), tenant)
    assert text(html, "missing-nps") == "NPS 2"  # not Globex's
    assert text(html, "missing-breadth") == "Key feature breadth 1"
    assert text(html, "missing-csm_sentiment") == "CSM sentiment 1"
    assert 'id="missing-usage_frequency"' not in html
    listed = text(html, "missing-accounts")
    assert listed.index("Red One") < listed.index("Red Two")  # most gaps first
    assert text(html, f"missing-account-{book['red1'].pk}").endswith("20 Key feature breadth, NPS")
    assert "Yellow Co" not in listed and "Globex" not in listed


def test_filter_by_owner_and_segment(page, tenant, inside, users, book):
    with inside():
        enterprise = segment_save(name="Enterprise", filters={"tier": ["enterprise"]})
    leader = page(Role.LEADER)

    mine = portfolio(leader, tenant, f"owner={users[Role.CSM].pk}")
    assert text(mine, "band-red") == "Red 2 100% · 15,000 ARR"
    assert text(mine, "band-green").startswith("Green 0")

    segment = portfolio(leader, tenant, f"segment={enterprise.pk}")
    assert text(segment, "band-red").startswith("Red 1 50%")
    assert text(segment, "band-yellow").startswith("Yellow 1 50%")
    assert text(segment, "missing-nps") == "NPS 1"

    both = portfolio(leader, tenant, f"owner={users[Role.CSM].pk}&segment={enterprise.pk}")
    assert text(both, "band-red") == "Red 1 100% · 10,000 ARR"


def test_a_csm_opens_on_their_own_book_and_can_see_everyone(page, tenant, users, book):
    csm = page(Role.CSM)
    html = portfolio(csm, tenant)
    assert f'<option value="{users[Role.CSM].pk}" selected>' in html
    assert text(html, "band-red").startswith("Red 2 100%")
    assert text(html, "band-yellow").startswith("Yellow 0")
    everyone = portfolio(csm, tenant, "owner=")
    assert text(everyone, "band-yellow").startswith("Yellow 1")


def test_roles_and_nav(page, tenant, book):
    assert page(Role.VIEWER).get(url("health_portfolio", tenant)).status_code == 403
    nav_link = f'<a href="{url("health_portfolio", tenant)}">Health</a>'
    profiles_link = f'<a href="{url("health_profiles", tenant)}">Health profiles</a>'
    accounts = url("accounts", tenant)
    assert nav_link not in page(Role.VIEWER).get(accounts).content.decode()
    csm_html = page(Role.CSM).get(accounts).content.decode()
    assert nav_link in csm_html and profiles_link not in csm_html
    for role in (Role.LEADER, Role.ADMIN):
        html = portfolio(page(role), tenant)
        assert nav_link in html and profiles_link in html


def test_a_member_of_another_tenant_gets_404(tenant, other_tenant, book):
    outsider = signed_in(make_user(other_tenant, Role.ADMIN))
    assert outsider.get(url("health_portfolio", tenant)).status_code == 404


def test_query_count_is_the_same_for_3_or_30_accounts(
    page, tenant, inside, users, django_assert_num_queries
):
    client = page(Role.LEADER)
    client.get(url("health_portfolio", tenant))  # the first visit stores the tenant in the session
    with inside():
        segment = segment_save(name="Mid-market", filters={"tier": ["mid_market"]})
    added = 0
    for n in (3, 30):
        with inside():
            for i in range(added, n):
                acct = factories.account(owner=users[Role.CSM])
                factories.contract(acct, arr=Decimal(1000 + i))
                scored(acct, 10 + i, "red" if i % 2 else "green", missing=["nps", "trend"])
                snapshot(acct, 8, 50 + (i % 7) * 5)
                snapshot(acct, 20, 40)
        added = n
        # the request's own reads, owners and segments for the filter, then
        # bands, movers down, movers up and missing data
        query = f"owner={users[Role.CSM].pk}&segment={segment.pk}"
        with django_assert_num_queries(23):  # with the nav's "My work" count
            html = portfolio(client, tenant, query)
        assert text(html, "missing-nps") == f"NPS {n}"
        # every score fell (at most 39 now, at least 50 a week ago): ten at most listed
        assert len(re.findall(r'id="mover-', html)) == min(n, 10)
        assert len(re.findall(r'id="missing-account-', html)) == min(n, 10)
