"""Every page of the work app in one matrix: each write (htmx partials
included) is 403 for a viewer, the leader-only ones 403 for a CSM, each is
refused without a CSRF token, and each object URL is 404 for another
tenant's member; in none of these cases does anything change. A last test
holds the matrix complete: a new work URL must be added here."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import URLPattern, get_resolver
from django.utils import timezone

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Membership, Role
from lifecycle.models import TimelineEntry
from tests import factories
from tests.conftest import make_user
from tests.pages.conftest import signed_in, url
from tests.work.rules_data import evaluate, rule
from work import services
from work.models import (
    ActionRun,
    CsmGroup,
    CsmProfile,
    OutOfOffice,
    Playbook,
    PlaybookRun,
    PlaybookStep,
    Rule,
    RuleAction,
    Skill,
    Task,
    TimeEntry,
    WorkSettings,
)

pytestmark = pytest.mark.django_db

V, C, L = Role.VIEWER, Role.CSM, Role.LEADER

# name -> (argument keys, {method: least role})
MATRIX = {
    # the queue and task pages
    "work_queue": ((), {"GET": C}),
    "work_queue_more": ((), {"GET": C}),
    "work_task_new": ((), {"POST": C}),
    "work_tasks_reassign": ((), {"POST": L}),
    "work_task": (("task",), {"GET": C}),
    "work_task_forms": (("task",), {"GET": C}),
    "work_task_transition": (("task",), {"POST": C}),
    "work_task_snooze": (("task",), {"POST": C}),
    "work_task_time": (("task",), {"POST": C}),
    "work_task_outcome": (("task",), {"POST": C}),
    "work_task_reassign": (("task",), {"POST": L}),
    # playbooks and the account's Work card
    "work_playbooks": ((), {"GET": V}),
    "work_playbook_create": ((), {"POST": L}),
    "work_playbook": (("playbook",), {"GET": V, "POST": L}),
    "work_playbook_delete": (("playbook",), {"POST": L}),
    "work_step_create": (("playbook",), {"POST": L}),
    "work_step_edit": (("playbook", "step"), {"GET": L, "POST": L}),
    "work_step_delete": (("playbook", "step"), {"POST": L}),
    "work_account": (("account",), {"GET": V}),
    "work_account_start": (("account",), {"POST": C}),
    "work_run_cancel": (("run",), {"POST": C}),
    # rules
    "rules": ((), {"GET": C}),
    "rule_new": ((), {"GET": L, "POST": L}),
    "rule_edit": (("rule",), {"GET": L, "POST": L}),
    "rule_toggle": (("rule",), {"POST": L}),
    "rule_delete": (("rule",), {"POST": L}),
    "rule_log": (("rule",), {"GET": C}),
    "rule_action_retry": (("rule", "action_run"), {"POST": L}),
    # the team
    "work_team": ((), {"GET": L}),
    "work_profile_update": (("profile",), {"POST": L}),
    "work_absence_add": (("profile",), {"POST": L}),
    "work_absence_remove": (("absence",), {"POST": L}),
    "work_skill_add": ((), {"POST": L}),
    "work_skill_remove": (("skill",), {"POST": L}),
    "work_group_create": ((), {"POST": L}),
    "work_group_update": (("group",), {"POST": L}),
    "work_group_delete": (("group",), {"POST": L}),
    "work_settings_update": ((), {"POST": L}),
    # capacity
    "work_capacity": ((), {"GET": L}),
    "work_capacity_rebalance": ((), {"POST": L}),
    "work_capacity_step_estimate": (("step",), {"POST": L}),
}

WORK_URL_MODULES = (
    "work.urls_queue",
    "work.urls_playbooks",
    "work.urls_rules",
    "work.urls_team",
    "work.urls_capacity",
)


@pytest.fixture
def objects(inside, users):
    """One of everything the work pages act on, in `tenant`."""
    csm, leader = users[Role.CSM], users[Role.LEADER]
    with inside():
        account = factories.account(owner=csm, name="Initech")
        skill = services.skill_save(label="Matrix skill")
        services.csm_profiles_ensure()
        profile = CsmProfile.objects.get(user=csm)
        absence = services.out_of_office_add(
            profile=profile,
            starts_on=timezone.localdate() + dt.timedelta(days=30),
            ends_on=timezone.localdate() + dt.timedelta(days=31),
        )
        group = services.csm_group_save(name="Pod", member_ids=[csm.pk, leader.pk])
        playbook = services.playbook_save(name="Kickoff")
        step = services.playbook_step_save(playbook=playbook, title="Call")
        run, _ = services.playbook_start(
            playbook=playbook, account=account, occurrence_key="k", actor=None
        )
        task = Task.objects.get(run=run)
        r = rule(
            "escalation_opened",
            actions=[{"kind": "notify_email", "config": {"to": "owner"}}],
            name="Escalation alert",
        )
        evaluate(trigger="escalation_opened", account_id=account.pk, occurrence_key="e", payload={})
        action_run = ActionRun.objects.get(firing__rule=r)
    return {
        "account": account.pk,
        "task": task.pk,
        "playbook": playbook.pk,
        "step": step.pk,
        "run": run.pk,
        "rule": r.pk,
        "action_run": action_run.pk,
        "profile": profile.pk,
        "absence": absence.pk,
        "skill": skill.pk,
        "group": group.pk,
    }


def post_data(objects, users) -> dict:
    """Input that would be accepted by the view it reaches, so a refusal is
    the gate's and not the form's."""
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    leader = users[Role.LEADER]
    return {
        "action": "complete",
        "outcome": "Done",
        "until": tomorrow.isoformat(),
        "minutes": "15",
        "assignee": str(leader.pk),
        "task_ids": [str(objects["task"])],
        "move": f"{objects['task']}:{leader.pk}",
        "account": str(objects["account"]),
        "title": "Something new",
        "due_date": tomorrow.isoformat(),
        "priority": "2",
        "estimated_minutes": "45",
        "name": "Something new",
        "label": "Onboarding",
        "playbook": str(objects["playbook"]),
        "nonce": "abcdefgh1234",
        "reason": "because",
        "weekly_capacity_hours": "12",
        "takes_assignments": "on",
        "starts_on": tomorrow.isoformat(),
        "ends_on": tomorrow.isoformat(),
        "members": [str(leader.pk)],
        "unplanned_share_percent": "35",
        "trigger": "escalation_opened",
        "actions.0.kind": "timeline_entry",
        "actions.0.config.title": "Escalated",
        "is_active": "on",
        "assignee_rule": "owner",
    }


def snapshot() -> tuple:
    """Everything these pages could change, read in the tenant's context."""
    counts = tuple(
        model.objects.count()
        for model in (
            Task,
            TimeEntry,
            TimelineEntry,
            Playbook,
            PlaybookStep,
            PlaybookRun,
            Rule,
            RuleAction,
            Skill,
            CsmGroup,
            OutOfOffice,
        )
    )
    return (
        counts,
        list(
            Task.objects.order_by("pk").values_list(
                "status", "assignee_id", "due_date", "title", "logged_minutes", "outcome"
            )
        ),
        list(PlaybookRun.objects.order_by("pk").values_list("status")),
        list(Playbook.objects.order_by("pk").values_list("name", "is_active")),
        list(PlaybookStep.objects.order_by("pk").values_list("title", "estimated_minutes")),
        list(Rule.objects.order_by("pk").values_list("name", "is_active")),
        list(ActionRun.objects.order_by("pk").values_list("status", "attempts")),
        list(CsmProfile.objects.order_by("pk").values_list("weekly_capacity_hours", "skills")),
        list(WorkSettings.objects.values_list("unplanned_share_percent")),
        list(CsmGroup.objects.order_by("pk").values_list("name")),
    )


