"""Health scores over the API: the score card with its working, history, CSM
sentiment and the list of current scores."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Role
from health.models import CsmSentiment, HealthProfile
from health.services import (
    csm_sentiment_set,
    health_rescore_pending,
    health_snapshots_take,
    nps_response_record,
)
from lifecycle import services as lifecycle_services
from tests import factories
from tests.api.conftest import key_client, session_client
from tests.api.health_data import judged_account, rescore
from tests.conftest import make_user
from tests.errors import error_fields

pytestmark = pytest.mark.django_db


def health_url(account) -> str:
    return f"/api/v1/accounts/{account.pk}/health/"


def test_score_card_shows_the_score_and_its_working(tenant, viewer_api):
    with tenant_context(tenant):
        acct = judged_account(nps=10, sentiment="yellow")
        rescore()
    res = viewer_api.get(health_url(acct))
    assert res.status_code == 200, res.content
    card = res.json()
    assert card["account"] == acct.pk
    assert (card["score"], card["band"], card["profile"]) == (90, "green", "Default")
    assert card["score_week_ago"] is None and card["change_since_last_week"] is None
    # usage, breadth, trend, seats, engagement and outcomes have no data: left out
    assert card["reweighted"] is True
    assert "Usage frequency" in card["missing"] and "NPS" not in card["missing"]
    lines = {line["measure"]: line for line in card["breakdown"]}
    assert len(lines) == 9  # every measure of the Default profile, missing ones too
    nps = lines["nps"]
    assert (nps["raw"], nps["points"], nps["weight"], nps["missing"]) == (100, 100, 10, False)
    assert nps["share"] == 40.0 and nps["contribution"] == 40.0
    assert nps["inputs"] == {"responses": 1, "promoters": 1, "detractors": 0}
    assert nps["label"] == "NPS" and nps["unit"]
    sentiment = lines["csm_sentiment"]
    assert (sentiment["points"], sentiment["share"], sentiment["contribution"]) == (50, 20, 10)
    assert sentiment["inputs"]["value"] == "yellow"
    usage = lines["usage_frequency"]
    assert usage["missing"] is True
    assert usage["points"] is None and usage["contribution"] is None
    assert usage["measured"] == "no usage received yet"  # why it is left out
    assert nps["measured"] == "NPS 100 from 1 answer"
    assert sum(line["contribution"] or 0 for line in card["breakdown"]) == 90


def test_score_card_says_what_changed_since_last_week(tenant, api):
    with tenant_context(tenant):
        acct = judged_account(nps=10, sentiment="yellow")
        rescore()
        health_snapshots_take(day=timezone.now().date() - timedelta(days=8))
        csm_sentiment_set(account=acct, value="red", comment="champion left", actor=None)
        rescore()
    card = api.get(health_url(acct)).json()
    assert (card["score"], card["score_week_ago"], card["change_since_last_week"]) == (80, 90, -10)
    lines = {line["measure"]: line for line in card["breakdown"]}
    assert lines["csm_sentiment"]["change_since_last_week"] == -50
    assert lines["nps"]["change_since_last_week"] == 0
    assert lines["usage_frequency"]["change_since_last_week"] is None


def test_score_card_404s_before_the_first_score_and_for_other_tenants(tenant, api, other_api):
    with tenant_context(tenant):
        scored = judged_account()
        rescore()
        unscored = factories.account()  # created since the last re-score
    res = api.get(health_url(unscored))
    assert res.status_code == 404
    assert res.json() == {"detail": "This account has not been scored yet.", "code": "not_scored"}
    # another tenant's account reads like one that does not exist
    for url in (health_url(scored), health_url(scored) + "history/"):
        theirs = other_api.get(url)
        assert theirs.status_code == 404
        assert theirs.json().get("code") != "not_scored"
    assert other_api.get(f"/api/v1/accounts/{scored.pk}/sentiment/").status_code == 404


def test_history_gives_one_point_per_day_within_the_days_asked(tenant, api):
    today = timezone.now().date()
    with tenant_context(tenant):
        acct = judged_account(nps=0, sentiment="red")
        rescore()  # (0 + 1000 + 0) / 25 = 40, yellow: a band-change snapshot today
        health_snapshots_take(day=today - timedelta(days=8))
        # a promoter too: NPS 0 -> 37.5 points; (375 + 1000 + 500) / 25 = 75, green
        nps_response_record(account=acct, score=10, respondent="fan@x.test")
        csm_sentiment_set(account=acct, value="green", comment="renewed", actor=None)
        rescore()  # a second band-change snapshot today: the day's last wins
    url = health_url(acct) + "history/"
    assert api.get(url).json() == [
        {"day": str(today - timedelta(days=8)), "score": 40, "band": "yellow"},
        {"day": str(today), "score": 75, "band": "green"},
    ]
    assert api.get(url + "?days=7").json() == [{"day": str(today), "score": 75, "band": "green"}]
    for bad in ("0", "366", "abc"):
        res = api.get(f"{url}?days={bad}")
        assert res.status_code == 400 and "days" in error_fields(res), bad


def test_history_is_documented_as_the_array_it_returns():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    ok = schema["paths"]["/api/v1/accounts/{id}/health/history/"]["get"]["responses"]["200"]
    body = ok["content"]["application/json"]["schema"]
    assert body["type"] == "array" and body["items"]["$ref"].endswith("/HistoryPointOutput")


def test_csm_sets_sentiment_and_the_score_follows(tenant, users):
    with tenant_context(tenant):
        acct = judged_account(nps=10, sentiment=None)
        rescore()
    csm = users[Role.CSM]
    client = session_client(csm, tenant)
    url = f"/api/v1/accounts/{acct.pk}/sentiment/"
    res = client.post(url, {"value": "red", "comment": "Budget cuts"}, format="json")
    assert res.status_code == 201, res.content
    body = res.json()
    assert (body["value"], body["comment"], body["set_by"]["id"]) == ("red", "Budget cuts", csm.pk)
    listed = client.get(url).json()
    assert [row["value"] for row in listed["results"]] == ["red"]
    health_rescore_pending(tenant=tenant)  # what the worker does a few seconds later
    card = client.get(health_url(acct)).json()
    lines = {line["measure"]: line for line in card["breakdown"]}
    assert lines["csm_sentiment"]["points"] == 0 and card["score"] == 80


def test_sentiment_needs_a_csm_a_comment_and_a_known_value(tenant, api, viewer_api):
    with tenant_context(tenant):
        acct = factories.account()
    url = f"/api/v1/accounts/{acct.pk}/sentiment/"
    assert viewer_api.post(url, {"value": "red", "comment": "x"}, format="json").status_code == 403
    missing = api.post(url, {"value": "red"}, format="json")
    assert missing.status_code == 400 and "comment" in error_fields(missing)
    blank = api.post(url, {"value": "red", "comment": "   "}, format="json")
    assert blank.status_code == 400 and "comment" in error_fields(blank)
    wrong = api.post(url, {"value": "purple", "comment": "x"}, format="json")
    assert wrong.status_code == 400 and "value" in error_fields(wrong)
    with tenant_context(tenant):
        assert not CsmSentiment.objects.exists()
    assert viewer_api.get(url).json()["count"] == 0


def _scores(client, query="") -> list[tuple[str, int, str]]:
    res = client.get(f"/api/v1/health/scores/{query}")
    assert res.status_code == 200, res.content
    return [(row["account"]["name"], row["score"], row["band"]) for row in res.json()["results"]]


def test_score_list_filters_by_band_profile_owner_and_segment(tenant, other_tenant, viewer_api):
    with tenant_context(tenant):
        ann = make_user(tenant, Role.CSM)
        bob = make_user(tenant, Role.CSM)
        judged_account(name="A green", sentiment="green", owner=ann, tier="strategic")
        judged_account(name="B yellow", nps=5, sentiment="green", owner=bob)
        judged_account(name="C red", nps=0, sentiment="red", owner=ann)
        judged_account(name="D onboarding", stage="onboarding", sentiment="yellow")
        segment = lifecycle_services.segment_save(name="Strategic", filters={"tier": ["strategic"]})
        rescore()
        onboarding_profile = HealthProfile.objects.get(name="Onboarding")
    with tenant_context(other_tenant):
        judged_account(name="Theirs")
        rescore()
    # NPS 5: one detractor -> NPS -100 -> 0 points: (0 + 1000 + 500) / 25 = 60, yellow
    # NPS 0 + red: (0 + 1000 + 0) / 25 = 40, yellow; the onboarding profile judges D
    # on sentiment alone: 50, yellow
    assert _scores(viewer_api) == [
        ("C red", 40, "yellow"),
        ("D onboarding", 50, "yellow"),
        ("B yellow", 60, "yellow"),
        ("A green", 100, "green"),
    ]
    assert _scores(viewer_api, "?ordering=-score")[0] == ("A green", 100, "green")
    assert _scores(viewer_api, "?band=green") == [("A green", 100, "green")]
    assert [n for n, *_ in _scores(viewer_api, f"?owner={ann.pk}")] == ["C red", "A green"]
    assert [n for n, *_ in _scores(viewer_api, f"?segment={segment.pk}")] == ["A green"]
    assert [n for n, *_ in _scores(viewer_api, f"?profile={onboarding_profile.pk}")] == [
        "D onboarding"
    ]
    row = viewer_api.get("/api/v1/health/scores/?band=green").json()["results"][0]
    assert row["account"]["owner"] == {"id": ann.pk, "email": ann.email}
    assert row["profile"]["name"] == "Default" and row["scored_at"]


def test_score_list_refuses_bad_filters_and_other_tenants_ids(tenant, other_tenant, api):
    with tenant_context(other_tenant):
        their_segment = lifecycle_services.segment_save(name="Theirs", filters={"tier": ["smb"]})
        their_profile = HealthProfile.objects.get(is_default=True)
    for query, field in (
        ("?band=purple", "band"),
        (f"?segment={their_segment.pk}", "segment"),
        (f"?profile={their_profile.pk}", "profile"),
        ("?owner=999999", "owner"),
        ("?ordering=name", "ordering"),
    ):
        res = api.get(f"/api/v1/health/scores/{query}")
        assert res.status_code == 400 and field in error_fields(res), query


def test_the_schema_validates_without_warnings(tmp_path):
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml")
    )
    text = (tmp_path / "schema.yml").read_text()
    for path in (
        "/api/v1/accounts/{id}/health/:",
        "/api/v1/accounts/{id}/health/history/:",
        "/api/v1/accounts/{id}/sentiment/:",
        "/api/v1/health/scores/:",
        "/api/v1/health/profiles/{id}/:",
        "/api/v1/health/profiles/preview/:",
        "/api/v1/health/settings/:",
        "/api/v1/nps/:",
    ):
        assert path in text


def test_another_key_role_cannot_reach_other_tenants_scores(tenant, other_tenant):
    with tenant_context(tenant):
        judged_account()
        rescore()
    theirs = key_client(other_tenant, Role.ADMIN)
    assert theirs.get("/api/v1/health/scores/").json()["count"] == 0
