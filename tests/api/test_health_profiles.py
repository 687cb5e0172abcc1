"""Health profiles over the API: leaders edit them, every edit re-scores the
tenant, a preview counts band moves and stores nothing; health settings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Role
from health.models import HealthProfile, HealthScore, HealthSettings, ProfileMeasure
from health.services import nps_response_record
from lifecycle import services as lifecycle_services
from tests.api.conftest import key_client
from tests.api.health_data import judged_account, rescore
from tests.errors import error_fields, has_field

pytestmark = pytest.mark.django_db

PROFILES = "/api/v1/health/profiles/"
SENTIMENT_ONLY = [{"measure": "csm_sentiment", "weight": 10, "bad": 0, "good": 100}]


@pytest.fixture
def admin_api(tenant):
    return key_client(tenant, Role.ADMIN)


def default_profile(tenant) -> HealthProfile:
    with tenant_context(tenant):
        return HealthProfile.objects.get(is_default=True)


def card(client, account) -> dict:
    res = client.get(f"/api/v1/accounts/{account.pk}/health/")
    assert res.status_code == 200, res.content
    return res.json()


def test_profiles_are_listed_in_the_order_tried_with_their_measures(tenant, viewer_api):
    res = viewer_api.get(PROFILES)
    assert res.status_code == 200
    rows = res.json()["results"]
    assert [(p["name"], p["stage"], p["is_default"]) for p in rows] == [
        ("Onboarding", "onboarding", False),
        ("Default", "", True),
    ]
    default = rows[1]
    assert (default["red_below"], default["green_from"], default["segment"]) == (40, 70, None)
    weights = {m["measure"]: m["weight"] for m in default["measures"]}
    assert weights["usage_frequency"] == 20 and weights["nps"] == 10 and len(weights) == 9
    nps = next(m for m in default["measures"] if m["measure"] == "nps")
    assert (nps["label"], nps["bad"], nps["good"]) == ("NPS", -30, 50)
    one = viewer_api.get(f"{PROFILES}{default['id']}/").json()
    assert one == default


def test_editing_a_profile_rescores_and_the_band_change_shows(tenant, leader_api, api):
    with tenant_context(tenant):
        acct = judged_account(nps=10, sentiment="yellow")
        rescore()
    assert (card(api, acct)["score"], card(api, acct)["band"]) == (90, "green")
    default = default_profile(tenant)
    res = leader_api.patch(
        f"{PROFILES}{default.pk}/", {"measures": SENTIMENT_ONLY, "green_from": 75}, format="json"
    )
    assert res.status_code == 200, res.content
    body = res.json()
    assert [m["measure"] for m in body["measures"]] == ["csm_sentiment"]
    assert (body["name"], body["is_default"], body["green_from"]) == ("Default", True, 75)
    after = card(api, acct)
    assert (after["score"], after["band"], after["profile"]) == (50, "yellow", "Default")
    assert [line["measure"] for line in after["breakdown"]] == ["csm_sentiment"]
    # PUT replaces: a whole profile, thresholds back to their defaults where left out
    put = leader_api.put(
        f"{PROFILES}{default.pk}/",
        {"name": "Everyone", "is_default": True, "measures": SENTIMENT_ONLY, "red_below": 60},
        format="json",
    )
    assert put.status_code == 200, put.content
    assert (put.json()["name"], put.json()["red_below"]) == ("Everyone", 60)
    assert card(api, acct)["band"] == "red"


def test_a_segment_profile_takes_its_accounts_and_deleting_it_gives_them_back(
    tenant, leader_api, api
):
    with tenant_context(tenant):
        strategic = judged_account(nps=10, sentiment="yellow", tier="strategic")
        other = judged_account(nps=10, sentiment="yellow", tier="smb")
        segment = lifecycle_services.segment_save(name="Strategic", filters={"tier": ["strategic"]})
        rescore()
    res = leader_api.post(
        PROFILES,
        {
            "name": "Strategic accounts",
            "segment": segment.pk,
            "position": 5,
            "measures": SENTIMENT_ONLY,
            "red_below": 60,
            "green_from": 80,
        },
        format="json",
    )
    assert res.status_code == 201, res.content
    created = res.json()
    assert (created["segment"], created["position"], created["is_default"]) == (
        segment.pk,
        5,
        False,
    )
    assert (card(api, strategic)["profile"], card(api, strategic)["band"]) == (
        "Strategic accounts",
        "red",
    )
    assert (card(api, other)["profile"], card(api, other)["score"]) == ("Default", 90)

    deleted = leader_api.delete(f"{PROFILES}{created['id']}/")
    assert deleted.status_code == 204
    assert (card(api, strategic)["profile"], card(api, strategic)["band"]) == ("Default", "green")
    assert leader_api.get(f"{PROFILES}{created['id']}/").status_code == 404


def test_the_default_profile_cannot_be_deleted_or_stop_being_the_default(tenant, admin_api):
    default = default_profile(tenant)
    res = admin_api.delete(f"{PROFILES}{default.pk}/")
    assert res.status_code == 400
    assert "default" in error_fields(res)["profile"][0]
    unset = admin_api.patch(f"{PROFILES}{default.pk}/", {"is_default": False}, format="json")
    assert unset.status_code == 400 and "is_default" in error_fields(unset)
    with tenant_context(tenant):
        assert HealthProfile.objects.filter(pk=default.pk, is_default=True).exists()


def test_there_is_exactly_one_default_profile(tenant, leader_api):
    old = default_profile(tenant)
    res = leader_api.post(
        PROFILES, {"name": "New default", "is_default": True, "measures": SENTIMENT_ONLY}, "json"
    )
    assert res.status_code == 400
    assert "is the default profile" in error_fields(res)["is_default"][0]
    # and a profile that says neither stage nor segment would take every account
    catch_all = leader_api.post(PROFILES, {"name": "Everyone", "measures": SENTIMENT_ONLY}, "json")
    assert catch_all.status_code == 400 and "stage" in error_fields(catch_all)
    with tenant_context(tenant):
        assert HealthProfile.objects.get(is_default=True).pk == old.pk
        assert not HealthProfile.objects.filter(name__in=["New default", "Everyone"]).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"measures": SENTIMENT_ONLY}, "name"),
        ({"name": "X"}, "measures"),
        ({"name": "X", "measures": []}, "measures"),
        (
            {"name": "X", "measures": SENTIMENT_ONLY, "red_below": 80, "green_from": 70},
            "green_from",
        ),
        ({"name": "X", "measures": SENTIMENT_ONLY, "stage": "teenage"}, "stage"),
        ({"name": "X", "measures": SENTIMENT_ONLY, "is_default": True, "stage": "usage"}, "stage"),
        ({"name": "Default", "measures": SENTIMENT_ONLY}, "name"),
    ],
)
def test_bad_profiles_are_400_naming_the_field_and_store_nothing(tenant, leader_api, body, field):
    res = leader_api.post(PROFILES, body, format="json")
    assert res.status_code == 400, res.content
    assert has_field(res, field), error_fields(res)
    with tenant_context(tenant):
        assert HealthProfile.objects.count() == 2
        assert not HealthProfile.objects.filter(name="X").exists()


def test_another_tenants_segment_and_profiles_are_out_of_reach(
    tenant, other_tenant, leader_api, other_api
):
    with tenant_context(other_tenant):
        theirs = lifecycle_services.segment_save(name="Theirs", filters={"tier": ["smb"]})
    res = leader_api.post(
        PROFILES, {"name": "X", "segment": theirs.pk, "measures": SENTIMENT_ONLY}, format="json"
    )
    assert res.status_code == 400 and "segment" in error_fields(res)
    ours = default_profile(tenant)
    url = f"{PROFILES}{ours.pk}/"
    assert other_api.get(url).status_code == 404
    assert other_api.patch(url, {"name": "Hijacked"}, format="json").status_code == 404
    assert other_api.delete(url).status_code == 404
    assert ours.pk not in [p["id"] for p in other_api.get(PROFILES).json()["results"]]
    preview = other_api.post(
        f"{PROFILES}preview/", {"id": ours.pk, "measures": SENTIMENT_ONLY}, format="json"
    )
    assert preview.status_code == 400 and "id" in error_fields(preview)
    with tenant_context(tenant):
        assert HealthProfile.objects.get(pk=ours.pk).name == "Default"


def test_only_leaders_and_admins_edit_profiles(tenant, api, viewer_api):
    default = default_profile(tenant)
    url = f"{PROFILES}{default.pk}/"
    for client in (api, viewer_api):
        assert client.get(url).status_code == 200
        assert client.patch(url, {"green_from": 90}, format="json").status_code == 403
        assert client.delete(url).status_code == 403
        body = {"name": "Mine", "measures": SENTIMENT_ONLY}
        assert client.post(PROFILES, body, format="json").status_code == 403
        assert client.post(f"{PROFILES}preview/", body, format="json").status_code == 403
    with tenant_context(tenant):
        assert HealthProfile.objects.get(pk=default.pk).green_from == 70
        assert HealthProfile.objects.count() == 2


def test_preview_counts_band_moves_and_stores_nothing(tenant, leader_api, api):
    with tenant_context(tenant):
        # 90 green twice, and 60 yellow (a detractor: NPS -100, 0 points)
        moving = [judged_account(nps=10, sentiment="yellow") for _ in range(2)]
        judged_account(nps=5, sentiment="green")
        rescore()
        scores_before = sorted(HealthScore.objects.values_list("account_id", "score", "band"))
    default = default_profile(tenant)
    # judged on sentiment alone: yellow 50 (green -> yellow), green 100 (yellow -> green)
    res = leader_api.post(
        f"{PROFILES}preview/", {"id": default.pk, "measures": SENTIMENT_ONLY}, format="json"
    )
    assert res.status_code == 200, res.content
    assert res.json() == {
        "moves": [
            {"from": "yellow", "to": "green", "accounts": 1},
            {"from": "green", "to": "yellow", "accounts": 2},
        ]
    }
    # a new profile (no id) is previewed from its whole body
    new = leader_api.post(
        f"{PROFILES}preview/",
        {
            "name": "Strict",
            "stage": "adoption",
            "position": 1,
            "measures": SENTIMENT_ONLY,
            "red_below": 55,
        },
        format="json",
    )
    assert new.json() == {
        "moves": [
            {"from": "yellow", "to": "green", "accounts": 1},
            {"from": "green", "to": "red", "accounts": 2},
        ]
    }
    with tenant_context(tenant):
        assert sorted(HealthScore.objects.values_list("account_id", "score", "band")) == (
            scores_before
        )
        assert HealthProfile.objects.count() == 2 and HealthProfile.objects.get(is_default=True)
        assert ProfileMeasure.objects.filter(profile=default).count() == 9
        assert not HealthProfile.objects.filter(name="Strict").exists()
    assert card(api, moving[0])["band"] == "green"
    bad = leader_api.post(
        f"{PROFILES}preview/", {"name": "Y", "measures": SENTIMENT_ONLY, "red_below": 90}, "json"
    )
    assert bad.status_code == 400 and "green_from" in error_fields(bad)


SETTINGS = "/api/v1/health/settings/"


def test_leaders_read_settings_and_admins_change_them(tenant, leader_api, viewer_api, admin_api):
    res = leader_api.get(SETTINGS)
    assert res.status_code == 200
    assert res.json() == {
        "support_event_name": "ticket_created",
        "engagement_kinds": ["note", "meeting_logged", "call_logged", "task_completed"],
        "nps_window_days": 180,
        "renewal_horizon_days": 180,
        "outcome_due_days": 30,
    }
    assert viewer_api.get(SETTINGS).status_code == 403
    assert leader_api.patch(SETTINGS, {"nps_window_days": 30}, format="json").status_code == 403
    changed = admin_api.patch(
        SETTINGS,
        {"support_event_name": "ticket_opened", "engagement_kinds": ["note", "stage_changed"]},
        format="json",
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["support_event_name"] == "ticket_opened"
    assert changed.json()["engagement_kinds"] == ["note", "stage_changed"]
    assert changed.json()["nps_window_days"] == 180  # left out: unchanged
    with tenant_context(tenant):
        assert HealthSettings.objects.get().support_event_name == "ticket_opened"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"engagement_kinds": ["note", "telepathy"]}, "engagement_kinds"),
        ({"engagement_kinds": "note"}, "engagement_kinds"),
        ({"nps_window_days": 0}, "nps_window_days"),
        ({"renewal_horizon_days": "soon"}, "renewal_horizon_days"),
        ({"outcome_due_days": 5000}, "outcome_due_days"),
        ({"support_event_name": ""}, "support_event_name"),
    ],
)
def test_bad_settings_are_400_naming_the_field(tenant, admin_api, body, field):
    admin_api.get(SETTINGS)  # the settings row exists
    res = admin_api.patch(SETTINGS, {"nps_window_days": 90, **body}, format="json")
    assert res.status_code == 400 and has_field(res, field), error_fields(res)
    with tenant_context(tenant):
        assert HealthSettings.objects.get().nps_window_days == 180  # nothing stored


def test_changing_settings_rescores_and_stays_within_the_tenant(tenant, admin_api, other_api, api):
    with tenant_context(tenant):
        acct = judged_account(nps=None, sentiment="yellow")
        nps_response_record(
            account=acct,
            score=10,
            respondent="old@x.test",
            responded_at=timezone.now() - timedelta(days=100),
        )
        rescore()
    assert card(api, acct)["score"] == 90  # the 100-day-old answer counts within 180 days
    assert other_api.patch(SETTINGS, {"nps_window_days": 30}, format="json").status_code == 200
    assert card(api, acct)["score"] == 90  # another tenant's settings change nothing here
    assert admin_api.get(SETTINGS).json()["nps_window_days"] == 180
    res = admin_api.patch(SETTINGS, {"nps_window_days": 30}, format="json")
    assert res.status_code == 200
    after = card(api, acct)
    # NPS now missing: (1000 + 250) / 15 = 83
    assert (after["score"], "NPS" in after["missing"]) == (83, True)
