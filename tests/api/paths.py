"""What each path parameter of the API names: the kinds of object the
fuzzer fills in and the cross-tenant matrix aims at (tests/api/world.py
makes one of each kind). Plain data, importable without Django."""

from __future__ import annotations

# What each path parameter names, by the resource its path starts with:
# (path prefix, {parameter: kind of object}); the kinds are seed()'s keys.
PATH_KINDS = [
    ("/api/v1/accounts/{id}/", {"id": "account", "key": "achievement"}),
    ("/api/v1/contacts/{id}/", {"id": "contact"}),
    ("/api/v1/contracts/{id}/", {"id": "contract"}),
    ("/api/v1/escalations/{id}/", {"id": "escalation"}),
    ("/api/v1/event-names/{id}/", {"id": "event_name"}),
    ("/api/v1/features/{id}/", {"id": "feature"}),
    ("/api/v1/health/profiles/{id}/", {"id": "profile"}),
    ("/api/v1/playbooks/{id}/", {"id": "playbook", "step_id": "step"}),
    ("/api/v1/rules/{id}/", {"id": "rule", "run_id": "action_run"}),
    ("/api/v1/segments/{id}/", {"id": "segment"}),
    ("/api/v1/tasks/{id}/", {"id": "task"}),
    ("/api/v1/accounts/external/{external_id}/", {"external_id": "account_external_id"}),
    ("/api/v1/contacts/external/{external_id}/", {"external_id": "contact_external_id"}),
    ("/api/v1/contracts/external/{external_id}/", {"external_id": "contract_external_id"}),
]


def kinds_of(path: str) -> dict[str, str]:
    """{path parameter: kind} for an operation's path template."""
    for prefix, kinds in PATH_KINDS:
        if path.startswith(prefix):
            return kinds
    return {}
