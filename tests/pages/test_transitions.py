"""Stage moves from the account page: guards, forcing, roles and stale pages."""

from __future__ import annotations

import pytest

from csplatform.tenancy.models import Role
from lifecycle import services
from lifecycle.models import Account, StageHistory, TimelineEntry
from tests import factories
from tests.pages.conftest import url

pytestmark = pytest.mark.django_db


@pytest.fixture
def acct(inside):
    with inside():
        return factories.account(name="Initech")


def move(client, tenant, acct, to_stage, expected="onboarding", **extra):
    data = {"to_stage": to_stage, "expected_stage": expected, **extra}
    return client.post(url("account_transition", tenant, acct.pk), data)


def stage_of(inside, acct) -> str:
    with inside():
        return Account.objects.get(pk=acct.pk).stage


def test_csm_moves_forward_when_the_checklist_is_done(page, tenant, inside, acct, users):
    with inside():
        factories.complete_stage(acct)
    client = page(Role.CSM)
    response = move(client, tenant, acct, "adoption")
    assert response.status_code == 302
    assert response["Location"] == url("account", tenant, acct.pk)
    assert stage_of(inside, acct) == "adoption"
    body = client.get(response["Location"]).content.decode()
    assert "Moved Initech to Adoption." in body
    assert "Stage changed from Onboarding to Adoption" in body
    with inside():
        stay = StageHistory.objects.get(account=acct, exited_at__isnull=True)
        assert (stay.stage, stay.entered_by, stay.forced) == ("adoption", users[Role.CSM], False)


def test_guard_blocks_the_move_and_lists_what_is_missing(page, tenant, inside, acct):
    client = page(Role.CSM)
    # The page already says what is missing, before anyone tries.
    body = client.get(url("account", tenant, acct.pk)).content.decode()
    assert "Missing: Kickoff call held, Admin trained" in body
    response = move(client, tenant, acct, "adoption")
    assert response.status_code == 409
    body = response.content.decode()
    assert "Required achievements are not done" in body
    for title in ("Kickoff call held", "Admin trained", "Data imported"):
        assert f"<li>{title}</li>" in body
    # A CSM is not offered the force form.
    assert 'name="force"' not in body
    assert stage_of(inside, acct) == "onboarding"
    with inside():
        assert not TimelineEntry.objects.filter(kind="stage_changed").exists()


def test_leader_sees_the_force_form_and_forces_with_a_reason(page, tenant, inside, acct, users):
    client = page(Role.LEADER)
    body = client.get(url("account", tenant, acct.pk)).content.decode()
    assert 'name="force"' in body and "Force move to Adoption" in body
    # Refused by the guard, the answer offers the force form right there.
    refused = move(client, tenant, acct, "adoption")
    assert refused.status_code == 409
    assert "Force move to Adoption" in refused.content.decode()

    response = move(
        client, tenant, acct, "adoption", force="true", reason="Customer self-onboarded"
    )
    assert response.status_code == 302
    assert stage_of(inside, acct) == "adoption"
    with inside():
        entry = TimelineEntry.objects.get(account=acct, kind="stage_changed")
        assert entry.payload["forced"] is True
        assert entry.payload["reason"] == "Customer self-onboarded"
        assert entry.actor == users[Role.LEADER]
        assert "Kickoff call held" in entry.payload["skipped_achievements"]
        assert StageHistory.objects.get(account=acct, stage="adoption").forced
    page_body = client.get(url("account", tenant, acct.pk)).content.decode()
    assert "(forced)" in page_body
    assert "Customer self-onboarded" in page_body


def test_forcing_needs_a_reason(page, tenant, inside, acct):
    response = move(page(Role.ADMIN), tenant, acct, "adoption", force="true", reason="  ")
    assert response.status_code == 409
    assert "needs a written reason" in response.content.decode()
    assert stage_of(inside, acct) == "onboarding"


def test_csm_cannot_force(page, tenant, inside, acct):
    response = move(page(Role.CSM), tenant, acct, "adoption", force="true", reason="please")
    assert response.status_code == 403
    assert "Only a CS leader or admin can force" in response.content.decode()
    assert stage_of(inside, acct) == "onboarding"


def test_stale_expected_stage_is_409_and_changes_nothing(page, tenant, inside, acct):
    with inside():
        services.account_transition(
            account_id=acct.pk, to_stage="churned", actor=None, role=Role.CSM
        )
    # A page opened before the churn still says onboarding.
    response = move(page(Role.CSM), tenant, acct, "churned", expected="onboarding")
    assert response.status_code == 409
    body = response.content.decode()
    assert "The account is now in Churned, not Onboarding." in body
    with inside():
        assert TimelineEntry.objects.filter(kind="stage_changed").count() == 1
    # The answer shows the account as it is now, with the moves allowed now.
    assert "Win back" in body


def test_htmx_failure_answers_409_with_the_message(page, tenant, inside, acct):
    response = page(Role.CSM).post(
        url("account_transition", tenant, acct.pk),
        {"to_stage": "adoption", "expected_stage": "onboarding"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 409
    assert 'id="transition-rejected"' in response.content.decode()


def test_a_move_the_machine_does_not_allow_is_409(page, tenant, inside, acct):
    response = move(page(Role.ADMIN), tenant, acct, "advocacy", force="true", reason="skip")
    assert response.status_code == 409
    assert "Cannot move from Onboarding to Advocacy" in response.content.decode()
    assert stage_of(inside, acct) == "onboarding"


def test_an_unknown_stage_is_422(page, tenant, inside, acct):
    response = move(page(Role.CSM), tenant, acct, "heaven")
    assert response.status_code == 422
    assert "Choose a stage" in response.content.decode()
    assert stage_of(inside, acct) == "onboarding"


def test_side_moves_churn_and_win_back(page, tenant, inside, acct):
    client = page(Role.CSM)
    body = client.get(url("account", tenant, acct.pk)).content.decode()
    assert "Mark churned" in body
    assert move(client, tenant, acct, "churned", reason="Budget cut").status_code == 302
    assert stage_of(inside, acct) == "churned"
    body = client.get(url("account", tenant, acct.pk)).content.decode()
    assert "Win back" in body and "Budget cut" in body
    assert move(client, tenant, acct, "onboarding", expected="churned").status_code == 302
    assert stage_of(inside, acct) == "onboarding"
