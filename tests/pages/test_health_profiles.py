"""The health profile editor: profiles in matching order, creating and
editing re-scores (the band moves), the preview stores nothing, bad input
is a 422 with field messages, roles and other tenants."""

from __future__ import annotations

import re

import pytest

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Role
from health import services
from health.models import (
    EventName,
    HealthProfile,
    HealthScore,
    Measure,
    ProfileMeasure,
    UsageDailyAccount,
)
from lifecycle.models import Segment
from lifecycle.services import segment_save
from tests import factories
from tests.pages.conftest import HTMX, ago, tenant_post_forms, url

pytestmark = pytest.mark.django_db

NPS_LINE = {"weight": 7, "bad": -50, "good": 60}


def form_data(name="Usage accounts", stage="usage", measures=None, **fields) -> dict:
    """A POST of the editor: profile fields and the included measures
    ({measure: (weight, bad, good)}); the other measures stay unticked."""
    data = {
        "name": name,
        "stage": stage,
        "segment": "",
        "position": 5,
        "red_below": 40,
        "green_from": 70,
        "drop_alert_points": 15,
        **fields,
    }
    for measure, (weight, bad, good) in (measures or {"usage_frequency": (10, 0, 8)}).items():
        data.update(
            {
                f"{measure}_include": "on",
                f"{measure}_weight": weight,
                f"{measure}_bad": bad,
                f"{measure}_good": good,
            }
        )
    return data


def field_error(html: str, field: str) -> str:
    match = re.search(rf'id="profile_{field}_error">(.*?)</ul>', html, re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split()) if match else ""


@pytest.fixture
def acct(inside):
    """A usage-stage account active 6 of the last 30 days: the starting
    Default profile judges it yellow (usage frequency 22 points, weight 20;
    support load 100 points, weight 10, as the tenant sends tickets and it has
    none; the rest without data)."""
    with inside():
        EventName.objects.create(name="ticket_created")
        acct = factories.account(name="Initech", stage="usage")
        for day in range(1, 7):
            UsageDailyAccount.objects.create(account=acct, day=ago(day), events=3, active_users=1)
        services.health_rescore(account_ids=None)
    return acct


def band_of(inside, acct) -> tuple[str, str]:
    with inside():
        score = HealthScore.objects.select_related("profile").get(account=acct)
        return score.band, score.profile.name


def test_lists_profiles_in_matching_order_with_their_measures(page, tenant, inside, acct):
    with inside():
        segment = segment_save(name="Enterprise", filters={"tier": ["enterprise"]})
        services.health_profile_save(
            name="Big ones",
            segment=segment,
            position=1,
            measures={"nps": {"weight": 7, "bad": -50, "good": 60}},
        )
    html = page(Role.LEADER).get(url("health_profiles", tenant)).content.decode()
    names = re.findall(r'<h2><a href="[^"]+">([^<]+)</a>', html)
    assert names == ["Big ones", "Onboarding", "Default"]  # position, then the default last
    with inside():
        big = HealthProfile.objects.get(name="Big ones")
    block = re.search(rf'id="profile-{big.pk}".*?</li>', html, re.S).group(0)
    assert "position 1 · any stage, segment Enterprise" in block
    assert re.search(r"<td>NPS</td><td[^>]*>7</td><td[^>]*>-50.0</td><td[^>]*>60.0</td>", block)
    # where the accounts stand: Initech is judged by Default
    with inside():
        default = HealthProfile.objects.get(is_default=True)
    default_block = re.search(rf'id="profile-{default.pk}".*?</li>', html, re.S).group(0)
    assert "1 account scored" in default_block


def test_new_form_prefills_every_measure_with_its_defaults_and_unit(page, tenant):
    html = page(Role.ADMIN).get(url("health_profile_new", tenant)).content.decode()
    for measure in Measure.values:
        assert f'id="measure-row-{measure}"' in html
    row = re.search(r'id="measure-row-engagement".*?</tr>', html, re.S).group(0)
    assert 'name="engagement_bad" value="45"' in row.replace(".0", "")
    assert 'name="engagement_good" value="7"' in row.replace(".0", "")
    assert "days since the last CSM contact" in row
    assert 'name="engagement_include"' in row and "checked" not in row


