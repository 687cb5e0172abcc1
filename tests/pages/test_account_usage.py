"""The account page's usage panel, built from hand-made daily rollup rows."""

from __future__ import annotations

import re

import pytest

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Role
from health.models import (
    EventName,
    Feature,
    UsageDailyAccount,
    UsageDailyAccountUser,
    UsageDailyEvent,
)
from tests import factories
from tests.pages.conftest import HTMX, ago, url

pytestmark = pytest.mark.django_db


def add_day(acct, days_ago: int, *, events: int, users: int = 0) -> None:
    """One day of rollups: the account's totals and `users` distinct users."""
    UsageDailyAccount.objects.create(
        account=acct, day=ago(days_ago), events=events, active_users=users
    )
    for n in range(users):
        UsageDailyAccountUser.objects.create(account=acct, day=ago(days_ago), user_id=f"u{n}")


def add_event(acct, name: str, days_ago: int, *, events: int = 1) -> None:
    UsageDailyEvent.objects.create(account=acct, event=name, day=ago(days_ago), events=events)


def section(html: str, element_id: str) -> str:
    """The text of the element with that id, tags removed, spaces collapsed."""
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</(table|p|div|dd)>', html, re.S)
    assert match, f"no #{element_id}"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


@pytest.fixture
def acct(inside):
    with inside():
        return factories.account(name="Initech", external_id="initech-1")


def panel(client, tenant, acct) -> str:
    response = client.get(url("account_usage", tenant, acct.pk), **HTMX)
    assert response.status_code == 200
    return response.content.decode()


def test_panel_shows_the_numbers_of_the_rollups(page, tenant, inside, acct):
    with inside():
        add_day(acct, 1, events=40, users=3)
        add_day(acct, 10, events=10, users=2)
        add_day(acct, 45, events=5, users=1)  # in the chart, not in the 30-day figures
        add_day(acct, 120, events=999, users=9)  # outside the 90 days
        reporting = Feature.objects.create(name="Reporting", counts_for_adoption=True)
        dashboards = Feature.objects.create(name="Dashboards", counts_for_adoption=True)
        Feature.objects.create(name="Exports")
        EventName.objects.create(name="report_exported", feature=reporting)
        EventName.objects.create(name="dashboard_viewed", feature=dashboards)
        EventName.objects.create(name="beta_clicked")
        add_event(acct, "report_exported", 1, events=30)
        add_event(acct, "dashboard_viewed", 45, events=5)
        add_event(acct, "beta_clicked", 10, events=10)
        factories.contract(acct, seats=10)
        factories.contract(acct, seats=50, status="expired")

    html = panel(page(Role.VIEWER), tenant, acct)

    assert section(html, "usage-total-events") == "55"
    assert section(html, "usage-peak-users") == "3"
    # active users in 30 days are distinct users (u0..u2), against active seats only
    assert section(html, "usage-utilization").startswith(
        "30.0% · 3 active users in the last 30 days of 10 seats"
    )
    assert '<meter min="0" max="10" value="3"' in html
    assert section(html, "usage-breadth").startswith("1 of 2 key features used")
    features = section(html, "usage-features")
    assert f"Reporting Key Used {ago(1):%Y-%m-%d}" in features
    assert f"Dashboards Key Not used {ago(45):%Y-%m-%d}" in features
    assert "Exports Not used —" in features
    assert f"{ago(1):%Y-%m-%d} 40 3" in section(html, "usage-daily")
    assert f"{ago(120):%Y-%m-%d}" not in html
    assert html.count("<rect ") == 3  # one bar per day with events
    assert '<title id="usage-chart-title">Events and daily active users' in html
    assert 'id="usage-unmapped"' not in html  # the mapping hint is for admins

    admin_html = panel(page(Role.ADMIN), tenant, acct)
    unmapped = section(admin_html, "usage-unmapped")
    assert "beta_clicked" in unmapped and "report_exported" not in unmapped


