"""The renewal health page: rows with their three parts, ARR at risk,
ordering, a CSM's own book, isolation and a flat query count."""

from __future__ import annotations

import pytest

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Role
from health.models import HealthScore
from tests.conftest import make_user
from tests.health.renewal_data import renewing
from tests.pages.conftest import signed_in, text, url

pytestmark = pytest.mark.django_db


def test_leaders_see_each_renewal_with_its_parts_and_the_arr_at_risk(page, inside, tenant):
    with inside():
        risky = renewing(90, 10, arr="25000", name="Globex")
        renewing(20, 95, arr="4000", name="Initech")
    html = page(Role.LEADER).get(url("health_renewals", tenant)).content.decode()
    assert text(html, "arr-at-risk") == "25,000"
    row = text(html, f"renewal-{risky.pk}")
    # health 10, needs met 10, confidence 40 (trend 10, engagement 10, no escalation
    # 100), winner 5 (NPS 10, no champion 0): likelihood 18, high risk
    assert row.startswith("Globex")
    assert "10 40 5 18 High risk" in row
    assert html.index("Initech") < html.index("Globex")  # soonest renewal first
    by_risk = page(Role.LEADER).get(url("health_renewals", tenant, query="order=risk"))
    assert by_risk.content.decode().index("Globex") < by_risk.content.decode().index("Initech")
    assert text(html, "risk-high").startswith("High risk 1")


def test_unknown_parts_and_unknown_risk_are_shown_as_such(page, inside, tenant):
    with inside():
        red = renewing(31, 30, arr="30000", name="Redco", champion=True)
        HealthScore.objects.filter(account_id=red.account_id).update(
            breakdown=[
                {"measure": m, "points": None, "missing": True}
                for m in ("outcomes", "trend", "engagement", "nps")
            ]
        )
        blank = renewing(20, 0, arr="7000", name="Blankco", champion=True)
        HealthScore.objects.filter(account_id=blank.account_id).update(
            score=None, band="", breakdown=[]
        )
    html = page(Role.LEADER).get(url("health_renewals", tenant)).content.decode()
    # red with only its score known: needs met 30, the rest unknown, high risk
    assert "30 Red 30 — — 30 on 1 of 3 parts High risk" in text(html, f"renewal-{red.pk}")
    assert "— — — — — Unknown risk" in text(html, f"renewal-{blank.pk}")
    assert text(html, "arr-at-risk") == "30,000"
    assert text(html, "arr-unknown") == "7,000"
    assert text(html, "risk-unknown").startswith("Unknown risk 1")
    assert "7,000 ARR" in text(html, "risk-unknown")
    assert text(html, "risk-low").startswith("Low risk 0")


def test_a_csm_opens_on_their_own_book_and_a_viewer_is_refused(users, inside, tenant, page):
    csm = users[Role.CSM]
    with inside():
        renewing(30, 50, name="Mine", owner=csm)
        renewing(30, 50, name="Someone else's", owner=make_user(tenant, Role.CSM))
    own = signed_in(csm).get(url("health_renewals", tenant)).content.decode()
    assert "Mine" in own and "Someone else" not in own
    everyone = signed_in(csm).get(url("health_renewals", tenant, query="owner=")).content.decode()
    assert "Someone else" in everyone
    assert page(Role.VIEWER).get(url("health_renewals", tenant)).status_code == 403


def test_another_tenants_renewals_never_show(page, tenant, other_tenant, inside):
    with tenant_context(other_tenant):
        renewing(30, 10, name="Their secret")
    with inside():
        renewing(30, 10, name="Ours")
    html = page(Role.LEADER).get(url("health_renewals", tenant)).content.decode()
    assert "Ours" in html and "Their secret" not in html


# Session, user, membership and tenant setup, the filter lists, the horizon
# setting, then contracts, scores and champions: flat in the number of rows.
QUERIES = 26  # with the nav's "My work" count


@pytest.mark.parametrize("n", [3, 30])
def test_the_page_costs_the_same_queries_for_3_and_30_renewals(
    n, page, tenant, inside, django_assert_num_queries
):
    with inside():
        for i in range(n):
            renewing(10 + i, 50, name=f"Customer {i}")
    client = page(Role.LEADER)
    with django_assert_num_queries(QUERIES):
        assert client.get(url("health_renewals", tenant)).status_code == 200


def test_a_bad_filter_is_named_and_the_page_still_answers(page, tenant, inside):
    with inside():
        renewing(30, 50, name="Ours")
    response = page(Role.LEADER).get(
        url("health_renewals", tenant, query="owner=999999&order=vibes&page=abc")
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('class="errorlist"') == 2  # owner and order, each named at its field
    assert "Ours" in html  # unfiltered, first page
