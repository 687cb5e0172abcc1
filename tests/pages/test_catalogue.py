"""The feature catalogue page: event names with their counts, in-place
edits by admins, features, bad input and other roles and tenants."""

from __future__ import annotations

import re

import pytest

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Role
from health.models import EventName, Feature, UsageDailyEvent
from tests import factories
from tests.pages.conftest import HTMX, ago, tenant_post_forms, url

pytestmark = pytest.mark.django_db


def row(html: str, event_name) -> str:
    """The event name's table row, tags removed, spaces collapsed."""
    match = re.search(rf'<tr id="event-name-{event_name.pk}">(.*?)</tr>', html, re.S)
    assert match, f"no row for {event_name.name}"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


def field_error(html: str, prefix: str, field: str) -> str:
    match = re.search(rf'id="{prefix}_{field}_error">(.*?)</ul>', html, re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split()) if match else ""


@pytest.fixture
def catalogue(inside):
    """Two accounts' usage of three event names, one of them in a feature."""
    with inside():
        reporting = Feature.objects.create(name="Reporting", counts_for_adoption=True)
        exported = EventName.objects.create(name="report_exported", feature=reporting)
        login = EventName.objects.create(name="login", display_name="Signed in")
        quiet = EventName.objects.create(name="settings_opened")
        first, second = factories.account(), factories.account()
        for acct, events in ((first, 5), (second, 7)):
            UsageDailyEvent.objects.create(account=acct, event="login", day=ago(2), events=events)
        UsageDailyEvent.objects.create(account=first, event="login", day=ago(40), events=100)
        UsageDailyEvent.objects.create(account=first, event="report_exported", day=ago(0), events=3)
    return {"reporting": reporting, "exported": exported, "login": login, "quiet": quiet}


def test_lists_event_names_with_30_day_counts_for_every_role(page, tenant, catalogue):
    for role in (Role.VIEWER, Role.CSM):
        response = page(role).get(url("usage_catalogue", tenant))
        html = response.content.decode()
        assert response.status_code == 200
        # both accounts summed; the day 40 days ago is outside the count
        assert row(html, catalogue["login"]) == "login 12 Signed in —"
        assert row(html, catalogue["exported"]) == "report_exported 3 — Reporting"
        assert row(html, catalogue["quiet"]) == "settings_opened 0 — —"
        assert tenant_post_forms(html, tenant) == []  # no edit controls
        assert "Feature catalogue</a>" not in html  # the nav link is an admin's


def test_admin_sees_a_form_per_row_and_the_nav_link(page, tenant, catalogue):
    html = page(Role.ADMIN).get(url("usage_catalogue", tenant)).content.decode()
    forms = tenant_post_forms(html, tenant)
    for event_name in catalogue["login"], catalogue["exported"], catalogue["quiet"]:
        assert url("usage_event_name_edit", tenant, event_name.pk) in forms
    assert url("usage_feature_edit", tenant, catalogue["reporting"].pk) in forms
    assert f'<a href="{url("usage_catalogue", tenant)}">Feature catalogue</a>' in html


