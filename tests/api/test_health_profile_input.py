"""Health profile input over the API: whatever a measure line holds, the
answer is a 400 naming the field by measure (`measures.nps.good`), never a
500, and nothing is stored; a profile left out of scoring says why."""

from __future__ import annotations

import pytest

from csplatform.tenancy.context import tenant_context
from health.models import HealthProfile, ProfileMeasure
from lifecycle.models import Segment
from lifecycle.services import segment_save
from tests.errors import error_fields

pytestmark = pytest.mark.django_db

PROFILES = "/api/v1/health/profiles/"
NPS = {"measure": "nps", "weight": 5, "bad": 0, "good": 50}


def body(*lines, **fields) -> dict:
    return {"name": "X", "stage": "usage", "measures": list(lines), **fields}


def without(line: dict, key: str) -> dict:
    return {k: v for k, v in line.items() if k != key}


def assert_refused(tenant, res, path: str) -> None:
    assert res.status_code == 400, res.content
    with tenant_context(tenant):
        assert not HealthProfile.objects.filter(name="X").exists()
        assert HealthProfile.objects.count() == 2  # the starting profiles
    assert path in error_fields(res), res.json()


@pytest.mark.parametrize(
    ("sent", "path"),
    [
        (body(without(NPS, "good")), "measures.nps.good"),
        (body(without(NPS, "bad")), "measures.nps.bad"),
        (body({**NPS, "good": "NaN"}), "measures.nps.good"),
        (body({**NPS, "bad": "a lot"}), "measures.nps.bad"),
        (body({**NPS, "good": 1e10}), "measures.nps.good"),
        (body({**NPS, "bad": 50}), "measures.nps.good"),
        (body({**NPS, "weight": 0}), "measures.nps.weight"),
        (body({**NPS, "weight": 101}), "measures.nps.weight"),
        (body({**NPS, "weight": "heavy"}), "measures.nps.weight"),
        (body({**NPS, "measure": "login_frequency"}), "measures.login_frequency.measure"),
        (body(NPS, NPS), "measures.nps.measure"),
        (body(), "measures"),
        (body(NPS, position=40000), "position"),
        (body(NPS, red_below=101), "red_below"),
        (body(NPS, segment=999999), "segment"),
    ],
)
def test_bad_measure_lines_are_400_by_field(tenant, leader_api, sent, path):
    assert_refused(tenant, leader_api.post(PROFILES, sent, format="json"), path)


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        # JSON numbers past a float: the parser refuses infinity by position
        ('{"measure": "nps", "weight": 5, "bad": 0, "good": 1e999999}', "measures.0.good"),
        ('{"measure": "nps", "weight": 1e999999, "bad": 0, "good": 1}', "measures.0.weight"),
        # a lone surrogate in the name: refused by position, never echoed
        ('{"measure": "\\ud800", "weight": 5, "bad": 0, "good": 1}', "measures.0.measure"),
    ],
)
def test_what_json_decodes_but_python_cannot_use_is_400_by_field(tenant, leader_api, raw, path):
    sent = '{"name": "X", "stage": "usage", "measures": [' + raw + "]}"
    res = leader_api.post(PROFILES, sent, content_type="application/json")
    assert "\\ud800" not in res.content.decode()
    assert_refused(tenant, res, path)


def test_an_edit_with_a_partial_measure_line_is_400_not_500(tenant, leader_api):
    with tenant_context(tenant):
        default = HealthProfile.objects.get(is_default=True)
        lines_before = sorted(ProfileMeasure.objects.filter(profile=default).values_list("id"))
    url = f"{PROFILES}{default.pk}/"
    patch = leader_api.patch(url, {"measures": [without(NPS, "bad")]}, format="json")
    assert patch.status_code == 400, patch.content
    assert "measures.nps.bad" in error_fields(patch)
    put = leader_api.put(url, body(without(NPS, "good"), is_default=True, stage=""), "json")
    assert put.status_code == 400, put.content
    assert "measures.nps.good" in error_fields(put)
    with tenant_context(tenant):
        assert sorted(ProfileMeasure.objects.filter(profile=default).values_list("id")) == (
            lines_before
        )


def test_another_tenants_segment_is_400_by_field(tenant, other_tenant, leader_api):
    with tenant_context(other_tenant):
        theirs = segment_save(name="Theirs", filters={"tier": ["smb"]})
    res = leader_api.post(PROFILES, body(NPS, segment=theirs.pk), format="json")
    assert_refused(tenant, res, "segment")


def test_a_profile_left_out_of_scoring_says_why(tenant, leader_api, viewer_api):
    with tenant_context(tenant):
        segment = segment_save(name="Strategic", filters={"tier": ["strategic"]})
    res = leader_api.post(
        PROFILES, body(NPS, stage="", segment=segment.pk, name="Strategic"), format="json"
    )
    assert res.status_code == 201, res.content
    assert (res.json()["last_error"], res.json()["last_error_at"]) == ("", None)
    with tenant_context(tenant):
        Segment.objects.filter(pk=segment.pk).update(filters={"arr_min": "1e999999"})
    # any re-score notices: here, another profile's edit
    default_id = next(
        p["id"] for p in viewer_api.get(PROFILES).json()["results"] if p["is_default"]
    )
    edit = leader_api.patch(f"{PROFILES}{default_id}/", {"green_from": 75}, format="json")
    assert edit.status_code == 200, edit.content
    shown = viewer_api.get(f"{PROFILES}{res.json()['id']}/").json()
    assert "“Strategic”" in shown["last_error"] and shown["last_error_at"]
