"""Every endpoint of the work API in one matrix: a viewer's key changes
nothing (403), a CSM's key cannot use the leaders' writes (403), and
nothing changes in any of these. A test holds the matrix complete against
the router. Another tenant's key against our objects and ids is in
tests/api/test_cross_tenant.py, for every operation of the API."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import URLPattern
from django.utils import timezone

from csplatform.tenancy.models import Role
from tests import factories
from tests.api.conftest import key_client
from tests.pages.test_work_access import snapshot
from tests.work.rules_data import evaluate, rule
from work import services
from work.models import ActionRun, Task

pytestmark = pytest.mark.django_db

V, C, L = Role.VIEWER, Role.CSM, Role.LEADER

# (method, path template, least role, body)
ENDPOINTS = [
    ("get", "/api/v1/tasks/", V, None),
    ("post", "/api/v1/tasks/", C, "task"),
    ("get", "/api/v1/tasks/{task}/", V, None),
    ("patch", "/api/v1/tasks/{task}/", C, "task_edit"),
    ("post", "/api/v1/tasks/{task}/transition/", C, "transition"),
    ("get", "/api/v1/tasks/{task}/time-entries/", V, None),
    ("post", "/api/v1/tasks/{task}/time-entries/", C, "time"),
    ("post", "/api/v1/tasks/{task}/snooze/", C, "snooze"),
    ("post", "/api/v1/tasks/reassign/", L, "reassign"),
    ("get", "/api/v1/playbooks/", V, None),
    ("post", "/api/v1/playbooks/", L, "playbook"),
    ("get", "/api/v1/playbooks/{playbook}/", V, None),
    ("put", "/api/v1/playbooks/{playbook}/", L, "playbook"),
    ("patch", "/api/v1/playbooks/{playbook}/", L, "playbook"),
    ("delete", "/api/v1/playbooks/{playbook}/", L, None),
    ("post", "/api/v1/playbooks/{playbook}/steps/", L, "step"),
    ("patch", "/api/v1/playbooks/{playbook}/steps/{step}/", L, "step"),
    ("delete", "/api/v1/playbooks/{playbook}/steps/{step}/", L, None),
    ("post", "/api/v1/playbooks/{playbook}/start/", C, "start"),
    ("get", "/api/v1/rules/", C, None),
    ("post", "/api/v1/rules/", L, "rule"),
    ("get", "/api/v1/rules/{rule}/", C, None),
    ("put", "/api/v1/rules/{rule}/", L, "rule"),
    ("patch", "/api/v1/rules/{rule}/", L, "rule"),
    ("delete", "/api/v1/rules/{rule}/", L, None),
    ("get", "/api/v1/rules/{rule}/firings/", C, None),
    ("post", "/api/v1/rules/{rule}/action-runs/{action_run}/retry/", L, None),
    ("get", "/api/v1/capacity/", L, None),
]

API_URL_MODULES = (
    "work.api.urls_tasks",
    "work.api.urls_playbooks",
    "work.api.urls_rules",
    "work.api.urls_capacity",
)


@pytest.fixture
def objects(inside, users):
    csm = users[Role.CSM]
    with inside():
        account = factories.account(owner=csm, name="Initech")
        playbook = services.playbook_save(name="Kickoff")
        step = services.playbook_step_save(playbook=playbook, title="Call")
        run, _ = services.playbook_start(
            playbook=playbook, account=account, occurrence_key="k", actor=None
        )
        r = rule(
            "escalation_opened",
            actions=[{"kind": "notify_email", "config": {"to": "owner"}}],
            name="Escalation alert",
        )
        evaluate(trigger="escalation_opened", account_id=account.pk, occurrence_key="e", payload={})
    with inside():
        return {
            "account": account.pk,
            "task": Task.objects.get(run=run).pk,
            "playbook": playbook.pk,
            "step": step.pk,
            "rule": r.pk,
            "action_run": ActionRun.objects.get(firing__rule=r).pk,
            "leader": users[Role.LEADER].pk,
        }


def body(kind, objects) -> dict | None:
    """Input each endpoint accepts, so a refusal is the gate's."""
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    return {
        None: None,
        "task": {"account": objects["account"], "title": "New", "due_date": tomorrow},
        "task_edit": {"title": "Renamed", "status": "done"},
        "transition": {"action": "complete"},
        "time": {"minutes": 15},
        "snooze": {"until": tomorrow},
        "reassign": {"task_ids": [objects["task"]], "assignee_id": objects["leader"]},
        "playbook": {"name": "Renamed"},
        "step": {"title": "Renamed"},
        "start": {"account_id": objects["account"], "occurrence_key": "again"},
        "rule": {
            "name": "Renamed",
            "trigger": "escalation_opened",
            "actions": [{"kind": "timeline_entry", "config": {"title": "Escalated"}}],
        },
    }[kind]


def call(client, method, template, kind, objects):
    path = template.format(**objects)
    data = body(kind, objects)
    if data is None:
        return getattr(client, method)(path)
    return getattr(client, method)(path, data, format="json")


def snapshot_in(inside):
    with inside():
        return snapshot()


def test_the_matrix_names_every_work_endpoint():
    routes = 0
    for module in API_URL_MODULES:
        for pattern in __import__(module, fromlist=["urlpatterns"]).urlpatterns:
            assert isinstance(pattern, URLPattern)
            methods = {
                m for m in getattr(pattern.callback, "actions", {"get": "get"}) if m != "head"
            }
            routes += len(methods - {"options"})
    # the router's patterns with their methods, each a row above (a new one must be added)
    assert routes == len(ENDPOINTS)


WRITES = [e for e in ENDPOINTS if e[0] != "get"]


@pytest.mark.parametrize(("method", "template", "role", "kind"), WRITES)
def test_a_viewer_key_changes_nothing(tenant, inside, objects, method, template, role, kind):
    before = snapshot_in(inside)
    response = call(key_client(tenant, V), method, template, kind, objects)
    assert response.status_code == 403, response.content
    assert snapshot_in(inside) == before


@pytest.mark.parametrize(
    ("method", "template", "role", "kind"), [e for e in ENDPOINTS if e[2] == L]
)
def test_a_csm_key_cannot_use_the_leaders_endpoints(
    tenant, inside, objects, method, template, role, kind
):
    before = snapshot_in(inside)
    response = call(key_client(tenant, C), method, template, kind, objects)
    assert response.status_code == 403, response.content
    assert snapshot_in(inside) == before