def test_edit_display_name_and_feature_in_place(page, tenant, inside, catalogue):
    quiet, reporting = catalogue["quiet"], catalogue["reporting"]
    response = page(Role.ADMIN).post(
        url("usage_event_name_edit", tenant, quiet.pk),
        {"display_name": "Opened settings", "feature": reporting.pk},
        **HTMX,
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith(f'<tr id="event-name-{quiet.pk}">')  # the row alone
    assert 'value="Opened settings"' in html and "Saved" in html
    assert f'<option value="{reporting.pk}" selected>Reporting</option>' in html
    with inside():
        quiet.refresh_from_db()
        assert (quiet.display_name, quiet.feature) == ("Opened settings", reporting)

    # clearing the feature without htmx redirects back to the page
    response = page(Role.ADMIN).post(
        url("usage_event_name_edit", tenant, quiet.pk), {"display_name": "", "feature": ""}
    )
    assert response.status_code == 302
    with inside():
        quiet.refresh_from_db()
        assert (quiet.display_name, quiet.feature) == ("", None)


def test_create_and_edit_a_feature(page, tenant, inside, catalogue):
    client = page(Role.ADMIN)
    response = client.post(
        url("usage_catalogue", tenant),
        {"name": "  Dashboards ", "description": "Charts", "counts_for_adoption": "on"},
    )
    assert response.status_code == 302
    with inside():
        dashboards = Feature.objects.get(name="Dashboards")
        assert (dashboards.description, dashboards.counts_for_adoption) == ("Charts", True)
    html = client.get(url("usage_catalogue", tenant)).content.decode()
    assert f'<option value="{dashboards.pk}">Dashboards</option>' in html  # now mappable

    response = client.post(
        url("usage_feature_edit", tenant, dashboards.pk), {"name": "Dashboards v2"}
    )
    assert response.status_code == 302
    with inside():
        dashboards.refresh_from_db()
        assert (dashboards.name, dashboards.counts_for_adoption) == ("Dashboards v2", False)


@pytest.mark.parametrize(
    "data,field,message",
    [
        ({"name": "   "}, "name", "This field is required."),
        ({"name": "x" * 101}, "name", "at most 100 characters"),
        ({"name": "Reporting"}, "name", "A feature with this name already exists."),
    ],
)
def test_bad_new_feature_is_422_with_the_field_message(
    page, tenant, inside, catalogue, data, field, message
):
    response = page(Role.ADMIN).post(url("usage_catalogue", tenant), data)
    assert response.status_code == 422
    assert message in field_error(response.content.decode(), "new_feature", field)
    with inside():
        assert list(Feature.objects.values_list("name", flat=True)) == ["Reporting"]


def test_renaming_a_feature_onto_another_is_422(page, tenant, inside, catalogue):
    with inside():
        other = Feature.objects.create(name="Exports")
    response = page(Role.ADMIN).post(
        url("usage_feature_edit", tenant, other.pk), {"name": "Reporting"}
    )
    assert response.status_code == 422
    assert "already exists" in field_error(response.content.decode(), f"feature{other.pk}", "name")
    with inside():
        other.refresh_from_db()
        assert other.name == "Exports"


def test_bad_event_name_input_is_422_and_stores_nothing(
    page, tenant, other_tenant, inside, catalogue
):
    with tenant_context(other_tenant):
        theirs = Feature.objects.create(name="Theirs")
    login = catalogue["login"]
    for data, field, message in (
        ({"display_name": "x" * 201}, "display_name", "at most 200 characters"),
        ({"feature": theirs.pk}, "feature", "Select a valid choice."),
    ):
        response = page(Role.ADMIN).post(
            url("usage_event_name_edit", tenant, login.pk), data, **HTMX
        )
        assert response.status_code == 422
        assert message in field_error(response.content.decode(), f"event{login.pk}", field)
    with inside():
        login.refresh_from_db()
        assert (login.display_name, login.feature_id) == ("Signed in", None)


@pytest.mark.parametrize("role", [Role.VIEWER, Role.CSM, Role.LEADER])
def test_only_admins_may_write(page, tenant, inside, catalogue, role):
    client = page(role)
    login, reporting = catalogue["login"], catalogue["reporting"]
    posts = [
        (url("usage_catalogue", tenant), {"name": "Sneaky"}),
        (url("usage_feature_edit", tenant, reporting.pk), {"name": "Renamed"}),
        (url("usage_event_name_edit", tenant, login.pk), {"display_name": "Renamed"}),
    ]
    for path, data in posts:
        assert client.post(path, data).status_code == 403
    with inside():
        assert list(Feature.objects.values_list("name", flat=True)) == ["Reporting"]
        assert EventName.objects.get(pk=login.pk).display_name == "Signed in"


def test_another_tenants_rows_are_404(page, tenant, other_tenant):
    with tenant_context(other_tenant):
        feature = Feature.objects.create(name="Theirs")
        event_name = EventName.objects.create(name="their_event")
    client = page(Role.ADMIN)
    assert (
        client.post(url("usage_feature_edit", tenant, feature.pk), {"name": "x"}).status_code == 404
    )
    response = client.post(
        url("usage_event_name_edit", tenant, event_name.pk), {"display_name": "x"}
    )
    assert response.status_code == 404
    with tenant_context(other_tenant):
        assert Feature.objects.get().name == "Theirs"
        assert EventName.objects.get().display_name == ""


def test_query_count_is_flat_as_event_names_grow(page, tenant, inside, django_assert_num_queries):
    client = page(Role.ADMIN)
    client.get(url("usage_catalogue", tenant))  # the first visit stores the tenant in the session
    with inside():
        acct = factories.account()
    added = 0
    for n in (3, 30):
        with inside():
            for i in range(added, n):
                feature = Feature.objects.create(name=f"F{i}")
                EventName.objects.create(name=f"e{i}", feature=feature if i % 2 else None)
                UsageDailyEvent.objects.create(account=acct, event=f"e{i}", day=ago(1), events=i)
        added = n
        # 16 for the request and the layout (session, user, memberships, the
        # tenant context and its savepoints, the workspace switcher), then
        # features, event names and the one count query
        with django_assert_num_queries(20):  # with the nav's "My work" count
            assert client.get(url("usage_catalogue", tenant)).status_code == 200
