"""Signing in and out, where a user lands, and switching tenants."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Role
from csplatform.tenancy.services import membership_add
from tests import factories
from tests.conftest import make_user
from tests.pages.conftest import signed_in, url

pytestmark = pytest.mark.django_db


def test_login_with_email_and_password_lands_on_the_accounts_list(tenant):
    make_user(tenant, Role.CSM, email="dana@vendor.test")
    client = Client()
    response = client.post(
        reverse("login"), {"username": "Dana@Vendor.test", "password": "pw-for-tests-1"}
    )
    assert response.status_code == 302
    response = client.get(response["Location"])
    assert response.status_code == 302
    assert response["Location"] == url("accounts", tenant)
    response = client.get(response["Location"])
    assert response.status_code == 200
    assert "Acme Analytics" in response.content.decode()


def test_login_with_a_wrong_password_stays_signed_out(tenant):
    make_user(tenant, Role.CSM, email="dana@vendor.test")
    client = Client()
    response = client.post(reverse("login"), {"username": "dana@vendor.test", "password": "not-it"})
    assert response.status_code == 200
    assert "enter a correct" in response.content.decode().lower()
    assert client.get(url("accounts", tenant)).status_code == 302


def test_login_page_asks_for_email(db):
    body = Client().get(reverse("login")).content.decode()
    assert 'type="email"' in body
    assert "Sign in" in body


def test_login_follows_next_to_the_page_asked_for(tenant, in_tenant):
    make_user(tenant, Role.CSM, email="sam@vendor.test")
    acct = factories.account()
    client = Client()
    target = url("account", tenant, acct.pk)
    response = client.post(
        reverse("login") + f"?next={target}",
        {"username": "sam@vendor.test", "password": "pw-for-tests-1", "next": target},
    )
    assert response["Location"] == target


@pytest.mark.parametrize(
    "name,args",
    [
        ("accounts", []),
        ("account_new", []),
        ("stage_settings", []),
        ("api_keys", []),
        ("workspace_home", []),
    ],
)
def test_unauthenticated_tenant_pages_redirect_to_login(tenant, name, args):
    path = url(name, tenant, *args)
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")
    assert path in response["Location"]


def test_unauthenticated_account_page_and_writes_redirect_to_login(tenant, in_tenant):
    acct = factories.account()
    client = Client()
    for path in (url("account", tenant, acct.pk), url("account_timeline", tenant, acct.pk)):
        assert client.get(path)["Location"].startswith(reverse("login"))
    response = client.post(
        url("account_transition", tenant, acct.pk),
        {"to_stage": "churned", "expected_stage": "onboarding"},
    )
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    acct.refresh_from_db()
    assert acct.stage == "onboarding"


@pytest.mark.parametrize("name", ["home", "tenant_switcher"])
def test_unauthenticated_shell_pages_redirect_to_login(db, name):
    response = Client().get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_home_sends_a_user_of_several_tenants_to_the_switcher(tenant, other_tenant):
    user = make_user(tenant, Role.CSM)
    membership_add(tenant=other_tenant, user=user, role=Role.VIEWER)
    client = signed_in(user)
    response = client.get(reverse("home"))
    assert response["Location"] == reverse("tenant_switcher")
    body = client.get(reverse("tenant_switcher")).content.decode()
    assert url("accounts", tenant) in body
    assert url("accounts", other_tenant) in body
    assert "Viewer" in body


def test_header_switcher_lists_the_other_tenants_only_for_multi_tenant_users(tenant, other_tenant):
    single = make_user(tenant, Role.CSM)
    body = signed_in(single).get(url("accounts", tenant)).content.decode()
    assert "Switch workspace" not in body

    multi = make_user(tenant, Role.CSM)
    membership_add(tenant=other_tenant, user=multi, role=Role.ADMIN)
    client = signed_in(multi)
    body = client.get(url("accounts", tenant)).content.decode()
    assert "Switch workspace" in body
    assert url("accounts", other_tenant) in body
    # The switch works: the other tenant's page, with that tenant's role (admin nav).
    response = client.get(url("accounts", other_tenant))
    assert response.status_code == 200
    assert "Globex Software" in response.content.decode()
    assert url("api_keys", other_tenant) in response.content.decode()


def test_a_user_without_memberships_sees_an_empty_switcher(db):
    user = make_user(None)
    client = signed_in(user)
    assert client.get(reverse("home"))["Location"] == reverse("tenant_switcher")
    assert (
        "not a member of any workspace" in client.get(reverse("tenant_switcher")).content.decode()
    )


def test_logout_signs_out(tenant):
    client = signed_in(make_user(tenant, Role.CSM))
    assert client.get(url("accounts", tenant)).status_code == 200
    response = client.post(reverse("logout"))
    assert response["Location"] == reverse("login")
    assert client.get(url("accounts", tenant)).status_code == 302


def test_tenant_root_sends_members_to_accounts(tenant):
    client = signed_in(make_user(tenant, Role.VIEWER))
    assert client.get(url("workspace_home", tenant))["Location"] == url("accounts", tenant)


def test_two_tenants_of_one_user_keep_their_own_accounts(tenant, other_tenant):

    user = make_user(tenant, Role.CSM)
    membership_add(tenant=other_tenant, user=user, role=Role.CSM)
    with tenant_context(tenant):
        factories.account(name="Only In Acme")
    with tenant_context(other_tenant):
        factories.account(name="Only In Globex")
    client = signed_in(user)
    acme = client.get(url("accounts", tenant)).content.decode()
    globex = client.get(url("accounts", other_tenant)).content.decode()
    assert "Only In Acme" in acme and "Only In Globex" not in acme
    assert "Only In Globex" in globex and "Only In Acme" not in globex
