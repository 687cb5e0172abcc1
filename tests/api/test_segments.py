"""Segments: leaders save filters over accounts; everyone reads them."""

from __future__ import annotations

import pytest

from lifecycle import services
from lifecycle.models import Segment
from tests import factories
from tests.errors import error_fields, has_field

pytestmark = pytest.mark.django_db

URL = "/api/v1/segments/"


def test_leader_creates_updates_and_lists_segments(leader_api, api, inside):
    res = leader_api.post(
        URL,
        {"name": "Strategic", "description": "Top", "filters": {"tier": ["strategic"]}},
        format="json",
    )
    assert res.status_code == 201, res.json()
    seg_id = res.json()["id"]
    assert res.json()["filters"] == {"tier": ["strategic"]}

    res = leader_api.patch(f"{URL}{seg_id}/", {"description": "Largest"}, format="json")
    assert res.status_code == 200
    assert res.json()["filters"] == {"tier": ["strategic"]}  # PATCH keeps the rest
    res = leader_api.put(
        f"{URL}{seg_id}/", {"name": "Strategic EMEA", "filters": {"stage": "usage"}}, format="json"
    )
    assert res.status_code == 200, res.json()
    assert res.json()["filters"] == {"stage": ["usage"]}

    listed = api.get(URL).json()  # a csm reads them
    assert [s["name"] for s in listed["results"]] == ["Strategic EMEA"]
    assert api.get(f"{URL}{seg_id}/").json()["name"] == "Strategic EMEA"
    with inside():
        assert Segment.objects.get(pk=seg_id).filters == {"stage": ["usage"]}


def test_csm_cannot_write_segments(api, inside):
    with inside():
        seg = services.segment_save(name="S", filters={"escalated": True})
    assert (
        api.post(URL, {"name": "Mine", "filters": {"tier": "smb"}}, format="json").status_code
        == 403
    )
    assert api.patch(f"{URL}{seg.pk}/", {"name": "Mine"}, format="json").status_code == 403
    with inside():
        assert list(Segment.objects.values_list("name", flat=True)) == ["S"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"filters": {"tier": "smb"}}, "name"),
        ({"name": "", "filters": {"tier": "smb"}}, "name"),
        ({"name": "Dup", "filters": {"tier": "smb"}}, "name"),
        ({"name": "X"}, "filters"),
        ({"name": "X", "filters": {}}, "filters"),
        ({"name": "X", "filters": {"stage": ["limbo"]}}, "filters"),
        ({"name": "X", "filters": {"colour": "red"}}, "filters"),
        ({"name": "X", "filters": ["tier"]}, "filters"),
        ({"name": "X", "filters": {"renewal_within_days": -1}}, "filters"),
        ({"name": "X", "filters": {"industry": ["nul\x00"]}}, "filters"),
    ],
)
def test_bad_segment_is_400_naming_the_field(leader_api, inside, payload, field):
    with inside():
        services.segment_save(name="Dup", filters={"escalated": True})
    res = leader_api.post(URL, payload, format="json")
    assert res.status_code == 400
    assert has_field(res, field), error_fields(res)


def test_bad_segment_update_is_400(leader_api, inside):
    with inside():
        seg = services.segment_save(name="S", filters={"escalated": True})
    res = leader_api.patch(f"{URL}{seg.pk}/", {"filters": {"tier": ["gold"]}}, format="json")
    assert res.status_code == 400
    assert "gold" in error_fields(res)["filters"][0]


def test_accounts_in_a_segment(api, inside):
    with inside():
        inside_seg = factories.account(tier="strategic")
        factories.account(tier="smb")
        seg = services.segment_save(name="Strategic", filters={"tier": ["strategic"]})
    res = api.get(f"{URL}{seg.pk}/accounts/")
    assert res.status_code == 200
    assert [a["id"] for a in res.json()["results"]] == [inside_seg.pk]
