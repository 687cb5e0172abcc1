"""Every operation of the API against another tenant, read from the schema:

- an operation whose path names an object answers another tenant's admin
  key 404 for our object, and nothing of ours changes;
- an operation that takes ids (or keys) of other objects in its body or
  query answers 400 naming the field when they are ours, and nothing changes
  on either side; every other write is listed as taking none, with why;
- an upsert by external id with our external id stays in their tenant.

The last test holds the tables complete against the schema: a new
operation, or a new id field, fails it by name until it is added here."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import pytest
from django.apps import apps
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from csplatform.api.parsers import BIGINT
from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import ApiKey, Role, TenantScopedModel
from tests.api.conftest import key_client
from tests.api.paths import kinds_of
from tests.api.world import seed
from tests.errors import error_fields, has_field

pytestmark = pytest.mark.django_db

WRITES = {"post", "put", "patch", "delete"}


def tomorrow() -> str:
    return (timezone.localdate() + dt.timedelta(days=1)).isoformat()


NPS = [{"measure": "nps", "weight": 5, "bad": 0, "good": 50}]
NOTE = [{"kind": "timeline_entry", "config": {"title": "Hi"}}]

# A body each write accepts from the caller's own objects `w`, so that a
# refusal is for what a test changes, never for the rest of the body.
BODIES: dict[str, Callable[[dict], dict]] = {
    "POST /api/v1/accounts/": lambda w: {"name": "Hijack"},
    "PUT /api/v1/accounts/{id}/": lambda w: {"name": "Hijack"},
    "PATCH /api/v1/accounts/{id}/": lambda w: {"name": "Hijack"},
    "POST /api/v1/accounts/{id}/achievements/{key}/complete/": lambda w: {},
    "POST /api/v1/accounts/{id}/achievements/{key}/reopen/": lambda w: {},
    "POST /api/v1/accounts/{id}/escalations/": lambda w: {"reason": "Hijack"},
    "POST /api/v1/accounts/{id}/notes/": lambda w: {"body": "Hijack"},
    "POST /api/v1/accounts/{id}/sentiment/": lambda w: {"value": "red", "comment": "Hijack"},
    "POST /api/v1/accounts/{id}/transitions/": lambda w: {"to_stage": "churned"},
    "PUT /api/v1/accounts/external/{external_id}/": lambda w: {"name": "Hijack"},
    "POST /api/v1/contacts/": lambda w: {
        "account": w["account"],
        "name": "Hijack",
        "email": "hijack@c.test",
    },
    "PUT /api/v1/contacts/{id}/": lambda w: {
        "account": w["account"],
        "name": "Hijack",
        "email": "hijack@c.test",
    },
    "PATCH /api/v1/contacts/{id}/": lambda w: {"name": "Hijack"},
    "PUT /api/v1/contacts/external/{external_id}/": lambda w: {
        "account": w["account"],
        "name": "Hijack",
        "email": "hijack@c.test",
    },
    "POST /api/v1/contracts/": lambda w: {
        "account": w["account"],
        "arr": "1",
        "start_date": "2025-01-01",
        "renewal_date": "2026-01-01",
    },
    "PUT /api/v1/contracts/{id}/": lambda w: {
        "account": w["account"],
        "arr": "1",
        "start_date": "2025-01-01",
        "renewal_date": "2026-01-01",
    },
    "PATCH /api/v1/contracts/{id}/": lambda w: {"seats": 3},
    "PUT /api/v1/contracts/external/{external_id}/": lambda w: {
        "account": w["account"],
        "arr": "1",
        "start_date": "2025-01-01",
        "renewal_date": "2026-01-01",
    },
    "POST /api/v1/escalations/{id}/resolve/": lambda w: {"resolution": "Hijack"},
    "PUT /api/v1/event-names/{id}/": lambda w: {"display_name": "Hijack"},
    "PATCH /api/v1/event-names/{id}/": lambda w: {"display_name": "Hijack"},
    "POST /api/v1/events": lambda w: {"account_id": w["account_external_id"], "event": "x"},
    "POST /api/v1/features/": lambda w: {"name": "Hijack"},
    "PUT /api/v1/features/{id}/": lambda w: {"name": "Hijack"},
    "PATCH /api/v1/features/{id}/": lambda w: {"name": "Hijack"},
    "POST /api/v1/health/profiles/": lambda w: {
        "name": "Hijack",
        "stage": "usage",
        "measures": NPS,
    },
    "PUT /api/v1/health/profiles/{id}/": lambda w: {
        "name": "Hijack",
        "stage": "usage",
        "measures": NPS,
    },
    "PATCH /api/v1/health/profiles/{id}/": lambda w: {"name": "Hijack"},
    "POST /api/v1/health/profiles/preview/": lambda w: {
        "name": "Hijack",
        "stage": "usage",
        "measures": NPS,
    },
    "PATCH /api/v1/health/settings/": lambda w: {"nps_window_days": 30},
    "POST /api/v1/nps/": lambda w: {"account": w["account"], "score": 9, "respondent": "r@x.test"},
    "POST /api/v1/playbooks/": lambda w: {"name": "Hijack"},
    "PUT /api/v1/playbooks/{id}/": lambda w: {"name": "Hijack"},
    "PATCH /api/v1/playbooks/{id}/": lambda w: {"name": "Hijack"},
    "POST /api/v1/playbooks/{id}/start/": lambda w: {
        "account_id": w["other_account"],
        "occurrence_key": "again",
    },
    "POST /api/v1/playbooks/{id}/steps/": lambda w: {"title": "Hijack"},
    "PATCH /api/v1/playbooks/{id}/steps/{step_id}/": lambda w: {"title": "Hijack"},
    "POST /api/v1/rules/": lambda w: {
        "name": "Hijack",
        "trigger": "escalation_opened",
        "actions": NOTE,
    },
    "PUT /api/v1/rules/{id}/": lambda w: {
        "name": "Hijack",
        "trigger": "escalation_opened",
        "actions": NOTE,
    },
    "PATCH /api/v1/rules/{id}/": lambda w: {"name": "Hijack"},
    "POST /api/v1/segments/": lambda w: {"name": "Hijack", "filters": {"tier": ["smb"]}},
    "PUT /api/v1/segments/{id}/": lambda w: {"name": "Hijack", "filters": {"tier": ["smb"]}},
    "PATCH /api/v1/segments/{id}/": lambda w: {"name": "Hijack"},
    "POST /api/v1/tasks/": lambda w: {
        "account": w["account"],
        "title": "Hijack",
        "due_date": tomorrow(),
    },
    "PATCH /api/v1/tasks/{id}/": lambda w: {"title": "Hijack"},
    "POST /api/v1/tasks/{id}/snooze/": lambda w: {"until": tomorrow()},
    "POST /api/v1/tasks/{id}/time-entries/": lambda w: {"minutes": 5},
    "POST /api/v1/tasks/{id}/transition/": lambda w: {"action": "start"},
    "POST /api/v1/tasks/reassign/": lambda w: {"task_ids": [w["task"]], "assignee_id": w["csm"]},
}

# Where our ids go in their request, by the field the 400 must name: each
# builds from our objects `a` the body fields (or `?query` parameters) that
# replace theirs.
Ref = Callable[[dict], dict]
ACCOUNT: dict[str, Ref] = {
    "account": lambda a: {"account": a["account"]},
    "account_external_id": lambda a: {"account_external_id": a["account_external_id"]},
}
OWNER: dict[str, Ref] = {
    "owner": lambda a: {"owner": a["csm"]},
    "owner_email": lambda a: {"owner_email": a["csm_email"]},
}
STEP: dict[str, Ref] = {
    "assignee_user": lambda a: {"assignee_rule": "user", "assignee_user": a["csm"]},
    "assignee_group": lambda a: {"assignee_rule": "round_robin", "assignee_group": a["group"]},
    "depends_on": lambda a: {"depends_on": a["step"]},
    "required_skill": lambda a: {"required_skill": a["skill"]},
}
RULE: dict[str, Ref] = {
    "conditions": lambda a: {
        "conditions": [{"field": "segment", "op": "in", "value": a["segment"]}]
    },
    "actions": lambda a: {
        "actions": [{"kind": "start_playbook", "config": {"playbook_id": a["playbook"]}}]
    },
}
SEGMENT_FILTERS: dict[str, Ref] = {"filters": lambda a: {"filters": {"owner": [a["csm"]]}}}
PROFILE: dict[str, Ref] = {"segment": lambda a: {"segment": a["segment"]}}

REFERENCES: dict[str, dict[str, Ref]] = {
    "POST /api/v1/accounts/": OWNER,
    "PUT /api/v1/accounts/{id}/": OWNER,
    "PATCH /api/v1/accounts/{id}/": OWNER,
    "PUT /api/v1/accounts/external/{external_id}/": OWNER,
    "POST /api/v1/contacts/": ACCOUNT,
    "PUT /api/v1/contacts/{id}/": ACCOUNT,
    "PATCH /api/v1/contacts/{id}/": ACCOUNT,
    "PUT /api/v1/contacts/external/{external_id}/": ACCOUNT,
    "POST /api/v1/contracts/": ACCOUNT,
    "PUT /api/v1/contracts/{id}/": ACCOUNT,
    "PATCH /api/v1/contracts/{id}/": ACCOUNT,
    "PUT /api/v1/contracts/external/{external_id}/": ACCOUNT,
    "PUT /api/v1/event-names/{id}/": {"feature": lambda a: {"feature": a["feature"]}},
    "PATCH /api/v1/event-names/{id}/": {"feature": lambda a: {"feature": a["feature"]}},
    "POST /api/v1/health/profiles/": PROFILE,
    "PUT /api/v1/health/profiles/{id}/": PROFILE,
    "PATCH /api/v1/health/profiles/{id}/": PROFILE,
    "POST /api/v1/health/profiles/preview/": {
        **PROFILE,
        "id": lambda a: {"id": a["profile"]},
    },
    "POST /api/v1/nps/": {
        "account": lambda a: {"account": a["account"]},
        "account_id": lambda a: {"account": None, "account_id": a["account_external_id"]},
        "contact": lambda a: {"contact": a["contact"]},
    },
    "POST /api/v1/playbooks/{id}/start/": {"account_id": lambda a: {"account_id": a["account"]}},
    "POST /api/v1/playbooks/{id}/steps/": STEP,
    "PATCH /api/v1/playbooks/{id}/steps/{step_id}/": STEP,
    "POST /api/v1/rules/": RULE,
    "PUT /api/v1/rules/{id}/": RULE,
    "PATCH /api/v1/rules/{id}/": RULE,
    "POST /api/v1/segments/": SEGMENT_FILTERS,
    "PUT /api/v1/segments/{id}/": SEGMENT_FILTERS,
    "PATCH /api/v1/segments/{id}/": SEGMENT_FILTERS,
    "POST /api/v1/tasks/": {
        "account": lambda a: {"account": a["account"]},
        "assignee": lambda a: {"assignee": a["csm"]},
    },
    "POST /api/v1/tasks/reassign/": {
        "task_ids": lambda a: {"task_ids": [a["task"]]},
        "assignee_id": lambda a: {"assignee_id": a["csm"]},
    },
    # Lists filtered by our objects.
    "GET /api/v1/accounts/": {
        "owner": lambda a: {"?owner": a["csm"]},
        "segment": lambda a: {"?segment": a["segment"]},
    },
    "GET /api/v1/contacts/": {"account": lambda a: {"?account": a["account"]}},
    "GET /api/v1/contracts/": {"account": lambda a: {"?account": a["account"]}},
    "GET /api/v1/escalations/": {"account": lambda a: {"?account": a["account"]}},
    "GET /api/v1/health/renewals/": {
        "owner": lambda a: {"?owner": a["csm"]},
        "segment": lambda a: {"?segment": a["segment"]},
    },
    "GET /api/v1/health/renewals/summary/": {
        "owner": lambda a: {"?owner": a["csm"]},
        "segment": lambda a: {"?segment": a["segment"]},
    },
    "GET /api/v1/health/scores/": {
        "owner": lambda a: {"?owner": a["csm"]},
        "profile": lambda a: {"?profile": a["profile"]},
        "segment": lambda a: {"?segment": a["segment"]},
    },
    "GET /api/v1/nps/": {"account": lambda a: {"?account": a["account"]}},
    "GET /api/v1/tasks/": {
        "account": lambda a: {"?account": a["account"]},
        "assignee": lambda a: {"?assignee": a["csm"]},
        "playbook": lambda a: {"?playbook": a["playbook"]},
    },
    "GET /api/v1/timeline/": {"account": lambda a: {"?account": a["account"]}},
}

# Writes whose body names no other object, and why.
NO_IDS: dict[str, str] = {
    "POST /api/v1/accounts/{id}/achievements/{key}/complete/": "the achievement is in the path",
    "POST /api/v1/accounts/{id}/achievements/{key}/reopen/": "the achievement is in the path",
    "POST /api/v1/accounts/{id}/escalations/": "a reason",
    "POST /api/v1/accounts/{id}/notes/": "a note's text and kind",
    "POST /api/v1/accounts/{id}/sentiment/": "a value and a comment",
    "POST /api/v1/accounts/{id}/transitions/": "stages, a reason",
    "POST /api/v1/escalations/{id}/resolve/": "a resolution",
    "POST /api/v1/events": "account_id is the caller's own CRM id: an event for an account "
    "not synced yet is kept and attached when it is (nothing accepted is lost); it is "
    "looked up in the caller's tenant only",
    "POST /api/v1/features/": "a name and a flag",
    "PUT /api/v1/features/{id}/": "a name and a flag",
    "PATCH /api/v1/features/{id}/": "a name and a flag",
    "DELETE /api/v1/health/profiles/{id}/": "no body",
    "PATCH /api/v1/health/settings/": "numbers, an event name and timeline kinds",
    "POST /api/v1/playbooks/": "a name, a stage, a flag",
    "PUT /api/v1/playbooks/{id}/": "a name, a stage, a flag",
    "PATCH /api/v1/playbooks/{id}/": "a name, a stage, a flag",
    "DELETE /api/v1/playbooks/{id}/": "no body",
    "DELETE /api/v1/playbooks/{id}/steps/{step_id}/": "no body",
    "DELETE /api/v1/rules/{id}/": "no body",
    "POST /api/v1/rules/{id}/action-runs/{run_id}/retry/": "no body",
    "PATCH /api/v1/tasks/{id}/": "the task's own fields (no assignee: reassign moves tasks)",
    "POST /api/v1/tasks/{id}/snooze/": "a day",
    "POST /api/v1/tasks/{id}/time-entries/": "minutes, a day, a note",
    "POST /api/v1/tasks/{id}/transition/": "an action and an outcome",
}


def operations() -> dict[str, dict]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {
        f"{method.upper()} {path}": {**operation, "raw": schema}
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
        if method in WRITES | {"get"}
    }


def _split(op: str) -> tuple[str, str]:
    method, path = op.split(" ", 1)
    return method.lower(), path


def _url(path: str, world: dict) -> str:
    names = kinds_of(path)
    return re.sub(r"\{(\w+)\}", lambda m: str(world[names[m.group(1)]]), path)


def _request(client, op: str, world: dict, patch: dict | None = None):
    method, path = _split(op)
    body = BODIES[op](world) if op in BODIES else None
    query = {}
    for key, value in (patch or {}).items():
        if key.startswith("?"):
            query[key[1:]] = value
        elif value is None:
            body.pop(key, None)
        else:
            body[key] = value
    url = _url(path, world)
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    if body is None:
        return getattr(client, method)(url)
    return getattr(client, method)(url, body, format="json")


def snapshot(tenant) -> dict:
    """Every row of the tenant, model by model (but its API keys, which
    record when the caller's key was last used)."""
    models = [m for m in apps.get_models() if issubclass(m, TenantScopedModel) and m is not ApiKey]
    with tenant_context(tenant):
        return {m._meta.label: list(m.objects.order_by("pk").values()) for m in models}


def _changed(before: dict, after: dict) -> list[str]:
    return [label for label in before if before[label] != after[label]]


@pytest.fixture
def worlds(tenant, other_tenant):
    return seed(tenant, "ours"), seed(other_tenant, "theirs")


def _object_ops() -> list[str]:
    return [
        op
        for op in operations()
        if "{" in op and "{external_id}" not in op  # upserts: test below
    ]


def test_our_objects_are_404_to_another_tenant_and_nothing_changes(tenant, other_tenant, worlds):
    ours, theirs = worlds
    client = key_client(other_tenant, Role.ADMIN)
    before = snapshot(tenant)
    problems = []
    for op in _object_ops():
        # The path names our objects; the body is one theirs would accept.
        method, path = _split(op)
        body = BODIES[op](theirs) if op in BODIES else None
        url = _url(path, ours)
        response = (
            getattr(client, method)(url, body, format="json")
            if body is not None
            else getattr(client, method)(url)
        )
        content = response.content.decode()
        if response.status_code != 404:
            problems.append(f"{op}: {response.status_code} {content[:200]}")
        elif "ours" in content:
            problems.append(f"{op}: the 404 shows our data: {content[:200]}")
        changed = _changed(before, snapshot(tenant))
        if changed:
            problems.append(f"{op}: changed our {changed}")
            before = snapshot(tenant)
    assert not problems, "\n".join(problems)


def test_our_ids_in_another_tenants_requests_are_400_by_field(tenant, other_tenant, worlds):
    ours, theirs = worlds
    client = key_client(other_tenant, Role.ADMIN)
    ours_before, theirs_before = snapshot(tenant), snapshot(other_tenant)
    problems = []
    for op, fields in REFERENCES.items():
        for field, place in fields.items():
            response = _request(client, op, theirs, place(ours))
            if response.status_code != 400 or not has_field(response, field):
                shown = error_fields(response) if response.status_code == 400 else response.content
                problems.append(f"{op} [{field}]: {response.status_code} {str(shown)[:200]}")
            for tenant_, before in ((tenant, ours_before), (other_tenant, theirs_before)):
                changed = _changed(before, snapshot(tenant_))
                if changed:
                    problems.append(f"{op} [{field}]: changed {tenant_.name}'s {changed}")
                    ours_before, theirs_before = snapshot(tenant), snapshot(other_tenant)
    assert not problems, "\n".join(problems)


def test_an_upsert_with_our_external_id_stays_in_their_tenant(tenant, other_tenant, worlds):
    """Their sync naming our CRM id creates (or updates) their own record."""
    ours, theirs = worlds
    client = key_client(other_tenant, Role.ADMIN)
    before = snapshot(tenant)
    for op in [op for op in operations() if "{external_id}" in op]:
        method, path = _split(op)
        response = getattr(client, method)(_url(path, ours), BODIES[op](theirs), format="json")
        assert response.status_code in (200, 201), (op, response.content)
        assert response.json()["id"] not in {ours["account"], ours["contact"], ours["contract"]}
        assert not _changed(before, snapshot(tenant)), op


def _id_fields(raw: dict, schema: dict, prefix: str = "") -> set[str]:
    """Fields of a schema that hold ids (a whole number from 1 to a bigint)."""
    while "$ref" in schema:
        schema = raw["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    if schema.get("type") == "integer" and schema.get("minimum") == 1:
        return {prefix} if schema.get("maximum") == BIGINT else set()
    found: set[str] = set()
    for part in schema.get("oneOf", []) + schema.get("anyOf", []) + schema.get("allOf", []):
        found |= _id_fields(raw, part, prefix)
    if "items" in schema:
        found |= _id_fields(raw, schema["items"], prefix)
    for name, sub in schema.get("properties", {}).items():
        found |= _id_fields(raw, sub, f"{prefix}.{name}" if prefix else name)
    return found


def test_the_tables_cover_every_operation_of_the_schema():
    ops = operations()
    missing = []
    for op, operation in ops.items():
        method, path = _split(op)
        raw = operation["raw"]
        for name in re.findall(r"\{(\w+)\}", path):
            if name not in kinds_of(path):
                missing.append(f"{op}: tests/api/paths.py names no kind for {{{name}}}")
        if "requestBody" in operation and op not in BODIES:
            missing.append(f"{op}: no body in BODIES")
        if method in WRITES and (op in REFERENCES) == (op in NO_IDS):
            missing.append(f"{op}: list it in REFERENCES or (with the reason) in NO_IDS")
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        ids = _id_fields(raw, body["schema"]) if body else set()
        for parameter in operation.get("parameters", []):
            # A page number has the bounds of an id, and names no object.
            if parameter["in"] == "query" and parameter["name"] != "page":
                ids |= {parameter["name"]} & _id_fields(raw, parameter["schema"], parameter["name"])
        for field in ids:
            root = field.split(".")[0]
            if root not in REFERENCES.get(op, {}):
                missing.append(f"{op}: the id field {field} is not in REFERENCES")
    stale = (set(BODIES) | set(REFERENCES) | set(NO_IDS)) - set(ops)
    assert not missing and not stale, "\n".join(
        missing + [f"{op}: not in the schema" for op in stale]
    )
