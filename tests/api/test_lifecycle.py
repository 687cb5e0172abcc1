"""Stage transitions and the achievements checklist through the API."""

from __future__ import annotations

import pytest

from csplatform.tenancy.models import Role
from lifecycle.models import Account, AccountAchievement, StageHistory, TimelineEntry
from tests import factories
from tests.api.conftest import session_client
from tests.errors import error_fields

pytestmark = pytest.mark.django_db


def url(acct, tail=""):
    return f"/api/v1/accounts/{acct.pk}/{tail}"


def test_get_transitions_lists_the_moves_allowed_now(api, inside):
    with inside():
        acct = factories.account()
    res = api.get(url(acct, "transitions/"))
    assert res.status_code == 200
    rows = res.json()
    assert [r["stage"] for r in rows] == ["adoption", "churned"]  # forward first
    assert rows[0]["forward"] and rows[0]["guarded"] and not rows[0]["ready"]
    assert "Admin trained" in rows[0]["missing"]

    with inside():
        factories.complete_stage(acct)
    rows = api.get(url(acct, "transitions/")).json()
    assert rows[0]["ready"] is True and rows[0]["missing"] == []


def test_move_when_the_checklist_is_done(api, inside):
    with inside():
        acct = factories.account()
        factories.complete_stage(acct)
    res = api.post(
        url(acct, "transitions/"),
        {"to_stage": "adoption", "expected_stage": "onboarding"},
        format="json",
    )
    assert res.status_code == 200, res.json()
    assert res.json()["stage"] == "adoption"
    assert {t["stage"] for t in res.json()["allowed_transitions"]} == {
        "usage",
        "onboarding",
        "churned",
    }
    with inside():
        assert Account.objects.get(pk=acct.pk).stage == "adoption"
        assert TimelineEntry.objects.filter(account=acct, kind="stage_changed").count() == 1


def test_guard_answers_409_with_the_missing_achievements(api, inside):
    with inside():
        acct = factories.account()
    res = api.post(url(acct, "transitions/"), {"to_stage": "adoption"}, format="json")
    assert res.status_code == 409
    body = res.json()
    assert body["code"] == "guard"
    assert "Kickoff call held" in body["extra"]["missing"]
    assert "Required achievements" in body["detail"]
    with inside():
        assert Account.objects.get(pk=acct.pk).stage == "onboarding"


def test_leader_forces_with_a_reason_and_the_timeline_says_forced(leader_api, inside):
    with inside():
        acct = factories.account()
    res = leader_api.post(
        url(acct, "transitions/"),
        {"to_stage": "adoption", "force": True, "reason": "Kickoff happened offline"},
        format="json",
    )
    assert res.status_code == 200, res.json()
    assert res.json()["stage"] == "adoption"
    with inside():
        entry = TimelineEntry.objects.get(account=acct, kind="stage_changed")
        assert entry.payload["forced"] is True
        assert entry.payload["reason"] == "Kickoff happened offline"
        assert "Kickoff call held" in entry.payload["skipped_achievements"]
        assert StageHistory.objects.get(account=acct, exited_at__isnull=True).forced


def test_leader_session_user_forces_and_is_recorded(tenant, users, inside):
    leader = users[Role.LEADER]
    with inside():
        acct = factories.account()
    res = session_client(leader, tenant).post(
        url(acct, "transitions/"),
        {"to_stage": "adoption", "force": True, "reason": "Signed off by VP"},
        format="json",
    )
    assert res.status_code == 200, res.json()
    with inside():
        assert TimelineEntry.objects.get(account=acct, kind="stage_changed").actor == leader


def test_forced_move_without_a_reason_is_409(leader_api, inside):
    with inside():
        acct = factories.account()
    res = leader_api.post(
        url(acct, "transitions/"), {"to_stage": "adoption", "force": True}, format="json"
    )
    assert res.status_code == 409
    assert res.json()["code"] == "reason_required"


