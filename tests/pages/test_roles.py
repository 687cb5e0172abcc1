"""Every page renders for every role that may see it; the viewer sees no edit
control and every write is refused server-side; admin pages are admin-only."""

from __future__ import annotations

import pytest

from csplatform.tenancy.models import Role
from csplatform.tenancy.services import api_key_create
from lifecycle import services
from lifecycle.models import (
    AccountAchievement,
    Contact,
    Contract,
    Escalation,
    StageAchievement,
    StageHistory,
    TimelineEntry,
)
from tests import factories
from tests.pages.conftest import tenant_post_forms, url

pytestmark = pytest.mark.django_db

ALL_ROLES = [Role.VIEWER, Role.CSM, Role.LEADER, Role.ADMIN]


@pytest.fixture
def acct(inside, users):
    with inside():
        acct = factories.account(owner=users[Role.CSM])
        factories.contact(acct, name="Casey Champion", role="champion")
        factories.contract(acct)
        services.note_add(account=acct, body="Kickoff went well", actor=users[Role.CSM])
        services.escalation_open(account=acct, reason="Outage", actor=users[Role.CSM])
    return acct


@pytest.mark.parametrize("role", ALL_ROLES)
def test_read_pages_render_for_every_role(page, tenant, acct, role):
    client = page(role)
    listing = client.get(url("accounts", tenant))
    assert listing.status_code == 200
    assert acct.name in listing.content.decode()
    detail = client.get(url("account", tenant, acct.pk))
    assert detail.status_code == 200
    body = detail.content.decode()
    for expected in ("Casey Champion", "Kickoff went well", "Outage", "Onboarding checklist"):
        assert expected in body
    timeline = client.get(url("account_timeline", tenant, acct.pk))
    assert timeline.status_code == 200
    assert "Kickoff went well" in timeline.content.decode()


@pytest.mark.parametrize("role", [Role.CSM, Role.LEADER, Role.ADMIN])
def test_account_forms_render_for_csm_and_up(page, tenant, acct, role):
    client = page(role)
    assert client.get(url("account_new", tenant)).status_code == 200
    assert client.get(url("account_edit", tenant, acct.pk)).status_code == 200


def test_account_forms_are_403_for_a_viewer(page, tenant, acct):
    client = page(Role.VIEWER)
    assert client.get(url("account_new", tenant)).status_code == 403
    assert client.get(url("account_edit", tenant, acct.pk)).status_code == 403


@pytest.mark.parametrize("role", [Role.VIEWER, Role.CSM, Role.LEADER])
def test_settings_pages_are_403_below_admin(page, tenant, inside, role):
    with inside():
        achievement = StageAchievement.objects.first()
        key = api_key_create(name="sync").api_key
    client = page(role)
    assert client.get(url("stage_settings", tenant)).status_code == 403
    assert client.get(url("stage_achievement_edit", tenant, achievement.pk)).status_code == 403
    assert client.get(url("api_keys", tenant)).status_code == 403
    posts = [
        (url("stage_settings", tenant), {"stage": "usage", "title": "T", "key": "t"}),
        (url("stage_achievement_edit", tenant, achievement.pk), {"title": "Renamed"}),
        (url("stage_achievement_delete", tenant, achievement.pk), {}),
        (url("api_keys", tenant), {"name": "x", "role": "admin"}),
        (url("api_key_revoke", tenant, key.pk), {}),
    ]
    for path, data in posts:
        assert client.post(path, data).status_code == 403, path
    with inside():
        assert StageAchievement.objects.filter(pk=achievement.pk, title=achievement.title).exists()
        assert not StageAchievement.objects.filter(key="t").exists()
        key.refresh_from_db()
        assert key.revoked_at is None
        assert list(key.__class__.objects.values_list("name", flat=True)) == ["sync"]


def test_settings_pages_render_for_admin(page, tenant, inside):
    with inside():
        achievement = StageAchievement.objects.first()
    client = page(Role.ADMIN)
    assert client.get(url("stage_settings", tenant)).status_code == 200
    assert client.get(url("stage_achievement_edit", tenant, achievement.pk)).status_code == 200
    assert client.get(url("api_keys", tenant)).status_code == 200


