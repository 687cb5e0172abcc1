"""/api/v1/playbooks/: read with steps, edit (leaders), steps sub-resource,
start on an account (csm+) once per occurrence key."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Role
from tests import factories
from tests.api.conftest import key_client
from tests.errors import error_fields
from work import services
from work.models import Playbook, PlaybookRun, PlaybookStep, Task

pytestmark = pytest.mark.django_db

BASE = "/api/v1/playbooks/"


@pytest.fixture
def playbook(inside):
    with inside():
        playbook = services.playbook_save(name="Kickoff plan", stage="onboarding")
        first = services.playbook_step_save(
            playbook=playbook, title="Call", estimated_minutes=45, due_offset_days=2
        )
        services.playbook_step_save(playbook=playbook, title="Recap", depends_on_id=first.pk)
    return playbook


@pytest.fixture
def acct(inside):
    with inside():
        return factories.account(owner=None)


def test_viewer_lists_and_reads_playbooks_with_their_steps(viewer_api, playbook):
    response = viewer_api.get(BASE, {"page_size": 100})
    assert response.status_code == 200
    rows = {row["name"]: row for row in response.json()["results"]}
    assert "Onboarding kickoff" in rows  # a default
    mine = rows["Kickoff plan"]
    assert mine["step_count"] == 2 and mine["active_runs"] == 0
    assert [s["title"] for s in mine["steps"]] == ["Call", "Recap"]
    assert mine["steps"][1]["depends_on"] == mine["steps"][0]["id"]
    one = viewer_api.get(f"{BASE}{playbook.pk}/")
    assert one.status_code == 200 and one.json()["steps"][0]["estimated_minutes"] == 45


def test_list_costs_the_same_for_3_and_30_playbooks(leader_api, inside):
    with inside():
        Playbook.objects.all().delete()

    def count(more: int) -> tuple[int, int]:
        with inside():
            for i in range(more):
                playbook = services.playbook_save(name=f"P{Playbook.objects.count()}-{i}")
                services.playbook_step_save(playbook=playbook, title="One")
                services.playbook_step_save(playbook=playbook, title="Two")
        with CaptureQueriesContext(connection) as ctx:
            response = leader_api.get(BASE, {"page_size": 100})
        assert response.status_code == 200
        return len(ctx.captured_queries), len(response.json()["results"])

    count(0)
    few, few_rows = count(3)
    many, many_rows = count(27)
    assert (few_rows, many_rows) == (3, 30)
    assert many == few


def test_leader_creates_edits_and_deletes(leader_api, inside):
    created = leader_api.post(
        BASE, {"name": "Expansion", "description": "Upsell", "stage": "usage"}, format="json"
    )
    assert created.status_code == 201
    pk = created.json()["id"]
    assert created.json()["steps"] == [] and created.json()["is_active"] is True
    patched = leader_api.patch(f"{BASE}{pk}/", {"is_active": False}, format="json")
    assert patched.status_code == 200
    assert patched.json()["is_active"] is False and patched.json()["name"] == "Expansion"
    put = leader_api.put(f"{BASE}{pk}/", {"name": "Expansion v2"}, format="json")
    assert put.status_code == 200 and put.json()["name"] == "Expansion v2"
    assert leader_api.delete(f"{BASE}{pk}/").status_code == 204
    with inside():
        assert not Playbook.objects.filter(pk=pk).exists()


def test_bad_playbooks_are_400_with_field_messages(leader_api, playbook):
    dup = leader_api.post(BASE, {"name": "Kickoff plan"}, format="json")
    assert dup.status_code == 400 and "name" in error_fields(dup)
    bad = leader_api.post(BASE, {"name": "", "stage": "nowhere"}, format="json")
    assert bad.status_code == 400 and {"name", "stage"} <= set(error_fields(bad))


def test_deleting_a_playbook_that_ran_switches_it_off(leader_api, inside, playbook, acct):
    with inside():
        services.playbook_start(playbook=playbook, account=acct, occurrence_key="k", actor=None)
    response = leader_api.delete(f"{BASE}{playbook.pk}/")
    assert response.status_code == 200 and response.json()["is_active"] is False


def test_steps_sub_resource(leader_api, inside, playbook):
    with inside():
        call = PlaybookStep.objects.get(playbook=playbook, title="Call")
    added = leader_api.post(
        f"{BASE}{playbook.pk}/steps/",
        {
            "title": "Technical check",
            "required_skill": "technical",
            "assignee_rule": "least_loaded",
            "estimated_minutes": 60,
            "priority": 2,
            "depends_on": call.pk,
        },
        format="json",
    )
    assert added.status_code == 201
    step = added.json()
    assert (step["position"], step["depends_on"], step["priority"]) == (3, call.pk, 2)
    edited = leader_api.patch(
        f"{BASE}{playbook.pk}/steps/{step['id']}/", {"estimated_minutes": 90}, format="json"
    )
    assert edited.status_code == 200
    assert edited.json()["estimated_minutes"] == 90 and edited.json()["title"] == "Technical check"
    assert leader_api.delete(f"{BASE}{playbook.pk}/steps/{step['id']}/").status_code == 204
    assert leader_api.delete(f"{BASE}{playbook.pk}/steps/{step['id']}/").status_code == 404
    with inside():
        assert PlaybookStep.objects.filter(playbook=playbook).count() == 2


def test_bad_steps_are_400_with_field_messages(leader_api, inside, playbook):
    with inside():
        recap = PlaybookStep.objects.get(playbook=playbook, title="Recap")
        call = PlaybookStep.objects.get(playbook=playbook, title="Call")
    cases = [
        ({"title": "X", "assignee_rule": "user"}, "assignee_user"),
        ({"title": "X", "assignee_rule": "round_robin"}, "assignee_group"),
        ({"title": "X", "required_skill": "juggling"}, "required_skill"),
        ({"title": "X", "estimated_minutes": 0}, "estimated_minutes"),
        ({"title": "X", "priority": 7}, "priority"),
        ({"title": "X", "depends_on": 999999}, "depends_on"),
        ({}, "title"),
    ]
    for body, field in cases:
        response = leader_api.post(f"{BASE}{playbook.pk}/steps/", body, format="json")
        assert response.status_code == 400, body
        assert field in error_fields(response), (body, error_fields(response))
    # The first step cannot wait for the later one.
    cycle = leader_api.patch(
        f"{BASE}{playbook.pk}/steps/{call.pk}/", {"depends_on": recap.pk}, format="json"
    )
    assert cycle.status_code == 400 and "depends_on" in error_fields(cycle)


@pytest.mark.parametrize("role", [Role.VIEWER, Role.CSM])
def test_only_leaders_edit(tenant, inside, playbook, role):
    client = key_client(tenant, role)
    with inside():
        step = PlaybookStep.objects.filter(playbook=playbook).first()
    calls = [
        client.post(BASE, {"name": "X"}, format="json"),
        client.patch(f"{BASE}{playbook.pk}/", {"name": "X"}, format="json"),
        client.delete(f"{BASE}{playbook.pk}/"),
        client.post(f"{BASE}{playbook.pk}/steps/", {"title": "X"}, format="json"),
        client.patch(f"{BASE}{playbook.pk}/steps/{step.pk}/", {"title": "X"}, format="json"),
        client.delete(f"{BASE}{playbook.pk}/steps/{step.pk}/"),
    ]
    assert [c.status_code for c in calls] == [403] * len(calls)
    with inside():
        assert Playbook.objects.get(pk=playbook.pk).name == "Kickoff plan"
        assert PlaybookStep.objects.filter(playbook=playbook).count() == 2


def test_csm_starts_once_per_occurrence_key(api, inside, playbook, acct):
    body = {"account_id": acct.pk, "occurrence_key": "crm:deal-42", "reason": "Closed won"}
    first = api.post(f"{BASE}{playbook.pk}/start/", body, format="json")
    assert first.status_code == 201
    run = first.json()
    assert run["occurrence_key"] == "crm:deal-42" and run["status"] == "active"
    assert [t["title"] for t in run["tasks"]] == ["Call"]
    assert run["tasks"][0]["estimated_minutes"] == 45
    again = api.post(f"{BASE}{playbook.pk}/start/", body, format="json")
    assert again.status_code == 200 and again.json()["id"] == run["id"]
    with inside():
        assert PlaybookRun.objects.filter(account=acct).count() == 1
        assert Task.objects.filter(account=acct).count() == 1


def test_start_without_a_key_starts_each_time(api, inside, playbook, acct):
    for _ in range(2):
        response = api.post(f"{BASE}{playbook.pk}/start/", {"account_id": acct.pk}, format="json")
        assert response.status_code == 201
        assert response.json()["occurrence_key"].startswith("api:")
    with inside():
        assert PlaybookRun.objects.filter(account=acct).count() == 2


def test_start_refusals(viewer_api, api, inside, playbook, acct, other_tenant):
    assert (
        viewer_api.post(
            f"{BASE}{playbook.pk}/start/", {"account_id": acct.pk}, format="json"
        ).status_code
        == 403
    )
    missing = api.post(f"{BASE}{playbook.pk}/start/", {}, format="json")
    assert missing.status_code == 400 and "account_id" in error_fields(missing)
    with tenant_context(other_tenant):
        theirs = factories.account()
    foreign = api.post(f"{BASE}{playbook.pk}/start/", {"account_id": theirs.pk}, format="json")
    assert foreign.status_code == 400 and "account_id" in error_fields(foreign)
    with inside():
        off = services.playbook_save(name="Off", is_active=False)
    switched_off = api.post(f"{BASE}{off.pk}/start/", {"account_id": acct.pk}, format="json")
    assert switched_off.status_code == 400 and "playbook" in error_fields(switched_off)
    with inside():
        assert not PlaybookRun.objects.exists()


def test_another_tenants_playbooks_are_404(other_api, playbook, acct):
    assert other_api.get(f"{BASE}{playbook.pk}/").status_code == 404
    assert other_api.patch(f"{BASE}{playbook.pk}/", {"name": "x"}, format="json").status_code == 404
    assert other_api.delete(f"{BASE}{playbook.pk}/").status_code == 404
    assert other_api.post(f"{BASE}{playbook.pk}/steps/", {"title": "x"}).status_code == 404
    start = other_api.post(f"{BASE}{playbook.pk}/start/", {"account_id": acct.pk}, format="json")
    assert start.status_code == 404
    names = [row["name"] for row in other_api.get(BASE).json()["results"]]
    assert "Kickoff plan" not in names
