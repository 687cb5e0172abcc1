"""The account page's health card: the score with its working from
hand-built rollups and answers, the missing-measure note, the trend, the
empty state, and setting the CSM sentiment in place."""

from __future__ import annotations

import re

import pytest

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Role
from health import services
from health.models import (
    CsmSentiment,
    HealthProfile,
    HealthScore,
    HealthSnapshot,
    UsageDailyAccount,
    UsageDailyAccountUser,
)
from tests import factories
from tests.pages.conftest import HTMX, ago, tenant_post_forms, text, url

pytestmark = pytest.mark.django_db


def use_profile(measures: dict) -> HealthProfile:
    """One default profile with these measures ({measure: weight}) judges
    every account: the starting profiles are replaced."""
    HealthProfile.objects.filter(is_default=False).delete()
    default = HealthProfile.objects.get(is_default=True)
    bounds = {
        "usage_frequency": (0, 30),
        "license_utilization": (0, 1),
        "nps": (-100, 100),
        "csm_sentiment": (0, 100),
    }
    return services.health_profile_save(
        profile=default,
        name="Everyone",
        is_default=True,
        red_below=40,
        green_from=70,
        measures={
            m: {"weight": w, "bad": bounds[m][0], "good": bounds[m][1]} for m, w in measures.items()
        },
        rescore=False,
    )


@pytest.fixture
def acct(inside):
    """18 active days of the last 30 with 3 distinct users, 10 seats: usage
    frequency 60 points, license utilization 30 points; no NPS, no sentiment."""
    with inside():
        use_profile({"usage_frequency": 50, "license_utilization": 30, "nps": 20})
        acct = factories.account(name="Initech", stage="adoption")
        for day in range(1, 19):
            UsageDailyAccount.objects.create(account=acct, day=ago(day), events=5, active_users=1)
            UsageDailyAccountUser.objects.create(account=acct, day=ago(day), user_id=f"u{day % 3}")
        UsageDailyAccount.objects.create(account=acct, day=ago(45), events=9, active_users=1)
        factories.contract(acct, seats=10)
        factories.contract(acct, seats=90, status="expired")
        services.health_rescore(account_ids=[acct.pk])
    return acct


def card(client, tenant, acct) -> str:
    response = client.get(url("account_health", tenant, acct.pk), **HTMX)
    assert response.status_code == 200
    return response.content.decode()


def test_card_shows_the_score_and_its_working(page, tenant, inside, acct):
    with inside():
        # a week ago: 40 points, 50 of them from usage frequency
        HealthSnapshot.objects.create(
            account=acct,
            day=ago(8),
            reason="daily",
            score=40,
            band="yellow",
            points={"usage_frequency": 50.0, "license_utilization": 30.0},
        )

    html = card(page(Role.VIEWER), tenant, acct)

    # (60 * 50 + 30 * 30) / 80 = 48.75: NPS has no data and is left out
    assert text(html, "health-score") == "49"
    assert text(html, "health-band") == "Yellow"
    assert 'class="badge band-yellow" id="health-band"' in html
    assert text(html, "health-change").startswith("▲ 9 since last week (was 40)")
    assert text(html, "health-profile").startswith(
        "Profile Everyone (red below 40, green from 70) · scored"
    )
    # measure, measured, points, weight, share, contribution, (bar), change
    assert text(html, "measure-usage_frequency") == (
        "Usage frequency 18 of 30 days active 60 50 62.5% 37.5 +10"
    )
    assert text(html, "measure-license_utilization") == (
        "License utilization 3 active users / 10 seats 30 30 37.5% 11.3 0"
    )
    assert text(html, "measure-nps") == "NPS no NPS answers no data — 20 — — —"
    assert 'style="width: 60%"' in html and 'style="width: 30%"' in html  # the bars
    note = text(html, "health-missing")
    assert note.startswith("No data for NPS (no NPS answers): left out of the score")
    assert "other 2 measures re-weighted" in note


def test_nps_answers_in_words_and_no_missing_note_when_all_have_data(page, tenant, inside, acct):
    with inside():
        for n, score in enumerate((9, 10, 9, 7, 8, 3)):
            services.nps_response_record(account=acct, score=score, respondent=f"r{n}")
        services.health_rescore(account_ids=[acct.pk])

    html = card(page(Role.VIEWER), tenant, acct)

    # NPS (3 promoters - 1 detractor) / 6 = 33.3 → 66.7 points of -100..100
    assert text(html, "measure-nps").startswith("NPS NPS 33 from 6 answers 66.7 20 20%")
    assert 'id="health-missing"' not in html
    assert text(html, "health-score") == "52"  # (3000 + 900 + 66.7 * 20) / 100


def test_trend_line_has_a_point_per_day_and_the_band_guides(page, tenant, inside, acct):
    with inside():
        for day, score in ((80, 70), (40, 55), (10, 45), (100, 99)):  # 100 days: too old
            HealthSnapshot.objects.create(
                account=acct, day=ago(day), reason="daily", score=score, band="yellow"
            )
    html = card(page(Role.VIEWER), tenant, acct)
    trend = re.search(r'id="health-trend".*?</figure>', html, re.S).group(0)
    # three old days and today's first score (a band-change snapshot)
    assert trend.count("<circle") == 4
    assert f"{ago(40):%Y-%m-%d}: 55" in trend and f"{ago(100):%Y-%m-%d}" not in trend
    assert trend.count('class="guide"') == 2
    assert "red below 40, green from 70" in trend