def test_creating_a_profile_rescores_and_the_band_shows(page, tenant, inside, acct):
    assert band_of(inside, acct) == ("yellow", "Default")
    client = page(Role.LEADER)
    response = client.post(url("health_profile_new", tenant), form_data())
    assert response.status_code == 302
    # 6 active days against bad 0 / good 8 = 75 points: green from 70
    assert band_of(inside, acct) == ("green", "Usage accounts")
    listing = client.get(response["Location"]).content.decode()
    assert "Saved the profile “Usage accounts” and re-scored every account." in listing
    assert '<span class="badge band-green">Green 1</span>' in listing
    card = client.get(url("account_health", tenant, acct.pk), **HTMX).content.decode()
    assert 'id="health-band">Green</span>' in card and "Usage accounts" in card


def test_editing_a_profile_rescores(page, tenant, inside, acct):
    page(Role.LEADER).post(url("health_profile_new", tenant), form_data())
    with inside():
        profile = HealthProfile.objects.get(name="Usage accounts")
    edit = page(Role.ADMIN).get(url("health_profile_edit", tenant, profile.pk)).content.decode()
    assert re.search(r'name="usage_frequency_include"[^>]*checked', edit)  # prefilled
    assert not re.search(r'name="nps_include"[^>]*checked', edit)
    response = page(Role.ADMIN).post(
        url("health_profile_edit", tenant, profile.pk), form_data(green_from=80)
    )
    assert response.status_code == 302
    assert band_of(inside, acct) == ("yellow", "Usage accounts")  # 75 < 80
    with inside():
        profile.refresh_from_db()
        assert profile.green_from == 80


def test_preview_counts_band_moves_and_stores_nothing(page, tenant, inside, acct):
    old_band, old_profile = band_of(inside, acct)
    response = page(Role.LEADER).post(url("health_profile_preview", tenant), form_data(), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "1 account would change band" in html
    assert f'{old_band.capitalize()}</span> → <span class="badge band-green">Green' in html
    with inside():
        assert not HealthProfile.objects.filter(name="Usage accounts").exists()
        assert ProfileMeasure.objects.count() == 5 + 9  # the starting profiles, untouched
    assert band_of(inside, acct) == (old_band, old_profile)


def test_preview_of_an_edit_that_moves_nobody(page, tenant, inside, acct):
    with inside():
        default = HealthProfile.objects.get(is_default=True)
        measures = list(default.measures.all())
    data = form_data(name=default.name, stage="", is_default="on", position=default.position)
    for pm in measures:
        data.update(
            {
                f"{pm.measure}_include": "on",
                f"{pm.measure}_weight": pm.weight,
                f"{pm.measure}_bad": pm.bad,
                f"{pm.measure}_good": pm.good,
            }
        )
    response = page(Role.LEADER).post(
        url("health_profile_edit_preview", tenant, default.pk), data, **HTMX
    )
    assert response.status_code == 200
    assert "No account would change band." in response.content.decode()


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"name": ""}, "name", "This field is required."),
        ({"green_from": 30}, "green_from", "Green from must be at least red below."),
        ({"usage_frequency_good": 0}, "usage_frequency_good", "Bad and good must differ."),
        ({"usage_frequency_weight": ""}, "usage_frequency_weight", "Needed for an included"),
        ({"usage_frequency_weight": 0}, "usage_frequency_weight", "greater than or equal to 1"),
        ({"is_default": "on"}, "stage", "The default profile applies to every stage."),
        ({"name": "Onboarding"}, "name", "A profile with this name already exists."),
        ({"usage_frequency_good": "nan"}, "usage_frequency_good", "Enter a number."),
        ({"usage_frequency_bad": "1e999999"}, "usage_frequency_bad", "Enter a number."),
        ({"usage_frequency_good": "lots"}, "usage_frequency_good", "Enter a number."),
        ({"usage_frequency_good": 1e10}, "usage_frequency_good", "less than or equal to"),
        ({"usage_frequency_weight": 101}, "usage_frequency_weight", "less than or equal to 100"),
        ({"position": 40000}, "position", "less than or equal to 32767"),
        ({"red_below": 101}, "red_below", "less than or equal to 100"),
    ],
)
def test_bad_input_is_422_with_field_messages_and_nothing_stored(
    page, tenant, inside, acct, change, field, message
):
    before = band_of(inside, acct)
    data = form_data() | change
    response = page(Role.LEADER).post(url("health_profile_new", tenant), data)
    assert response.status_code == 422
    assert message in field_error(response.content.decode(), field)
    preview = page(Role.LEADER).post(url("health_profile_preview", tenant), data, **HTMX)
    assert preview.status_code == 422
    assert message in preview.content.decode()
    with inside():
        assert HealthProfile.objects.count() == 2
    assert band_of(inside, acct) == before


