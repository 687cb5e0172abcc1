"""Saving a health profile: every rule is the service's, reported by field
(`measures.nps.good`), and nothing is stored when one fails."""

import pytest
from django.core.exceptions import ValidationError

from health.models import HealthProfile, ProfileMeasure
from health.services import health_defaults_ensure, health_profile_save
from lifecycle.models import Segment
from lifecycle.services import segment_save

pytestmark = pytest.mark.django_db

NPS = {"weight": 5, "bad": 0, "good": 50}


def refused(**fields) -> dict[str, list[str]]:
    """The errors of a refused save; the tenant's profiles stay as they were."""
    health_defaults_ensure()
    before = sorted(HealthProfile.objects.values_list("id", "name"))
    fields.setdefault("name", "Strategic")
    fields.setdefault("stage", "adoption")
    fields.setdefault("measures", {"nps": NPS})
    with pytest.raises(ValidationError) as caught:
        health_profile_save(**fields)
    assert sorted(HealthProfile.objects.values_list("id", "name")) == before
    return caught.value.message_dict


def test_a_profile_needs_valid_measures_and_bands(in_tenant):
    errors = refused(
        name="",
        stage="",
        measures={"usage_frequency": {"weight": 1, "bad": 5, "good": 5}, "vibes": {}},
        red_below=80,
        green_from=60,
    )
    assert set(errors) == {
        "name",
        "measures.usage_frequency.good",
        "measures.vibes.measure",
        "green_from",
        "stage",
    }
    assert errors["measures.usage_frequency.good"] == ["Bad and good must differ."]
    assert "vibes" in errors["measures.vibes.measure"][0]
    assert not ProfileMeasure.objects.filter(profile__name="").exists()


@pytest.mark.parametrize(
    ("line", "path", "message"),
    [
        ({"weight": 5, "bad": 0}, "measures.nps.good", "Needed for an included measure."),
        ({"weight": 5, "good": 1}, "measures.nps.bad", "Needed for an included measure."),
        ({"bad": 0, "good": 1}, "measures.nps.weight", "Needed for an included measure."),
        ({**NPS, "good": float("nan")}, "measures.nps.good", "A finite number is required."),
        ({**NPS, "bad": float("inf")}, "measures.nps.bad", "A finite number is required."),
        ({**NPS, "good": "50"}, "measures.nps.good", "A number is required."),
        ({**NPS, "good": True}, "measures.nps.good", "A number is required."),
        ({**NPS, "good": 1e10}, "measures.nps.good", "less than or equal to 1000000000"),
        ({**NPS, "weight": 0}, "measures.nps.weight", "greater than or equal to 1"),
        ({**NPS, "weight": 101}, "measures.nps.weight", "less than or equal to 100"),
        ({**NPS, "weight": 2.5}, "measures.nps.weight", "A whole number is required."),
        ("heavy", "measures.nps", "Give the measure's weight, bad and good."),
    ],
)
def test_each_measure_line_is_checked_by_field(in_tenant, line, path, message):
    errors = refused(measures={"nps": line})
    assert list(errors) == [path]
    assert message in errors[path][0]


def test_unknown_measure_names_are_named_only_when_printable(in_tenant):
    errors = refused(measures={"login_frequency": NPS, "x\ud800\x00": NPS, "nps": NPS})
    assert set(errors) == {"measures.login_frequency.measure", "measures"}
    # the message can be shown and stored as text: no surrogate, no NUL
    message = errors["measures"][0]
    assert "\\ud800" in message and "\ud800" not in message and "\x00" not in message
    assert refused(measures={})["measures"] == ["Include at least one measure."]
    assert refused(measures=[NPS])["measures"] == ["Include at least one measure."]


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"position": 40000}, "position"),
        ({"position": -1}, "position"),
        ({"red_below": 101, "green_from": 101}, "red_below"),
        ({"drop_alert_points": 500}, "drop_alert_points"),
        ({"stage": "teenage"}, "stage"),
        ({"name": "x" * 101}, "name"),
        ({"name": "Big\x00"}, "name"),
        ({"name": "Big\ud800"}, "name"),
        ({"is_default": True, "stage": "usage"}, "stage"),
    ],
)
def test_profile_fields_are_checked_against_the_model(in_tenant, fields, path):
    assert path in refused(**fields)


def test_the_segment_must_be_the_tenants_and_able_to_run(in_tenant, other_tenant):
    from csplatform.tenancy.context import tenant_context

    with tenant_context(other_tenant):
        theirs = segment_save(name="Theirs", filters={"tier": ["smb"]})
    assert refused(segment=theirs)["segment"] == ["No such segment."]
    assert refused(segment=theirs.pk)["segment"] == ["No such segment."]
    assert refused(segment=10**30)["segment"] == ["No such segment."]
    ours = segment_save(name="Ours", filters={"tier": ["smb"]})
    assert "segment" in refused(segment=ours, is_default=True, stage="")
    # a filter that cannot compile, or that PostgreSQL cannot run, is refused
    # at save, naming the segment
    for broken in ({"renewal_within_days": 99999999999}, {"arr_min": "1e999999"}):
        Segment.objects.filter(pk=ours.pk).update(filters=broken)
        message = refused(segment=ours.pk)["segment"][0]
        assert "“Ours”" in message and f"id {ours.pk}" in message
    saved = health_profile_save(
        name="By id",
        segment=segment_save(name="Fine", filters={"tier": ["smb"]}).pk,
        measures={"nps": NPS},
    )
    assert saved.segment.name == "Fine"