@pytest.mark.parametrize("client", ["key", "session"])
def test_csm_cannot_force(api, tenant, users, inside, client):
    caller = api if client == "key" else session_client(users[Role.CSM], tenant)
    with inside():
        acct = factories.account()
    res = caller.post(
        url(acct, "transitions/"),
        {"to_stage": "adoption", "force": True, "reason": "please"},
        format="json",
    )
    assert res.status_code == 403
    assert res.json()["code"] == "forbidden"
    with inside():
        assert Account.objects.get(pk=acct.pk).stage == "onboarding"


def test_stale_expected_stage_is_409(api, inside):
    with inside():
        acct = factories.account()
    res = api.post(
        url(acct, "transitions/"),
        {"to_stage": "churned", "expected_stage": "usage"},
        format="json",
    )
    assert res.status_code == 409
    assert res.json()["code"] == "stale"
    with inside():
        assert Account.objects.get(pk=acct.pk).stage == "onboarding"


def test_move_the_machine_does_not_allow_is_409(api, inside):
    with inside():
        acct = factories.account()
    res = api.post(url(acct, "transitions/"), {"to_stage": "advocacy"}, format="json")
    assert res.status_code == 409
    assert res.json()["code"] == "not_allowed"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "to_stage"),
        ({"to_stage": "limbo"}, "to_stage"),
        ({"to_stage": "churned", "expected_stage": "limbo"}, "expected_stage"),
        ({"to_stage": "churned", "force": "sometimes"}, "force"),
    ],
)
def test_bad_transition_input_is_400(api, inside, payload, field):
    with inside():
        acct = factories.account()
    res = api.post(url(acct, "transitions/"), payload, format="json")
    assert res.status_code == 400
    assert field in error_fields(res)


def test_checklist_of_the_current_stage(api, inside):
    with inside():
        acct = factories.account()
    res = api.get(url(acct, "achievements/"))
    assert res.status_code == 200
    rows = res.json()
    assert [r["key"] for r in rows] == [
        "kickoff_held",
        "admin_trained",
        "data_imported",
        "first_value_agreed",
    ]
    assert all(r["stage"] == "onboarding" and r["done"] is False for r in rows)


def test_complete_and_reopen_an_achievement(api, tenant, users, inside):
    csm_session = session_client(users[Role.CSM], tenant)
    with inside():
        acct = factories.account()
    res = csm_session.post(url(acct, "achievements/kickoff_held/complete/"))
    assert res.status_code == 200, res.json()
    assert res.json()["done"] is True
    assert res.json()["completed_by"]["id"] == users[Role.CSM].pk
    done = {r["key"]: r["done"] for r in api.get(url(acct, "achievements/")).json()}
    assert done["kickoff_held"] is True

    # Completing twice is harmless.
    assert api.post(url(acct, "achievements/kickoff_held/complete/")).status_code == 200

    res = api.post(url(acct, "achievements/kickoff_held/reopen/"))
    assert res.status_code == 200
    assert res.json()["done"] is False
    with inside():
        assert not AccountAchievement.objects.filter(account=acct).exists()
        kinds = list(TimelineEntry.objects.filter(account=acct).values_list("kind", flat=True))
        assert kinds.count("achievement_completed") == 1
        assert kinds.count("achievement_reopened") == 1


def test_achievement_of_another_stage_can_be_completed(api, inside):
    with inside():
        acct = factories.account()
    res = api.post(url(acct, "achievements/users_invited/complete/"))
    assert res.status_code == 200
    assert res.json()["stage"] == "adoption"
    res = api.post(
        url(acct, "achievements/users_invited/complete/"), {"stage": "usage"}, format="json"
    )
    assert res.status_code == 404  # no such key in that stage


def test_unknown_achievement_is_404(api, inside):
    with inside():
        acct = factories.account()
    assert api.post(url(acct, "achievements/no_such_thing/complete/")).status_code == 404
    assert api.post(url(acct, "achievements/no_such_thing/reopen/")).status_code == 404


def test_bad_achievement_stage_is_400(api, inside):
    with inside():
        acct = factories.account()
    res = api.post(
        url(acct, "achievements/kickoff_held/complete/"), {"stage": "limbo"}, format="json"
    )
    assert res.status_code == 400
    assert "stage" in error_fields(res)
