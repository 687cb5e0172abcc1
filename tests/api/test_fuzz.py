"""Schemathesis over every operation of /api/schema/, against a live server:
positive and negative data from the schema, every check. The schema must
tell the truth (constraints, error bodies, response shapes) and the server
must never answer 5xx.

What OpenAPI cannot say is in tests/api/fuzz_rules.py, each with its reason."""

from __future__ import annotations

import pytest
import schemathesis

from csplatform.tenancy.models import Role
from tests.api import fuzz_rules
from tests.api.conftest import key_client
from tests.api.world import seed

# The live server answers from its own thread and connection: it sees only
# committed rows, so the seeded tenant must really be committed.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api_schema(live_server, tenant):
    ids = seed(tenant)
    secret = key_client(tenant, Role.ADMIN).secret
    schema = schemathesis.openapi.from_url(
        f"{live_server.url}/api/schema/", config=fuzz_rules.config(secret, ids)
    )
    fuzz_rules.register(schema)
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_every_operation_holds_to_its_schema(case):
    case.call_and_validate()