def test_no_measure_included_is_422(page, tenant, inside):
    data = form_data()
    del data["usage_frequency_include"]
    response = page(Role.LEADER).post(url("health_profile_new", tenant), data)
    assert response.status_code == 422
    assert "Include at least one measure." in response.content.decode()
    with inside():
        assert not HealthProfile.objects.filter(name="Usage accounts").exists()


def test_viewers_and_csms_are_refused(page, tenant, inside):
    with inside():
        default = HealthProfile.objects.get(is_default=True)
    for role in (Role.VIEWER, Role.CSM):
        client = page(role)
        for name, args in (
            ("health_profiles", ()),
            ("health_profile_new", ()),
            ("health_profile_edit", (default.pk,)),
        ):
            assert client.get(url(name, tenant, *args)).status_code == 403
        assert client.post(url("health_profile_new", tenant), form_data()).status_code == 403
        assert (
            client.post(url("health_profile_edit", tenant, default.pk), form_data()).status_code
            == 403
        )
        assert client.post(url("health_profile_preview", tenant), form_data()).status_code == 403
    with inside():
        assert HealthProfile.objects.count() == 2


def test_leaders_and_admins_get_edit_controls(page, tenant, inside):
    with inside():
        default = HealthProfile.objects.get(is_default=True)
    for role in (Role.LEADER, Role.ADMIN):
        html = page(role).get(url("health_profile_edit", tenant, default.pk)).content.decode()
        assert url("health_profile_edit", tenant, default.pk) in tenant_post_forms(html, tenant)
        assert f'hx-post="{url("health_profile_edit_preview", tenant, default.pk)}"' in html


def test_another_tenants_profile_is_404(page, tenant, other_tenant):
    with tenant_context(other_tenant):
        theirs = HealthProfile.objects.get(is_default=True)
    client = page(Role.ADMIN)
    assert client.get(url("health_profile_edit", tenant, theirs.pk)).status_code == 404
    edit = client.post(url("health_profile_edit", tenant, theirs.pk), form_data())
    assert edit.status_code == 404
    preview = client.post(url("health_profile_edit_preview", tenant, theirs.pk), form_data())
    assert preview.status_code == 404
    with tenant_context(other_tenant):
        theirs.refresh_from_db()
        assert theirs.name == "Default"


def test_a_profile_left_out_of_scoring_shows_why(page, tenant, inside, acct):
    with inside():
        segment = segment_save(name="Enterprise", filters={"tier": ["enterprise"]})
        profile = services.health_profile_save(
            name="Big ones", segment=segment, position=1, measures={"nps": NPS_LINE}
        )
        # stored before filters were checked: PostgreSQL cannot run it
        Segment.objects.filter(pk=segment.pk).update(filters={"arr_min": "1e999999"})
        services.health_rescore(account_ids=None)
    html = page(Role.ADMIN).get(url("health_profiles", tenant)).content.decode()
    error = re.search(rf'id="profile-{profile.pk}-error">(.*?)</p>', html, re.S)
    assert error and "“Enterprise”" in error.group(1) and "cannot run" in error.group(1)
    with inside():
        Segment.objects.filter(pk=segment.pk).update(filters={"tier": ["enterprise"]})
        services.health_rescore(account_ids=None)
    html = page(Role.LEADER).get(url("health_profiles", tenant)).content.decode()
    assert f'id="profile-{profile.pk}-error"' not in html
