"""How the fuzzer runs (tests/api/test_fuzz.py), and the few things a schema
cannot say, each narrowed to the answers it explains and with its reason.

Everything else must hold as the schema says: a rule the code enforces on
one value (a range, a length, a choice) is declared in the schema instead."""

from __future__ import annotations

import re
from collections import Counter

from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import AcceptedNegativeData
from schemathesis.openapi.checks import RejectedPositiveData

from tests.api.paths import PATH_KINDS, kinds_of

SEED = 20260101
REJECTIONS = ["400", "401", "403", "404", "405", "406", "409", "415", "422", "428", "429", "5xx"]
# Per operation and phase. The coverage phase adds its own cases (boundaries,
# each wrong type, missing parts) on top of these.
EXAMPLES = 25


def _seeded_paths(ids: dict) -> list[dict]:
    """Path ids fixed to the seeded objects, per resource, so that every
    phase reaches the views' real work rather than 404s. Unknown and
    foreign ids are the cross-tenant matrix's (test_cross_tenant.py).
    External ids stay free: an upsert takes any."""
    operations = []
    for prefix, kinds in PATH_KINDS:
        fixed = {f"path.{name}": str(ids[kinds[name]]) for name in _fixed(prefix)}
        if fixed:
            regex = "^" + re.escape(prefix)
            operations.append({"include-path-regex": regex, "parameters": fixed})
    return operations


def config(secret: str, ids: dict) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(settings(secret, ids))


def settings(secret: str, ids: dict) -> dict:
    """The run's settings, as schemathesis.toml would hold them."""
    return {
        "seed": SEED,
        # As the schema's `apiKey` scheme, so the auth checks know it is ours.
        "auth": {"openapi": {"apiKey": {"bearer": secret}}},
        "operations": _seeded_paths(ids),
        "generation": {
            "mode": "all",  # positive and negative
            "max-examples": EXAMPLES,
            "deterministic": True,
            "database": "none",  # the seed decides the cases; nothing kept between runs
            # Every string the API stores refuses NUL (PostgreSQL text
            # cannot hold it), by the parser, wherever it sits. OpenAPI has
            # no way to say so short of a pattern on every string; the
            # refusal has its own tests (tests/api/test_error_contract.py).
            "allow-x00": False,
        },
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": True},
            # Error feedback reads our 400s' `fields` map and sends it back
            # as a body property named "fields", then counts the case as
            # negative for reasons it made up.
            "fuzzing": {"enabled": True, "error-feedback": {"enabled": False}},
            "stateful": {"enabled": False},
        },
        "checks": {
            "enabled": True,
            # A body over a limit (a batch of more than 1,000 events) is
            # refused with 413, which the check does not count by default.
            "negative_data_rejection": {"expected-statuses": [*REJECTIONS, "413"]},
        },
    }


# Positive data the API refuses by design: valid by the schema, but an
# OpenAPI 3.0 schema cannot say what makes it wrong. Each rule names the
# fields it covers and the messages it explains: (fields, message, why).
ANY = None
BY_DESIGN_400 = [
    (
        {
            "account",
            "account_id",
            "account_external_id",
            "assignee",
            "assignee_id",
            "assignee_user",
            "assignee_group",
            "contact",
            "depends_on",
            "feature",
            "id",
            "owner",
            "owner_email",
            "playbook",
            "profile",
            "required_skill",
            "segment",
            "task_ids",
        },
        r"^No |does not exist|^Choose (a|another) |^Not a member of this workspace",
        "the id or key of another object: a schema says it is a whole number (or a "
        "text), not which exist in this tenant; unknown ones (another tenant's too) "
        "are a 400 naming the field",
    ),
    ({"assignee"}, r"needs a signed-in user", "`me` means the signed-in user; a key has none"),
    (
        ANY,
        r"already exists|^There is already|already has a contact with this email",
        "unique within the tenant (or the account): the value is taken by another object",
    ),
    (
        ANY,
        r"^Green from must be at least red below|^Choose a stage or a segment|"
        r"^Give the account's|^Each measure once|^Must be at least arr_min|"
        r"^Names a different (user|account) than|^Choose the (person|group) |"
        r"^Bad and good must differ|^The renewal date cannot be before the start date",
        "a rule across fields or list items (red_below <= green_from; a stage or a "
        "segment; the account by id or by external id, not two different ones; each "
        "measure once; arr_min <= arr_max; a person for the `user` assignee rule)",
    ),
    (
        ANY,
        r"already has an open escalation|waits for this step; keep this step before it|"
        r"^Snooze to a day after today|^The default profile cannot be deleted|"
        r"is the default profile: edit it instead|^The default profile applies to every|"
        r"is already resolved|switched off; it cannot start|"
        r"^Only a failed or waiting action is retried|^Only an open task can be snoozed",
        "the state of stored objects or today's date decides",
    ),
    (
        ANY,
        r"^Choose a day from \d{4}-\d\d-\d\d to \d{4}-\d\d-\d\d",
        "days are bounded (2000-01-01 to a few years from today): OpenAPI 3.0 has no "
        "bounds for dates",
    ),
    (
        ANY,
        r"decimal places|digits in total",
        "a decimal's places: the schema says them in words, since multipleOf is not "
        "exact for binary numbers",
    ),
    (
        ANY,
        r"^Enter a valid email address",
        "Django's email check is stricter than the `email` format's RFC (a top-level "
        "domain of two letters or more, no quoted local part)",
    ),
    (
        {"trigger_config", "conditions", "actions"},
        r".",
        "a rule's trigger settings, conditions and action settings depend on the kind "
        "chosen; the schema declares the kinds, work.rules checks each kind's settings",
    ),
    (
        {"filters"},
        r"^Not a member of this workspace",
        "a segment's owners are members of the workspace",
    ),
    (
        {"filters"},
        r"^An attribute name starts with a letter",
        "attribute names have a pattern, and OpenAPI 3.0 has no propertyNames",
    ),
]
# The parser's limits (numbers within a bigint, nesting at most 32 deep, no
# lone surrogates) hold for every value of a body, also inside free-form
# objects (attributes, settings) and properties an operation does not
# declare: those carry no schema to say so.
PARSER_LIMITS = re.compile(r"out of range|invalid text|finite|Nested more than")


