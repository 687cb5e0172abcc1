"""The segment filter grammar: refused at save with the dotted field, and a
filter poisoned in the database is a SegmentFilterBroken naming the segment
in every read, never a DataError or FieldError."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from csplatform.tenancy.models import Role
from health import selectors as health_selectors
from lifecycle import selectors, services
from lifecycle.models import Account, Segment
from lifecycle.segments import (
    SegmentFilterBroken,
    segment_members_q,
    validate_segment_filters,
)
from tests import factories
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

BAD_FILTERS = [
    # Lookup syntax, or a name the lookup parser would read as one
    ({"attributes": {"region__regex": "x"}}, "filters.attributes.region__regex"),
    ({"attributes": {"1region": "x"}}, "filters.attributes.1region"),
    ({"attributes": {"a.b": "x"}}, "filters.attributes"),  # a dot would blur the path
    ({"attributes": {"k" * 65: "x"}}, "filters.attributes." + "k" * 65),
    ({"attributes": {"reg\x00ion": "x"}}, "filters.attributes"),
    ({"attributes": {"region": {"$ne": 1}}}, "filters.attributes.region"),
    ({"attributes": {"region": ["a"]}}, "filters.attributes.region"),
    ({"attributes": {"region": "x" * 201}}, "filters.attributes.region"),
    ({"attributes": {"region": "\ud800"}}, "filters.attributes.region"),
    ({"attributes": {"region": "nul\x00"}}, "filters.attributes.region"),
    ({"attributes": {"score": float("nan")}}, "filters.attributes.score"),
    ({"attributes": {"score": float("inf")}}, "filters.attributes.score"),
    ({"attributes": {"score": 10**400}}, "filters.attributes.score"),
    ({"attributes": {f"k{i}": 1 for i in range(21)}}, "filters.attributes"),
    ({"attributes": {}}, "filters.attributes"),
    ({"attributes": ["region"]}, "filters.attributes"),
    # Numbers out of range: 1e999999 arrives from JSON as inf
    ({"arr_min": float("inf")}, "filters.arr_min"),
    ({"arr_min": float("nan")}, "filters.arr_min"),
    ({"arr_min": "NaN"}, "filters.arr_min"),
    ({"arr_min": "1e999999"}, "filters.arr_min"),
    ({"arr_min": 10**400}, "filters.arr_min"),
    ({"arr_max": 10**12}, "filters.arr_max"),  # the column holds 12 whole digits
    ({"arr_min": -1}, "filters.arr_min"),
    ({"arr_min": 0.001}, "filters.arr_min"),  # the column has 2 decimal places
    ({"arr_min": True}, "filters.arr_min"),
    ({"arr_min": [1]}, "filters.arr_min"),
    ({"arr_min": 100, "arr_max": 50}, "filters.arr_max"),
    ({"renewal_within_days": 99999999999}, "filters.renewal_within_days"),
    ({"renewal_within_days": 3651}, "filters.renewal_within_days"),
    ({"renewal_within_days": -1}, "filters.renewal_within_days"),
    ({"renewal_within_days": 1.5}, "filters.renewal_within_days"),
    ({"renewal_within_days": "30"}, "filters.renewal_within_days"),
    ({"renewal_within_days": True}, "filters.renewal_within_days"),
    # Choices, text and ids
    ({"stage": ["heaven"]}, "filters.stage"),
    ({"stage": []}, "filters.stage"),
    ({"stage": ["usage"] * 51}, "filters.stage"),
    ({"stage": [{"in": "usage"}]}, "filters.stage"),
    ({"tier": "gold"}, "filters.tier"),
    ({"industry": ["x" * 101]}, "filters.industry"),
    ({"industry": [5]}, "filters.industry"),
    ({"industry": ["Retail"] * 101}, "filters.industry"),
    ({"industry": ["nul\x00"]}, "filters.industry"),
    ({"industry": ["\udc00"]}, "filters.industry"),
    ({"owner": ["1"]}, "filters.owner"),
    ({"owner": [True]}, "filters.owner"),
    ({"owner": [2**63]}, "filters.owner"),  # past bigint: a DataError once
    ({"owner": 0}, "filters.owner"),
    ({"escalated": "yes"}, "filters.escalated"),
    ({"colour": "red"}, "filters.colour"),
    ({"\x00": 1}, "filters"),
    ({f"x{i}": 1 for i in range(10)}, "filters"),  # more keys than the grammar has
    ({"attributes": {1: "x"}}, "filters.attributes"),  # from Python, not JSON
    ({}, "filters"),
    (["tier"], "filters"),
    ("tier", "filters"),
]


@pytest.mark.parametrize(("filters", "field"), BAD_FILTERS)
def test_a_bad_filter_is_refused_by_its_dotted_field(in_tenant, filters, field):
    with pytest.raises(ValidationError) as err:
        services.segment_save(name="Bad", filters=filters)
    assert list(err.value.message_dict) == [field]
    # The messages can be sent back as they are: no NUL, surrogate or huge value.
    json.dumps(err.value.message_dict, ensure_ascii=False).encode("utf-8")
    assert all(len(m) < 300 for m in err.value.message_dict[field])
    assert not Segment.objects.exists()


def test_every_bad_part_is_named_at_once(in_tenant):
    with pytest.raises(ValidationError) as err:
        services.segment_save(
            name="Bad",
            filters={"stage": ["heaven"], "colour": "red", "attributes": {"a__b": 1, "ok": 1}},
        )
    assert set(err.value.message_dict) == {
        "filters.stage",
        "filters.colour",
        "filters.attributes.a__b",
    }
    assert "heaven" in err.value.message_dict["filters.stage"][0]


def test_good_filters_are_stored_in_one_form(in_tenant, users):
    member = users[Role.CSM]
    segment = services.segment_save(
        name="Everything",
        filters={
            "stage": "usage",
            "tier": ["smb", "enterprise"],
            "industry": "Retail",
            "owner": member.pk,
            "arr_min": 50000,
            "arr_max": "120000.50",
            "renewal_within_days": 90,
            "escalated": False,
            "attributes": {"region": "EMEA", "seats": 12, "beta": True, "churn-reason": None},
        },
    )
    stored = Segment.objects.get(pk=segment.pk).filters
    assert stored == {
        "stage": ["usage"],
        "tier": ["smb", "enterprise"],
        "industry": ["Retail"],
        "owner": [member.pk],
        "arr_min": "50000",
        "arr_max": "120000.5",
        "renewal_within_days": 90,
        "escalated": False,
        "attributes": {"region": "EMEA", "seats": 12, "beta": True, "churn-reason": None},
    }
    # What was stored passes again unchanged: a run checks the same grammar.
    assert validate_segment_filters(stored) == stored


def test_the_bounds_themselves_are_accepted(in_tenant):
    filters = {
        "arr_min": 0,
        "arr_max": "999999999999.99",
        "renewal_within_days": 3650,
        "attributes": {"k" * 64: "x" * 200, "n": 2**53},
    }
    assert validate_segment_filters(filters)["arr_max"] == "999999999999.99"


def test_an_owner_of_another_tenant_or_unknown_is_refused(in_tenant, other_tenant, users):
    stranger = make_user(other_tenant, Role.CSM)
    for owner in ([stranger.pk], [users[Role.CSM].pk, 987654321]):
        with pytest.raises(ValidationError) as err:
            services.segment_save(name="Theirs", filters={"owner": owner})
        assert list(err.value.message_dict) == ["filters.owner"]
        assert str(owner[-1]) in err.value.message_dict["filters.owner"][0]
    assert not Segment.objects.exists()
    services.segment_save(name="Ours", filters={"owner": [users[Role.CSM].pk]})


@pytest.mark.parametrize("key", ["contains", "isnull", "has_key", "regex", "exact", "a b-c_d"])
def test_an_attribute_named_like_a_lookup_is_an_attribute(in_tenant, key):
    wanted = factories.account(attributes={key: "x"})
    factories.account(attributes={"other": "x"})
    nulled = factories.account(attributes={key: None})
    segment = services.segment_save(name="A", filters={"attributes": {key: "x"}})
    assert list(selectors.account_list(segment=segment)) == [wanted]
    segment = services.segment_save(segment=segment, name="A", filters={"attributes": {key: None}})
    assert list(selectors.account_list(segment=segment)) == [nulled]


def test_each_filter_selects_its_accounts(in_tenant, users):
    owner = users[Role.CSM]
    soon = dt.date.today() + dt.timedelta(days=20)
    match = factories.account(tier="smb", industry="Retail", owner=owner, attributes={"n": 3})
    factories.contract(match, arr=Decimal("500.50"), renewal_date=soon)
    for other in (
        factories.account(tier="enterprise", industry="Retail", owner=owner, attributes={"n": 3}),
        factories.account(tier="smb", industry="Retail", owner=owner, attributes={"n": 4}),
        factories.account(tier="smb", industry="Retail", attributes={"n": 3}),
    ):
        factories.contract(other, arr=Decimal("500.50"), renewal_date=soon)
    cheap = factories.account(tier="smb", industry="Retail", owner=owner, attributes={"n": 3})
    factories.contract(cheap, arr=Decimal("500.49"), renewal_date=soon)
    segment = services.segment_save(
        name="All of them",
        filters={
            "tier": "smb",
            "industry": "Retail",
            "owner": owner.pk,
            "arr_min": "500.50",
            "arr_max": 500.5,
            "renewal_within_days": 20,
            "escalated": False,
            "attributes": {"n": 3},
        },
    )
    assert list(selectors.account_list(segment=segment)) == [match]


POISON = [
    {"attributes": {"region__regex": "x"}},  # a FieldError or a lookup on the column once
    {"attributes": {"contains": "x", "a__b": 1}},
    {"arr_min": "NaN"},
    {"arr_min": "1e999999"},  # a DataError once
    {"arr_max": 1e300},
    {"renewal_within_days": 99999999999},  # an OverflowError once
    {"owner": [2**70]},
    {"stage": "limbo"},
    {"colour": "red"},
    ["tier"],
    {},
]


def poisoned(filters) -> Segment:
    segment = services.segment_save(name="Poisoned", filters={"tier": ["smb"]})
    # Past the grammar, as a segment saved before it was closed would be.
    Segment.objects.filter(pk=segment.pk).update(filters=filters)
    return Segment.objects.get(pk=segment.pk)


@pytest.mark.parametrize("filters", POISON)
def test_a_poisoned_segment_cannot_compile(in_tenant, filters):
    segment = poisoned(filters)
    with pytest.raises(SegmentFilterBroken) as broken:
        segment_members_q(segment)
    assert broken.value.code == "segment_broken"
    assert broken.value.segment_id == segment.pk
    assert broken.value.segment_name == "Poisoned"
    assert "\u201cPoisoned\u201d" in broken.value.message
    assert broken.value.reason in broken.value.message


def test_the_reason_names_the_bad_part(in_tenant):
    segment = poisoned({"tier": ["smb"], "attributes": {"region__regex": "x"}})
    with pytest.raises(SegmentFilterBroken) as broken:
        segment_members_q(segment)
    assert broken.value.reason.startswith("attributes.region__regex: ")


READS = {
    "account_list": lambda s: list(selectors.account_list(segment=s)),
    "health_score_list": lambda s: list(health_selectors.health_score_list(segment=s)),
    "portfolio_accounts": lambda s: list(health_selectors.portfolio_accounts(segment=s)),
    "portfolio": lambda s: health_selectors.portfolio(segment=s),
    "renewal_report": lambda s: health_selectors.renewal_report(segment=s, horizon_days=365),
}


@pytest.mark.parametrize("read", READS)
@pytest.mark.parametrize(
    "filters", [{"attributes": {"region__regex": "x"}}, {"arr_min": "1e999999"}], ids=["key", "arr"]
)
def test_every_read_of_a_poisoned_segment_raises_broken(in_tenant, read, filters):
    factories.contract(factories.account(tier="smb"))
    segment = poisoned(filters)
    with pytest.raises(SegmentFilterBroken):
        READS[read](segment)
    # The transaction is still usable: nothing reached PostgreSQL.
    assert Account.objects.count() == 1