def test_seats_but_no_usage_ever_is_left_out_with_the_reason(page, tenant, inside):
    with inside():
        use_profile({"usage_frequency": 50, "license_utilization": 30, "csm_sentiment": 20})
        unused = factories.account(name="Unused", stage="adoption")
        factories.contract(unused, seats=19)
        services.csm_sentiment_set(account=unused, value="yellow", comment="Quiet", actor=None)
        bare = factories.account(name="Bare", stage="adoption")
        factories.contract(bare, seats=19)
        services.health_rescore(account_ids=[unused.pk, bare.pk])

    html = card(page(Role.VIEWER), tenant, unused)
    assert text(html, "health-score") == "50"  # sentiment alone, not 0 of 19 seats
    assert text(html, "health-band") == "Yellow"
    assert text(html, "measure-license_utilization") == (
        "License utilization no usage received yet, 19 seats no data — 30 — — —"
    )
    assert text(html, "health-missing").startswith(
        "No data for Usage frequency (no usage received yet), "
        "License utilization (no usage received yet, 19 seats): left out of the score"
    )

    html = card(page(Role.VIEWER), tenant, bare)
    assert text(html, "health-score") == "\N{EN DASH}" and text(html, "health-band") == "No data"
    assert "no measure of the profile has data yet, so there is no score" in text(
        html, "health-missing"
    )


def test_not_scored_yet(page, tenant, inside):
    with inside():
        fresh = factories.account(name="Fresh")
    html = card(page(Role.VIEWER), tenant, fresh)
    assert text(html, "health-empty").startswith("Not scored yet.")
    assert 'id="health-breakdown"' not in html


def test_account_page_loads_the_card_lazily_before_usage_for_every_role(page, tenant, acct):
    for role in Role.values:
        html = page(role).get(url("account", tenant, acct.pk)).content.decode()
        placeholder = re.search(r'<section class="card" id="health-card"[^>]*>', html).group(0)
        assert f'hx-get="{url("account_health", tenant, acct.pk)}"' in placeholder
        assert html.index('id="health-card"') < html.index('id="usage-panel"')


def test_without_htmx_the_card_is_a_page_of_its_own(page, tenant, acct):
    response = page(Role.VIEWER).get(url("account_health", tenant, acct.pk))
    assert response.status_code == 200
    assert "<h1>Health of Initech</h1>" in response.content.decode()
    assert "HX-Request" in response["Vary"]


def test_csm_sets_the_sentiment_in_place_and_the_score_counts_it(page, tenant, inside, acct):
    with inside():
        use_profile(
            {"usage_frequency": 50, "license_utilization": 30, "nps": 20, "csm_sentiment": 20}
        )
        services.health_rescore(account_ids=[acct.pk])
    client = page(Role.CSM)
    assert url("account_health_sentiment", tenant, acct.pk) in tenant_post_forms(
        card(client, tenant, acct), tenant
    )

    response = client.post(
        url("account_health_sentiment", tenant, acct.pk),
        {"value": "red", "comment": "Champion left in March"},
        **HTMX,
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert html.lstrip().startswith('<section class="card" id="health-card"')
    assert text(html, "health-sentiment").startswith("Red Champion left in March")
    # (3000 + 900 + 0 * 20) / 100 = 39: red at once, not after the next re-score
    assert text(html, "health-score") == "39"
    assert text(html, "health-band") == "Red"
    assert text(html, "measure-csm_sentiment").startswith(
        "CSM sentiment Red: Champion left in March 0 20"
    )
    with inside():
        assert CsmSentiment.objects.get(account=acct).value == "red"
        assert HealthScore.objects.get(account=acct).band == "red"


def test_sentiment_without_a_comment_is_422_and_stores_nothing(page, tenant, inside, acct):
    response = page(Role.CSM).post(
        url("account_health_sentiment", tenant, acct.pk), {"value": "green", "comment": " "}, **HTMX
    )
    html = response.content.decode()
    assert response.status_code == 422
    assert re.search(r'id="sentiment_comment_error">.*Say why', html, re.S)
    bad_value = page(Role.CSM).post(
        url("account_health_sentiment", tenant, acct.pk), {"value": "", "comment": "ok"}, **HTMX
    )
    assert bad_value.status_code == 422
    assert 'id="sentiment_value_error"' in bad_value.content.decode()
    with inside():
        assert not CsmSentiment.objects.exists()


def test_viewer_reads_the_card_but_cannot_set_sentiment(page, tenant, inside, acct):
    viewer = page(Role.VIEWER)
    assert tenant_post_forms(card(viewer, tenant, acct), tenant) == []
    response = viewer.post(
        url("account_health_sentiment", tenant, acct.pk), {"value": "green", "comment": "Fine"}
    )
    assert response.status_code == 403
    with inside():
        assert not CsmSentiment.objects.exists()


def test_another_tenants_account_is_404(page, tenant, other_tenant):
    with tenant_context(other_tenant):
        theirs = factories.account(name="Globex customer")
    admin = page(Role.ADMIN)
    assert admin.get(url("account_health", tenant, theirs.pk), **HTMX).status_code == 404
    response = admin.post(
        url("account_health_sentiment", tenant, theirs.pk), {"value": "red", "comment": "x"}
    )
    assert response.status_code == 404


def test_card_costs_the_same_queries_for_3_or_30_days_of_history(
    page, tenant, inside, acct, django_assert_num_queries
):
    client = page(Role.VIEWER)
    client.get(url("account", tenant, acct.pk))  # the first visit stores the tenant in the session
    added = 0
    for n in (3, 30):
        with inside():
            for day in range(added + 1, n + 1):
                HealthSnapshot.objects.create(
                    account=acct, day=ago(day), reason="daily", score=50, band="yellow"
                )
        added = n
        # the request's own reads, then the score card (score, week-ago
        # snapshot), thresholds, history and the latest sentiment
        with django_assert_num_queries(17):
            assert client.get(url("account_health", tenant, acct.pk), **HTMX).status_code == 200