def _explained(path: str, messages: list[str], body: dict | None, raw: dict) -> bool:
    if all(PARSER_LIMITS.search(m) for m in messages) and _undeclared(raw, body, path):
        return True
    root = path.split(".", 1)[0]
    return any(
        (fields is ANY or root in fields) and all(re.search(pattern, m) for m in messages)
        for fields, pattern, _why in BY_DESIGN_400
    )


def _resolve(raw: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = raw["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _undeclared(raw: dict, schema: dict | None, path: str) -> bool:
    """Whether `path` leads out of what the body schema declares."""
    if schema is None:
        return True
    for part in path.split("."):
        schema = _resolve(raw, schema)
        if schema.get("type") == "array" and "items" in schema:
            schema = schema["items"]
        elif part in schema.get("properties", {}):
            schema = schema["properties"][part]
        else:
            return True
    return False


NEGATIVE_PATH = re.compile(r"Invalid component: parameter `(\w+)` in path")


def _fixed(path: str) -> set[str]:
    return {name for name in kinds_of(path) if name != "external_id"}


def by_design(failure, case, response, raw: dict) -> bool:
    """Whether `failure` is one the schema cannot prevent (see above)."""
    if isinstance(failure, AcceptedNegativeData):
        # The path ids are fixed to the seeded objects (above): a case meant
        # to send a bad one sends the real one, and is rightly accepted.
        bad_path = NEGATIVE_PATH.search(failure.message or "")
        if bad_path and bad_path.group(1) in _fixed(case.operation.path):
            return True
    if isinstance(failure, RejectedPositiveData) and response.status_code == 400:
        try:
            fields = response.json().get("fields") or {}
        except ValueError:
            return False
        body = _body_schema(raw, case.operation.path, case.method)
        return bool(fields) and all(
            _explained(path, messages, body, raw) for path, messages in fields.items()
        )
    if (
        isinstance(failure, AcceptedNegativeData)
        and case.operation.label == "POST /api/v1/events"
        and response.status_code == 200
    ):
        # Ingestion answers a batch with 200 and lists each event it refused
        # (by index, with the reason), storing the good ones: a body that is
        # one bad event is a batch of one, accepted 0, rejected 1.
        result = response.json()
        return result.get("accepted") == 0 and bool(result.get("rejected"))
    return False


def _body_schema(raw: dict, path: str, method: str) -> dict | None:
    operation = raw["paths"][path][method.lower()]
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    return (body or {}).get("schema")


def register(schema, calls: Counter) -> None:
    """Hooks on this schema only: count the requests by phase, and drop the
    failures above."""

    @schema.hook
    def after_call(context, case, response):
        phase = case.meta.phase.name.value if case.meta is not None else "explicit"
        calls[phase] += 1

    @schema.hook
    def filter_failure(context, failure, case, response):
        return not by_design(failure, case, response, schema.raw_schema)