def test_pages_load_htmx_from_django_htmx_and_the_stylesheet(page, tenant):
    body = page(Role.VIEWER).get(url("accounts", tenant)).content.decode()
    assert '<script src="/static/django_htmx/htmx-2.min.js" defer>' in body
    assert '/static/ui/app.css"' in body
    assert 'name="htmx-config"' in body  # 4xx answers (form errors, refused moves) swap in


def test_nav_shows_settings_only_to_admins(page, tenant):
    admin = page(Role.ADMIN).get(url("accounts", tenant)).content.decode()
    leader = page(Role.LEADER).get(url("accounts", tenant)).content.decode()
    assert url("stage_settings", tenant) in admin and url("api_keys", tenant) in admin
    assert url("stage_settings", tenant) not in leader and url("api_keys", tenant) not in leader
    assert "/api/docs/" in leader


def test_viewer_sees_no_edit_controls(page, tenant, acct):
    client = page(Role.VIEWER)
    for path in (url("accounts", tenant), url("account", tenant, acct.pk)):
        body = client.get(path).content.decode()
        assert tenant_post_forms(body, tenant) == [], path
        assert "hx-post" not in body
        for control in (
            "New account",
            "Edit account",
            "Move to",
            "Mark done",
            "Add note",
            "Add a contact",
            "Add a contract",
            "Resolve escalation",
        ):
            assert control not in body, control


def test_csm_sees_the_edit_controls(page, tenant, acct):
    body = page(Role.CSM).get(url("account", tenant, acct.pk)).content.decode()
    actions = tenant_post_forms(body, tenant)
    for name in ("account_transition", "account_note", "account_contact", "account_contract"):
        assert url(name, tenant, acct.pk) in actions, name
    for control in (
        "Edit account",
        "Move to Adoption",
        "Mark done",
        "Add note",
        "Resolve escalation",
    ):
        assert control in body, control
    listing = page(Role.CSM).get(url("accounts", tenant)).content.decode()
    assert "New account" in listing


def _write_requests(tenant, acct, achievement, escalation):
    stage = {"to_stage": "adoption", "expected_stage": "onboarding"}
    return [
        (url("account_new", tenant), {"name": "New Co", "tier": "smb"}),
        (url("account_edit", tenant, acct.pk), {"name": "Renamed", "tier": "smb"}),
        (url("account_transition", tenant, acct.pk), stage),
        (url("account_transition", tenant, acct.pk), {**stage, "force": "true", "reason": "x"}),
        (
            url("account_transition", tenant, acct.pk),
            {"to_stage": "churned", "expected_stage": "onboarding"},
        ),
        (url("account_achievement", tenant, acct.pk, achievement.pk), {"done": "true"}),
        (url("account_note", tenant, acct.pk), {"body": "sneaky"}),
        (
            url("account_contact", tenant, acct.pk),
            {"name": "X", "email": "x@y.test", "role": "admin"},
        ),
        (
            url("account_contract", tenant, acct.pk),
            {
                "arr": "1",
                "seats": "1",
                "status": "active",
                "start_date": "2025-01-01",
                "renewal_date": "2026-01-01",
            },
        ),
        (url("escalation_open", tenant, acct.pk), {"reason": "again"}),
        (url("escalation_resolve", tenant, acct.pk, escalation.pk), {"resolution": "fixed"}),
    ]


def test_viewer_gets_403_on_every_write_and_nothing_changes(page, tenant, inside, acct):
    with inside():
        achievement = StageAchievement.objects.filter(stage="onboarding").first()
        escalation = Escalation.objects.get(account=acct)
        name_before = acct.name
        before = {
            model.__name__: model.objects.count()
            for model in (
                TimelineEntry,
                Contact,
                Contract,
                AccountAchievement,
                Escalation,
                StageHistory,
                acct.__class__,
            )
        }
    client = page(Role.VIEWER)
    for path, data in _write_requests(tenant, acct, achievement, escalation):
        assert client.post(path, data).status_code == 403, path
        assert client.post(path, data, HTTP_HX_REQUEST="true").status_code == 403, path
    with inside():
        after = {
            model.__name__: model.objects.count()
            for model in (
                TimelineEntry,
                Contact,
                Contract,
                AccountAchievement,
                Escalation,
                StageHistory,
                acct.__class__,
            )
        }
        acct.refresh_from_db()
        escalation.refresh_from_db()
    assert after == before
    assert (acct.name, acct.stage, acct.is_escalated) == (name_before, "onboarding", True)
    assert escalation.resolved_at is None
