"""Admin settings pages: stage achievements and API keys."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from csplatform.tenancy.models import ApiKey, Role, hash_api_key
from lifecycle.models import Account, AccountAchievement, StageAchievement
from tests import factories
from tests.pages.conftest import url

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------- stage achievements


def test_stage_settings_lists_each_stages_checklist(page, tenant):
    body = page(Role.ADMIN).get(url("stage_settings", tenant)).content.decode()
    for stage in ("Onboarding", "Adoption", "Usage", "Value realization", "Advocacy", "Churned"):
        assert stage in body
    onboarding = body[body.index('id="stage-onboarding"') : body.index('id="stage-adoption"')]
    titles = re.findall(r"<td>([^<]+)</td>\s*<td><code>", onboarding)
    assert titles == [
        "Kickoff call held",
        "Admin trained",
        "Data imported",
        "First value milestone agreed",
    ]


def test_admin_adds_an_achievement_that_then_guards_the_stage(page, tenant, inside):
    client = page(Role.ADMIN)
    response = client.post(
        url("stage_settings", tenant),
        {
            "stage": "usage",
            "title": "Health check done",
            "key": "health_check",
            "required": "on",
            "position": "5",
        },
    )
    assert response.status_code == 302
    with inside():
        added = StageAchievement.objects.get(stage="usage", key="health_check")
        assert (added.title, added.required, added.position) == ("Health check done", True, 5)
        acct = factories.account(stage="usage")
        assert "Health check done" in [a.title for a in acct.missing_achievements()]
    assert "Health check done" in client.get(response["Location"]).content.decode()


@pytest.mark.parametrize(
    "data,field,message",
    [
        (
            {"stage": "onboarding", "title": "Again", "key": "kickoff_held", "position": "0"},
            "key",
            "already has an achievement with this key",
        ),
        ({"stage": "onboarding", "title": "", "key": "x", "position": "0"}, "title", "required"),
        (
            {"stage": "onboarding", "title": "T", "key": "not a slug", "position": "0"},
            "key",
            "Enter a valid",
        ),
        ({"stage": "nirvana", "title": "T", "key": "t", "position": "0"}, "stage", "valid choice"),
        (
            {"stage": "usage", "title": "T", "key": "t", "position": "-1"},
            "position",
            "greater than or equal to 0",
        ),
    ],
)
def test_bad_achievement_input_shows_field_errors(page, tenant, inside, data, field, message):
    with inside():
        before = StageAchievement.objects.count()
    response = page(Role.ADMIN).post(url("stage_settings", tenant), data)
    assert response.status_code == 422
    errors = re.search(rf'id="id_{field}_error">(.*?)</ul>', response.content.decode(), re.S)
    assert errors and message in errors.group(1)
    with inside():
        assert StageAchievement.objects.count() == before


def test_admin_edits_and_reorders_an_achievement(page, tenant, inside):
    with inside():
        trained = StageAchievement.objects.get(stage="onboarding", key="admin_trained")
    client = page(Role.ADMIN)
    form = client.get(url("stage_achievement_edit", tenant, trained.pk)).content.decode()
    assert 'value="Admin trained"' in form
    response = client.post(
        url("stage_achievement_edit", tenant, trained.pk),
        {
            "stage": "onboarding",
            "title": "Admins trained",
            "key": "admin_trained",
            "position": "0",
        },  # unticked checkbox: optional now
    )
    assert response.status_code == 302
    with inside():
        trained.refresh_from_db()
        assert (trained.title, trained.required, trained.position) == ("Admins trained", False, 0)
        acct = factories.account()
        assert "Admins trained" not in [a.title for a in acct.missing_achievements()]


def test_edit_with_a_taken_key_is_refused(page, tenant, inside):
    with inside():
        trained = StageAchievement.objects.get(stage="onboarding", key="admin_trained")
    response = page(Role.ADMIN).post(
        url("stage_achievement_edit", tenant, trained.pk),
        {"stage": "onboarding", "title": "X", "key": "kickoff_held", "position": "1"},
    )
    assert response.status_code == 422
    assert "already has an achievement with this key" in response.content.decode()
    with inside():
        trained.refresh_from_db()
        assert trained.key == "admin_trained" and trained.title == "Admin trained"


def test_admin_deletes_an_achievement(page, tenant, inside):
    with inside():
        kickoff = StageAchievement.objects.get(stage="onboarding", key="kickoff_held")
        acct = factories.account()
        factories.complete_stage(acct)
    response = page(Role.ADMIN).post(url("stage_achievement_delete", tenant, kickoff.pk))
    assert response.status_code == 302
    with inside():
        assert not StageAchievement.objects.filter(pk=kickoff.pk).exists()
        assert AccountAchievement.objects.filter(account=acct).count() == 3
        assert Account.objects.filter(pk=acct.pk).exists()


def test_delete_needs_post(page, tenant, inside):
    with inside():
        kickoff = StageAchievement.objects.get(stage="onboarding", key="kickoff_held")
    assert (
        page(Role.ADMIN).get(url("stage_achievement_delete", tenant, kickoff.pk)).status_code == 405
    )
    with inside():
        assert StageAchievement.objects.filter(pk=kickoff.pk).exists()


# ---------------------------------------------------------------- API keys


def _secret(response) -> str:
    match = re.search(r'<div class="secret">(csk_[^<]+)</div>', response.content.decode())
    assert match, "the new key is shown"
    return match.group(1)


def test_admin_creates_a_key_shown_once_and_stored_hashed(page, tenant, inside, users):
    client = page(Role.ADMIN)
    response = client.post(url("api_keys", tenant), {"name": "Salesforce sync", "role": "csm"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    secret = _secret(response)
    with inside():
        key = ApiKey.objects.get(name="Salesforce sync")
    assert (key.role, key.created_by) == ("csm", users[Role.ADMIN])
    assert key.key_hash == hash_api_key(secret)
    assert secret not in {key.key_hash, key.prefix, key.name}
    assert secret.startswith(key.prefix)
    # Never again: the list shows only the prefix.
    listing = client.get(url("api_keys", tenant)).content.decode()
    assert secret not in listing
    assert f"{key.prefix}…" in listing and "Salesforce sync" in listing and "never" in listing
    # And the key works against the API.
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api.get("/api/v1/accounts/").status_code == 200


def test_admin_revokes_a_key_and_it_stops_working(page, tenant, inside):
    client = page(Role.ADMIN)
    secret = _secret(client.post(url("api_keys", tenant), {"name": "Old sync", "role": "viewer"}))
    with inside():
        key = ApiKey.objects.get(name="Old sync")
    response = client.post(url("api_key_revoke", tenant, key.pk))
    assert response.status_code == 302
    with inside():
        key.refresh_from_db()
        assert key.revoked_at is not None
    listing = client.get(response["Location"]).content.decode()
    assert "Revoked the key" in listing
    assert url("api_key_revoke", tenant, key.pk) not in listing  # no revoke button any more
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api.get("/api/v1/accounts/").status_code == 401


@pytest.mark.parametrize(
    "data,field",
    [
        ({"name": "", "role": "csm"}, "name"),
        ({"name": "x", "role": "owner"}, "role"),
        ({"name": "   ", "role": "csm"}, "name"),
    ],
)
def test_bad_key_input_shows_field_errors_and_creates_nothing(page, tenant, inside, data, field):
    response = page(Role.ADMIN).post(url("api_keys", tenant), data)
    assert response.status_code == 422
    assert f'id="id_{field}_error"' in response.content.decode()
    assert 'class="secret"' not in response.content.decode()
    with inside():
        assert not ApiKey.objects.exists()
