"""Every list endpoint costs the same number of queries for 3 rows as for 30."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Role
from lifecycle import services
from tests import factories
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def _accounts(n, *, tenant, ctx):
    for _ in range(n):
        owner = make_user(tenant, Role.CSM)  # a distinct owner per row
        acct = factories.account(owner=owner, tier="strategic")
        factories.contract(acct)
        factories.contact(acct, role="champion")
        services.escalation_open(account=acct, reason="r", actor=owner)
        services.note_add(account=acct, body="n", actor=owner)
        ctx.setdefault("accounts", []).append(acct)


def _segments(n, *, tenant, ctx):
    for _ in range(n):
        services.segment_save(
            name=f"Segment {len(ctx.setdefault('segs', []))}", filters={"tier": "smb"}
        )
        ctx["segs"].append(1)


def _timeline_of_one(n, *, tenant, ctx):
    acct = ctx.setdefault("one", None) or factories.account()
    ctx["one"] = acct
    for _ in range(n):
        services.note_add(account=acct, body="n", actor=make_user(tenant, Role.CSM))


def _escalations_of_one(n, *, tenant, ctx):
    acct = ctx.setdefault("one", None) or factories.account()
    ctx["one"] = acct
    for _ in range(n):
        user = make_user(tenant, Role.CSM)
        esc = services.escalation_open(account=acct, reason="r", actor=user)
        services.escalation_resolve(escalation=esc, resolution="done", actor=user)


def _segment_accounts(n, *, tenant, ctx):
    if "seg" not in ctx:
        ctx["seg"] = services.segment_save(name="Strategic", filters={"tier": ["strategic"]})
    _accounts(n, tenant=tenant, ctx=ctx)


CASES = {
    "accounts": (_accounts, lambda ctx: "/api/v1/accounts/"),
    "accounts filtered": (
        _accounts,
        lambda ctx: "/api/v1/accounts/?tier=strategic&escalated=true&search=Customer",
    ),
    "contacts": (_accounts, lambda ctx: "/api/v1/contacts/?role=champion"),
    "contracts": (_accounts, lambda ctx: "/api/v1/contracts/?status=active"),
    "segments": (_segments, lambda ctx: "/api/v1/segments/"),
    "segment accounts": (
        _segment_accounts,
        lambda ctx: f"/api/v1/segments/{ctx['seg'].pk}/accounts/",
    ),
    "escalations": (_accounts, lambda ctx: "/api/v1/escalations/?open=true"),
    "account escalations": (
        _escalations_of_one,
        lambda ctx: f"/api/v1/accounts/{ctx['one'].pk}/escalations/",
    ),
    "timeline": (_accounts, lambda ctx: "/api/v1/timeline/"),
    "account timeline": (
        _timeline_of_one,
        lambda ctx: f"/api/v1/accounts/{ctx['one'].pk}/timeline/?kind=note",
    ),
}


def _measure(client, url) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        res = client.get(url)
    assert res.status_code == 200, res.content
    return len(queries.captured_queries), len(res.json()["results"])


@pytest.mark.parametrize("name", list(CASES))
def test_list_query_count_does_not_grow_with_rows(tenant, api, name):
    make_rows, url_of = CASES[name]
    ctx: dict = {}
    with tenant_context(tenant):
        make_rows(3, tenant=tenant, ctx=ctx)
    url = url_of(ctx)
    api.get(url)  # first call records the key's last use; measure steady state
    few_queries, few_rows = _measure(api, url)

    with tenant_context(tenant):
        make_rows(27, tenant=tenant, ctx=ctx)
    many_queries, many_rows = _measure(api, url)

    assert few_rows >= 3
    assert many_rows >= 30
    assert many_queries == few_queries
