"""Another tenant's pages and objects answer 404, never 403 and never data."""

from __future__ import annotations

import pytest
from django.urls import reverse

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import ApiKey, Role
from csplatform.tenancy.services import api_key_create
from lifecycle import services
from lifecycle.models import Account, Contact, Contract, Escalation, StageAchievement, TimelineEntry
from tests import factories
from tests.conftest import make_user
from tests.pages.conftest import signed_in, url

pytestmark = pytest.mark.django_db


@pytest.fixture
def theirs(other_tenant):
    """Tenant B's data: an account with an open escalation, an achievement, a key."""
    with tenant_context(other_tenant):
        acct = factories.account(name="Globex Secret Customer")
        escalation = services.escalation_open(account=acct, reason="b's problem", actor=None)
        achievement = StageAchievement.objects.filter(stage="onboarding").first()
        key = api_key_create(name="globex sync").api_key
    return {"account": acct, "escalation": escalation, "achievement": achievement, "key": key}


def _account_requests(slug_tenant, acct_pk, achievement_pk, escalation_pk):
    t = slug_tenant
    gets = [
        url("account", t, acct_pk),
        url("account_edit", t, acct_pk),
        url("account_timeline", t, acct_pk),
    ]
    posts = [
        (url("account_edit", t, acct_pk), {"name": "Hijacked", "tier": "smb"}),
        (
            url("account_transition", t, acct_pk),
            {"to_stage": "churned", "expected_stage": "onboarding"},
        ),
        (url("account_achievement", t, acct_pk, achievement_pk), {"done": "true"}),
        (url("account_note", t, acct_pk), {"body": "hello"}),
        (url("account_contact", t, acct_pk), {"name": "X", "email": "x@y.test", "role": "admin"}),
        (
            url("account_contract", t, acct_pk),
            {
                "arr": "1",
                "seats": "1",
                "status": "active",
                "start_date": "2025-01-01",
                "renewal_date": "2026-01-01",
            },
        ),
        (url("escalation_open", t, acct_pk), {"reason": "x"}),
        (url("escalation_resolve", t, acct_pk, escalation_pk), {"resolution": "x"}),
    ]
    return gets, posts


def _assert_untouched(other_tenant, theirs):
    with tenant_context(other_tenant):
        acct = Account.objects.get(pk=theirs["account"].pk)
        assert (acct.name, acct.stage, acct.is_escalated) == (
            "Globex Secret Customer",
            "onboarding",
            True,
        )
        assert Escalation.objects.get(pk=theirs["escalation"].pk).resolved_at is None
        assert not Contact.objects.exists() and not Contract.objects.exists()
        assert not TimelineEntry.objects.filter(kind="note").exists()
        assert ApiKey.objects.get(pk=theirs["key"].pk).revoked_at is None
        assert StageAchievement.objects.filter(pk=theirs["achievement"].pk).exists()
        assert not StageAchievement.objects.filter(key="t").exists()


def test_another_tenants_account_is_404_through_my_own_tenant_urls(tenant, other_tenant, theirs):
    """An admin of tenant A asks for B's ids under A's URLs: all 404."""
    client = signed_in(make_user(tenant, Role.ADMIN))
    gets, posts = _account_requests(
        tenant, theirs["account"].pk, theirs["achievement"].pk, theirs["escalation"].pk
    )
    for path in gets:
        response = client.get(path)
        assert response.status_code == 404, path
        assert "Globex Secret Customer" not in response.content.decode()
    for path, data in posts:
        assert client.post(path, data).status_code == 404, path
    settings_requests = [
        ("get", url("stage_achievement_edit", tenant, theirs["achievement"].pk)),
        ("post", url("stage_achievement_edit", tenant, theirs["achievement"].pk)),
        ("post", url("stage_achievement_delete", tenant, theirs["achievement"].pk)),
        ("post", url("api_key_revoke", tenant, theirs["key"].pk)),
    ]
    for method, path in settings_requests:
        assert getattr(client, method)(path).status_code == 404, path
    _assert_untouched(other_tenant, theirs)


def test_my_escalation_id_under_another_account_is_404(tenant, in_tenant):
    client = signed_in(make_user(tenant, Role.CSM))
    mine = factories.account()
    other = factories.account()
    escalation = services.escalation_open(account=other, reason="x", actor=None)
    response = client.post(
        url("escalation_resolve", tenant, mine.pk, escalation.pk), {"resolution": "done"}
    )
    assert response.status_code == 404
    escalation.refresh_from_db()
    assert escalation.resolved_at is None


def test_another_tenants_urls_are_404_for_non_members(tenant, other_tenant, theirs):
    client = signed_in(make_user(tenant, Role.ADMIN))
    gets, posts = _account_requests(
        other_tenant, theirs["account"].pk, theirs["achievement"].pk, theirs["escalation"].pk
    )
    gets += [
        reverse("workspace_home", args=[other_tenant.slug]),
        url("accounts", other_tenant),
        url("account_new", other_tenant),
        url("stage_settings", other_tenant),
        url("api_keys", other_tenant),
    ]
    for path in gets:
        response = client.get(path)
        assert response.status_code == 404, path
        assert "Globex" not in response.content.decode()
    posts += [
        (url("api_keys", other_tenant), {"name": "mine now", "role": "admin"}),
        (url("api_key_revoke", other_tenant, theirs["key"].pk), {}),
        (url("stage_settings", other_tenant), {"stage": "usage", "title": "t", "key": "t"}),
        (url("stage_achievement_delete", other_tenant, theirs["achievement"].pk), {}),
    ]
    for path, data in posts:
        assert client.post(path, data).status_code == 404, path
    _assert_untouched(other_tenant, theirs)
    with tenant_context(other_tenant):
        assert list(ApiKey.objects.values_list("name", flat=True)) == ["globex sync"]


def test_unknown_tenant_slug_is_404(tenant):
    client = signed_in(make_user(tenant, Role.ADMIN))
    assert client.get("/t/no-such-vendor/accounts/").status_code == 404