def cases(allowed):
    """(name, method, least role) of the matrix, filtered."""
    return [
        (name, method, role)
        for name, (_keys, methods) in MATRIX.items()
        for method, role in methods.items()
        if allowed(method, role)
    ]


def address(name, tenant, objects) -> str:
    keys, _methods = MATRIX[name]
    return url(name, tenant, *[objects[key] for key in keys])


def test_the_matrix_names_every_work_url():
    names = set()
    for module in WORK_URL_MODULES:
        for pattern in __import__(module, fromlist=["urlpatterns"]).urlpatterns:
            assert isinstance(pattern, URLPattern)
            names.add(pattern.name)
    assert names == set(MATRIX)
    for name in names:  # and each is mounted
        assert get_resolver().reverse_dict.getlist(name)


@pytest.mark.parametrize(("name", "method", "role"), cases(lambda method, role: method == "POST"))
def test_a_viewer_changes_nothing(page, tenant, inside, users, objects, name, method, role):
    before = snapshot_in(inside)
    response = page(Role.VIEWER).post(
        address(name, tenant, objects), post_data(objects, users), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 403
    assert snapshot_in(inside) == before


@pytest.mark.parametrize(
    ("name", "method", "role"), cases(lambda method, role: method == "GET" and role != V)
)
def test_a_viewer_cannot_open_the_working_pages(page, tenant, objects, name, method, role):
    assert page(Role.VIEWER).get(address(name, tenant, objects)).status_code == 403


@pytest.mark.parametrize(("name", "method", "role"), cases(lambda method, role: role == L))
def test_a_csm_cannot_use_the_leaders_pages(
    page, tenant, inside, users, objects, name, method, role
):
    before = snapshot_in(inside)
    client = page(Role.CSM)
    target = address(name, tenant, objects)
    if method == "GET":
        response = client.get(target)
    else:
        response = client.post(target, post_data(objects, users))
    assert response.status_code == 403
    assert snapshot_in(inside) == before


@pytest.mark.parametrize(("name", "method", "role"), cases(lambda method, role: method == "POST"))
def test_every_write_needs_the_csrf_token(tenant, inside, users, objects, name, method, role):
    client = Client(enforce_csrf_checks=True)
    client.force_login(users[Role.ADMIN])
    before = snapshot_in(inside)
    response = client.post(address(name, tenant, objects), post_data(objects, users))
    assert response.status_code == 403
    assert snapshot_in(inside) == before


@pytest.mark.parametrize(
    ("name", "method", "role"),
    [(n, m, r) for n, m, r in cases(lambda method, role: True) if MATRIX[n][0]],
)
def test_another_tenants_member_gets_404_for_our_objects(
    tenant, other_tenant, inside, users, objects, name, method, role
):
    """An admin of another workspace, on their own workspace's URLs, with
    our ids: nothing is found and nothing changes."""
    with tenant_context(other_tenant):
        stranger = make_user(other_tenant, Role.ADMIN)
        assert Membership.objects.filter(user=stranger).exists()
    client = signed_in(stranger)
    before = snapshot_in(inside)
    target = address(name, other_tenant, objects)
    if method == "GET":
        response = client.get(target)
    else:
        response = client.post(target, post_data(objects, users))
    assert response.status_code == 404
    assert snapshot_in(inside) == before


def snapshot_in(inside):
    with inside():
        return snapshot()
