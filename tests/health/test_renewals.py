"""Renewal health: the three parts of the likelihood, ARR at risk, the
horizon, ordering, filters, the registry other apps add signals through."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from csplatform.tenancy.context import tenant_context
from health.models import HealthScore
from health.renewal import register_renewal_signal, unregister_renewal_signal
from health.selectors import renewal_report
from lifecycle.models import ContactRole
from lifecycle.services import escalation_open, segment_save
from tests import factories
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

TODAY = timezone.now().date()


def scored(acct, score, **points):
    """A current score with these measure points in its breakdown."""
    HealthScore.objects.create(
        account=acct,
        score=score,
        band=""
        if score is None
        else "green"
        if score >= 70
        else "yellow"
        if score >= 40
        else "red",
        breakdown=[{"measure": m, "points": p, "missing": p is None} for m, p in points.items()],
    )


def renewing(acct, days, arr="10000", **fields):
    return factories.contract(
        acct,
        arr=Decimal(arr),
        start_date=TODAY - timedelta(days=300),
        renewal_date=TODAY + timedelta(days=days),
        **fields,
    )


def test_likelihood_is_the_mean_of_three_parts_each_shown(in_tenant):
    acct = factories.account(name="Umbrella")
    renewing(acct, 30, arr="50000")
    scored(acct, 80, outcomes=60, trend=40, engagement=80, nps=None)
    factories.contact(acct, role=ContactRole.CHAMPION)
    escalation_open(account=acct, reason="Data loss", actor=None)
    row = renewal_report().rows[0]
    parts = {c.key: c for c in row.components}
    assert parts["needs_met"].value == 70  # health 80, outcomes 60
    assert parts["confidence"].value == 40  # trend 40, engagement 80, escalation open 0
    # no NPS yet: a named champion alone says nothing, so the part is unknown
    assert parts["winner"].value is None
    assert [(p.label, p.value) for p in parts["winner"].parts] == [
        ("NPS", None),
        ("Champion named", 100.0),
    ]
    assert row.likelihood == 55  # the two known parts
    assert (row.known_parts, row.all_parts) == (2, 3)
    assert (row.risk, row.arr_at_risk) == ("medium", 50000)


def test_a_part_whose_health_inputs_are_all_missing_is_unknown_not_100(in_tenant):
    # red, renewing in 31 days, a champion and no escalation, but no usage
    # trend, engagement or NPS: before, confidence and winner were 100 and
    # the renewal "low risk"
    red = factories.account(name="Red")
    renewing(red, 31, arr="30000")
    scored(red, 30, outcomes=None, trend=None, engagement=None, nps=None)
    factories.contact(red, role=ContactRole.CHAMPION)
    row = renewal_report().rows[0]
    parts = {c.key: c.value for c in row.components}
    assert parts == {"needs_met": 30, "confidence": None, "winner": None}
    assert (row.likelihood, row.known_parts) == (30, 1)
    assert (row.risk, row.arr_at_risk) == ("high", 30000)


def test_an_account_with_no_health_signal_is_unknown_risk_apart_with_its_arr(in_tenant):
    known = factories.account()
    renewing(known, 40, arr="1000")
    scored(known, 90, outcomes=90, trend=90, engagement=90, nps=90)
    blank = factories.account()  # scored, but every measure missing: no score
    renewing(blank, 20, arr="7000")
    scored(blank, None, outcomes=None, trend=None, engagement=None, nps=None)
    factories.contact(blank, role=ContactRole.CHAMPION)
    never = factories.account()  # never scored at all
    renewing(never, 30, arr="2000")

    report = renewal_report()
    rows = {r.account_id: r for r in report.rows}
    for acct in (blank, never):
        row = rows[acct.pk]
        assert (row.risk, row.risk_label) == ("unknown", "Unknown risk")
        assert row.likelihood is None and row.known_parts == 0
        assert all(c.value is None for c in row.components)
        assert row.arr_at_risk == 0
    assert rows[known.pk].risk == "low"
    assert report.arr_at_risk == 0
    assert report.arr_unknown == Decimal("9000")
    totals = {b["risk"]: (b["contracts"], b["arr"]) for b in report.by_risk}
    assert totals["unknown"] == (2, Decimal("9000"))
    assert totals["low"] == (1, Decimal("1000"))


def test_arr_at_risk_sums_high_and_medium_risk_renewals(in_tenant):
    for score, arr in [(10, "1000"), (60, "2000"), (95, "4000")]:
        acct = factories.account()
        renewing(acct, 60, arr=arr)
        scored(acct, score, outcomes=score, trend=score, engagement=score, nps=score)
        if score > 90:
            factories.contact(acct, role=ContactRole.CHAMPION)
    report = renewal_report()
    assert [r.risk for r in report.rows] == ["high", "medium", "low"]
    assert report.arr == Decimal("7000")
    assert report.arr_at_risk == Decimal("3000")
    assert {b["risk"]: b["contracts"] for b in report.by_risk} == {
        "high": 1,
        "medium": 1,
        "low": 1,
        "unknown": 0,
    }


def test_only_active_contracts_inside_the_horizon_are_listed(in_tenant):
    acct = factories.account()
    inside = renewing(acct, 179)
    renewing(acct, 181)
    renewing(acct, 20, status="cancelled")
    past = factories.account()
    factories.contract(
        past, start_date=TODAY - timedelta(days=400), renewal_date=TODAY - timedelta(days=1)
    )
    assert [r.contract_id for r in renewal_report().rows] == [inside.pk]
    assert len(renewal_report(horizon_days=200).rows) == 2


def test_order_by_risk_puts_the_riskiest_first_and_unscored_is_unknown(in_tenant):
    late_risky, early_safe, unscored = (factories.account() for _ in range(3))
    renewing(late_risky, 150)
    scored(late_risky, 5, outcomes=0, trend=0, engagement=0, nps=0)
    renewing(early_safe, 10)
    scored(early_safe, 99, outcomes=100, trend=100, engagement=100, nps=100)
    factories.contact(early_safe, role=ContactRole.CHAMPION)
    renewing(unscored, 50)
    by_date = [r.account_id for r in renewal_report().rows]
    by_risk = [r.account_id for r in renewal_report(order="risk").rows]
    assert by_date == [early_safe.pk, unscored.pk, late_risky.pk]
    assert by_risk == [late_risky.pk, unscored.pk, early_safe.pk]
    assert renewal_report().rows[1].risk == "unknown"


def test_filters_by_owner_and_segment(in_tenant, tenant):
    mine, theirs = make_user(tenant, "csm"), make_user(tenant, "csm")
    a = factories.account(owner=mine, tier="enterprise")
    b = factories.account(owner=theirs, tier="smb")
    renewing(a, 30)
    renewing(b, 30)
    big = segment_save(name="Big", filters={"tier": ["enterprise"]})
    assert [r.account_id for r in renewal_report(owner_id=theirs.pk).rows] == [b.pk]
    assert [r.account_id for r in renewal_report(segment=big).rows] == [a.pk]


def test_other_apps_add_signals_to_a_part_through_the_registry(in_tenant):
    acct = factories.account()
    renewing(acct, 30)
    scored(acct, 50, outcomes=50, trend=50, engagement=50, nps=50)
    calls = []

    def willing(ids):
        calls.append(list(ids))
        return {acct.pk: 100.0}

    register_renewal_signal(
        "test_reference", label="Would be a reference", component="winner", fetch=willing
    )
    try:
        row = renewal_report().rows[0]
    finally:
        unregister_renewal_signal("test_reference")
    winner = next(c for c in row.components if c.key == "winner")
    assert [p.label for p in winner.parts][-1] == "Would be a reference"
    assert winner.value == 50  # NPS 50, no champion 0, reference 100
    assert calls == [[acct.pk]]  # once for the whole list


def test_the_report_costs_the_same_queries_for_3_and_30_contracts(tenant, other_tenant):
    def build(n):
        for _ in range(n):
            acct = factories.account()
            renewing(acct, 40)
            scored(acct, 50, outcomes=50)
            factories.contact(acct, role=ContactRole.CHAMPION)

    counts = []
    for t, n in ((tenant, 3), (other_tenant, 30)):
        with tenant_context(t):
            build(n)
            with CaptureQueriesContext(connection) as queries:
                rows = renewal_report().rows
            assert len(rows) == n  # and never the other tenant's
            counts.append(len(queries))
    assert counts[0] == counts[1]