def test_empty_state_still_shows_the_seats(page, tenant, inside, acct):
    with inside():
        factories.contract(acct, seats=25)
    html = panel(page(Role.VIEWER), tenant, acct)
    assert "No usage recorded for this account in the last 90 days" in section(html, "usage-empty")
    assert "<svg" not in html
    # no usage ever: unknown, not "0.0% · 0 active users"
    assert section(html, "usage-utilization") == (
        "No usage received yet, so how many of the 25 seats on active contracts are used"
        " is unknown (not 0%)."
    )


def test_seats_unused_for_a_while_after_usage_are_zero_percent(page, tenant, inside, acct):
    with inside():
        add_day(acct, 120, events=3, users=1)  # used once, long before the window
        factories.contract(acct, seats=25)
    html = panel(page(Role.VIEWER), tenant, acct)
    assert "No usage recorded for this account in the last 90 days" in section(html, "usage-empty")
    assert section(html, "usage-utilization").startswith("0.0% · 0 active users")


def test_without_an_active_contract_there_is_no_percentage(page, tenant, inside, acct):
    with inside():
        add_day(acct, 2, events=7, users=2)
        factories.contract(acct, seats=40, status="cancelled")
    utilization = section(panel(page(), tenant, acct), "usage-utilization")
    assert utilization == (
        "No active contract, so no seats to measure against. 2 active users in the last 30 days."
    )


def test_account_page_loads_the_panel_lazily_for_every_role(page, tenant, acct):
    for role in Role.values:
        html = page(role).get(url("account", tenant, acct.pk)).content.decode()
        placeholder = re.search(r'<section class="card" id="usage-panel"[^>]*>', html).group(0)
        assert f'hx-get="{url("account_usage", tenant, acct.pk)}"' in placeholder
        assert 'hx-trigger="load"' in placeholder
        assert "<h2>Usage</h2>" in html  # something to see without JavaScript


def test_without_htmx_the_panel_is_a_page_of_its_own(page, tenant, acct):
    response = page(Role.VIEWER).get(url("account_usage", tenant, acct.pk))
    html = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Usage of Initech</h1>" in html and 'id="usage-panel"' in html
    assert "HX-Request" in response["Vary"]  # a cache keeps the page and the fragment apart
    assert "<html" not in panel(page(Role.VIEWER), tenant, acct)


def test_another_tenants_account_is_404(page, tenant, other_tenant):
    with tenant_context(other_tenant):
        theirs = factories.account(name="Globex customer")
    response = page(Role.ADMIN).get(url("account_usage", tenant, theirs.pk), **HTMX)
    assert response.status_code == 404


def test_panel_and_account_page_cost_the_same_queries_for_3_or_30_of_everything(
    page, tenant, inside, acct, django_assert_num_queries
):
    client = page(Role.ADMIN)
    client.get(url("account", tenant, acct.pk))  # the first visit stores the tenant in the session
    added = 0

    def grow_to(n):
        nonlocal added
        with inside():
            for i in range(added, n):
                feature = Feature.objects.create(name=f"F{i}", counts_for_adoption=i % 2 == 0)
                EventName.objects.create(name=f"e{i}", feature=feature if i % 3 else None)
                add_day(acct, i, events=i + 1, users=2)
                add_event(acct, f"e{i}", i)
            factories.contract(acct, seats=n)
        added = n

    for n in (3, 30):
        grow_to(n)
        # 12 for the request (session, user, membership, the tenant context and
        # its savepoints, the account) and the panel's six reads: the daily
        # series, each event's last day, the event names' features, the
        # catalogue, active users and seats
        with django_assert_num_queries(18):
            assert client.get(url("account_usage", tenant, acct.pk), **HTMX).status_code == 200
        # the account page's own reads (and the nav's "My work" count); the
        # usage panel adds none (htmx loads it)
        with django_assert_num_queries(27):
            assert client.get(url("account", tenant, acct.pk)).status_code == 200
