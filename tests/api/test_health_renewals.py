"""Renewal health over the API: rows with their three parts, totals by
risk, filters, bad input, isolation and a flat query count."""

import pytest
from django.utils import timezone

from csplatform.tenancy.context import tenant_context
from health.models import HealthScore
from tests.conftest import make_user
from tests.errors import error_fields
from tests.health.renewal_data import renewing

pytestmark = pytest.mark.django_db

URL = "/api/v1/health/renewals/"
TODAY = timezone.now().date()


def test_rows_carry_the_three_parts_and_the_summary_the_money(tenant, viewer_api):
    with tenant_context(tenant):
        risky = renewing(90, 10, arr="1000").account
        safe = renewing(20, 95, arr="4000", champion=True).account
    res = viewer_api.get(URL)
    assert res.status_code == 200, res.content
    rows = res.json()["results"]
    assert [r["account"] for r in rows] == [safe.pk, risky.pk]  # soonest first
    first = rows[0]
    assert [c["key"] for c in first["components"]] == ["needs_met", "confidence", "winner"]
    assert first["components"][2]["parts"] == [
        {"label": "NPS", "value": 95.0},
        {"label": "Champion named", "value": 100.0},
    ]
    assert (first["risk"], first["days_left"], first["known_parts"]) == ("low", 20, 3)
    by_risk = viewer_api.get(URL, {"order": "risk"}).json()["results"]
    assert [r["account"] for r in by_risk] == [risky.pk, safe.pk]
    summary = viewer_api.get(f"{URL}summary/").json()
    assert (summary["contracts"], summary["arr"], summary["arr_at_risk"]) == (
        2,
        "5000.00",
        "1000.00",
    )
    assert {b["risk"]: b["contracts"] for b in summary["by_risk"]}["high"] == 1
    assert summary["arr_unknown"] == "0.00"


def test_renewals_with_no_health_signal_are_unknown_risk_with_their_arr(tenant, viewer_api):
    with tenant_context(tenant):
        blank = renewing(30, 50, arr="7000", champion=True)
        HealthScore.objects.filter(account_id=blank.account_id).update(
            score=None, band="", breakdown=[]
        )
    row = viewer_api.get(URL).json()["results"][0]
    assert (row["risk"], row["likelihood"], row["known_parts"]) == ("unknown", None, 0)
    assert [c["value"] for c in row["components"]] == [None, None, None]
    summary = viewer_api.get(f"{URL}summary/").json()
    assert (summary["arr_at_risk"], summary["arr_unknown"]) == ("0.00", "7000.00")
    unknown = next(b for b in summary["by_risk"] if b["risk"] == "unknown")
    assert (unknown["label"], unknown["contracts"], unknown["arr"]) == (
        "Unknown risk",
        1,
        "7000.00",
    )


def test_horizon_and_filters_and_bad_input(tenant, viewer_api):
    with tenant_context(tenant):
        near = renewing(30, 50, tier="enterprise").account
        renewing(300, 50)
    assert [r["account"] for r in viewer_api.get(URL).json()["results"]] == [near.pk]
    assert len(viewer_api.get(URL, {"horizon_days": 400}).json()["results"]) == 2
    bad = viewer_api.get(URL, {"horizon_days": 0, "order": "vibes"})
    assert bad.status_code == 400 and {"horizon_days", "order"} <= set(error_fields(bad))
    assert viewer_api.get(URL, {"segment": 999999}).status_code == 400


def test_another_tenants_renewals_never_show(tenant, other_tenant, viewer_api, other_api):
    with tenant_context(other_tenant):
        theirs = renewing(30, 10).account
    their_csm = make_user(other_tenant, "csm")
    with tenant_context(tenant):
        mine = renewing(30, 10).account
    assert [r["account"] for r in viewer_api.get(URL).json()["results"]] == [mine.pk]
    assert [r["account"] for r in other_api.get(URL).json()["results"]] == [theirs.pk]
    assert viewer_api.get(URL, {"owner": their_csm.pk}).status_code == 400  # not a member here


# Key and tenant setup, the horizon setting, then contracts, scores and
# champions: one query each whatever the number of renewals.
QUERIES = 14


@pytest.mark.parametrize("n", [3, 30])
def test_the_list_costs_the_same_queries_for_3_and_30_renewals(
    n, tenant, viewer_api, django_assert_num_queries
):
    with tenant_context(tenant):
        for i in range(n):
            renewing(10 + i, 50, champion=i % 2 == 0)
    with django_assert_num_queries(QUERIES):
        assert len(viewer_api.get(URL).json()["results"]) == n
