"""NPS answers over the API (idempotent by external_id), and the query counts
of every health list endpoint."""

from __future__ import annotations

import pytest

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Role
from health.models import NpsResponse
from health.services import csm_sentiment_set, health_profile_save
from lifecycle.models import TimelineEntry
from tests import factories
from tests.api.health_data import judged_account, rescore
from tests.conftest import make_user
from tests.errors import error_fields, has_field

pytestmark = pytest.mark.django_db


def test_an_integration_posts_an_answer_once_whatever_the_retries(tenant, api):
    with tenant_context(tenant):
        acct = factories.account(external_id="acme-001")
        pat = factories.contact(acct, email="pat@acme.test")
    body = {
        "account_id": "acme-001",
        "score": 9,
        "contact": pat.pk,
        "comment": "Reports save us hours",
        "responded_at": "2026-11-20T10:00:00Z",
        "external_id": "survey-42-pat",
    }
    first = api.post("/api/v1/nps", body, format="json")
    assert first.status_code == 201, first.content
    answer = first.json()
    assert answer["account"] == acct.pk and answer["account_external_id"] == "acme-001"
    assert (answer["score"], answer["category"], answer["respondent"]) == (
        9,
        "promoter",
        "pat@acme.test",
    )
    assert (answer["contact"], answer["responded_at"]) == (pat.pk, "2026-11-20T10:00:00Z")
    replay = api.post("/api/v1/nps", {**body, "score": 3}, format="json")
    assert replay.status_code == 200
    assert replay.json() == answer  # the answer stored the first time
    also_slash = api.post("/api/v1/nps/", body, format="json")
    assert also_slash.status_code == 200 and also_slash.json()["id"] == answer["id"]
    with tenant_context(tenant):
        assert NpsResponse.objects.count() == 1
        assert TimelineEntry.objects.filter(account=acct, kind="nps_received").count() == 1


def test_an_answer_by_internal_id_and_email_moves_the_score(tenant, api):
    with tenant_context(tenant):
        acct = judged_account(nps=None, sentiment="yellow")
        rescore()  # sentiment + support load: (1000 + 250) / 15 = 83
    res = api.post(
        "/api/v1/nps", {"account": acct.pk, "score": 2, "email": "sam@acme.test"}, format="json"
    )
    assert res.status_code == 201, res.content
    assert (res.json()["respondent"], res.json()["category"]) == ("sam@acme.test", "detractor")
    with tenant_context(tenant):
        rescore()
    card = api.get(f"/api/v1/accounts/{acct.pk}/health/").json()
    # a detractor: NPS -100 -> 0 points; (0 + 1000 + 250) / 25 = 50
    assert (card["score"], card["band"]) == (50, "yellow")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"account_id": "nobody", "score": 9}, "account_id"),
        ({"account": 999999, "score": 9}, "account"),
        ({"score": 9}, "account_id"),
        ({"account_id": "acme-001", "score": 11}, "score"),
        ({"account_id": "acme-001", "score": -1}, "score"),
        ({"account_id": "acme-001", "score": "nine"}, "score"),
        ({"account_id": "acme-001", "score": 9, "email": "not-an-email"}, "email"),
        ({"account_id": "acme-001", "score": 9, "responded_at": "yesterday"}, "responded_at"),
        # dates past sane bounds: before 2000, or an answer from the future
        (
            {"account_id": "acme-001", "score": 9, "responded_at": "0202-05-01T10:00:00Z"},
            "responded_at",
        ),
        (
            {"account_id": "acme-001", "score": 9, "responded_at": "2999-05-01T10:00:00Z"},
            "responded_at",
        ),
        ({"account_id": "acme\x00001", "score": 9}, "account_id"),
        ({"account_id": "acme-001", "score": 9, "contact": "OTHER"}, "contact"),
        ({"account_id": "acme-001", "account": "OTHER", "score": 9}, "account_id"),
    ],
)
def test_bad_answers_are_400_naming_the_field_and_store_nothing(tenant, api, body, field):
    with tenant_context(tenant):
        factories.account(external_id="acme-001")
        elsewhere = factories.account(external_id="other-002")
        stranger = factories.contact(elsewhere)
    body = {
        k: (stranger.pk if k == "contact" else elsewhere.pk) if v == "OTHER" else v
        for k, v in body.items()
    }
    res = api.post("/api/v1/nps", body, format="json")
    assert res.status_code == 400, res.content
    assert has_field(res, field), error_fields(res)
    with tenant_context(tenant):
        assert not NpsResponse.objects.exists()


def test_nps_answers_stay_within_their_tenant(tenant, other_tenant, api, other_api):
    with tenant_context(tenant):
        acct = factories.account(external_id="acme-001")
        contact = factories.contact(acct)
    mine = api.post(
        "/api/v1/nps", {"account_id": "acme-001", "score": 10, "external_id": "s-1"}, format="json"
    )
    assert mine.status_code == 201
    # another tenant cannot name our account, contact or list our answers
    res = other_api.post("/api/v1/nps", {"account_id": "acme-001", "score": 0}, format="json")
    assert res.status_code == 400 and "account_id" in error_fields(res)
    with tenant_context(other_tenant):
        factories.account(external_id="their-1")
    res = other_api.post(
        "/api/v1/nps", {"account_id": "their-1", "score": 0, "contact": contact.pk}, format="json"
    )
    assert res.status_code == 400 and "contact" in error_fields(res)
    assert other_api.get("/api/v1/nps/").json()["count"] == 0
    assert other_api.get(f"/api/v1/nps/?account={acct.pk}").status_code == 400
    # an external id is per tenant: theirs is a first post, not a replay of ours
    theirs = other_api.post(
        "/api/v1/nps", {"account_id": "their-1", "score": 0, "external_id": "s-1"}, format="json"
    )
    assert theirs.status_code == 201 and theirs.json()["id"] != mine.json()["id"]
    with tenant_context(other_tenant):
        assert list(NpsResponse.objects.values_list("score", flat=True)) == [0]
    with tenant_context(tenant):
        assert list(NpsResponse.objects.values_list("score", flat=True)) == [10]


def test_viewers_read_answers_but_cannot_post(tenant, viewer_api):
    with tenant_context(tenant):
        factories.account(external_id="acme-001")
    res = viewer_api.post("/api/v1/nps", {"account_id": "acme-001", "score": 9}, format="json")
    assert res.status_code == 403
    assert viewer_api.get("/api/v1/nps/").status_code == 200


def test_answers_are_listed_newest_first_by_account_and_category(tenant, api):
    with tenant_context(tenant):
        a = factories.account(external_id="a")
        b = factories.account(external_id="b")
    for account_id, score, when in (
        ("a", 10, "2026-11-01T00:00:00Z"),
        ("a", 7, "2026-11-02T00:00:00Z"),
        ("b", 3, "2026-11-03T00:00:00Z"),
        ("b", 9, "2026-11-04T00:00:00Z"),
    ):
        body = {"account_id": account_id, "score": score, "responded_at": when}
        assert api.post("/api/v1/nps", body, format="json").status_code == 201

    def scores(query=""):
        res = api.get(f"/api/v1/nps/{query}")
        assert res.status_code == 200, res.content
        return [row["score"] for row in res.json()["results"]]

    assert scores() == [9, 3, 7, 10]
    assert scores(f"?account={a.pk}") == [7, 10]
    assert scores("?category=promoter") == [9, 10]
    assert scores("?category=passive") == [7]
    assert scores(f"?category=detractor&account={b.pk}") == [3]
    res = api.get("/api/v1/nps/?category=fan")
    assert res.status_code == 400 and "category" in error_fields(res)


# Query counts: each list costs the same for 3 rows as for 30.


def _scores(n, *, tenant, ctx):
    for _ in range(n):
        owner = make_user(tenant, Role.CSM)  # a distinct owner per row
        judged_account(owner=owner, tier="strategic")
    rescore()


def _nps(n, *, tenant, ctx):
    from health.services import nps_response_record

    for _ in range(n):
        nps_response_record(account=factories.account(), score=8, respondent="r")


def _sentiments(n, *, tenant, ctx):
    ctx.setdefault("one", factories.account())
    for _ in range(n):
        actor = make_user(tenant, Role.CSM)
        csm_sentiment_set(account=ctx["one"], value="green", comment="ok", actor=actor)


def _profiles(n, *, tenant, ctx):
    for _ in range(n):
        count = ctx["profiles"] = ctx.get("profiles", 0) + 1
        health_profile_save(
            name=f"Profile {count}",
            stage="usage",
            measures={
                "nps": {"weight": 5, "bad": 0, "good": 50},
                "trend": {"weight": 5, "bad": 0.5, "good": 1},
            },
            rescore=False,
        )


def _segment(ctx):
    from lifecycle.services import segment_save

    ctx.setdefault("segment", segment_save(name="S", filters={"tier": ["strategic"]}))
    return ctx["segment"]


CASES = {
    "scores": (_scores, lambda ctx: "/api/v1/health/scores/", 0),
    "scores filtered": (
        _scores,
        lambda ctx: f"/api/v1/health/scores/?band=green&segment={ctx['segment'].pk}",
        0,
    ),
    "nps": (_nps, lambda ctx: "/api/v1/nps/?category=passive", 0),
    "sentiments": (_sentiments, lambda ctx: f"/api/v1/accounts/{ctx['one'].pk}/sentiment/", 0),
    "profiles": (_profiles, lambda ctx: "/api/v1/health/profiles/", 2),
}


@pytest.mark.parametrize("name", list(CASES))
def test_health_lists_cost_the_same_for_3_and_30_rows(tenant, api, name, django_assert_num_queries):
    make_rows, url_of, existing = CASES[name]
    ctx: dict = {}
    with tenant_context(tenant):
        _segment(ctx)
        make_rows(3, tenant=tenant, ctx=ctx)
    url = url_of(ctx)
    api.get(url)  # the first call records the key's last use and caches its lookup
    with django_assert_num_queries(QUERIES[name]):
        few = api.get(url).json()
    with tenant_context(tenant):
        make_rows(27, tenant=tenant, ctx=ctx)
    with django_assert_num_queries(QUERIES[name]):
        many = api.get(url).json()
    assert (len(few["results"]), len(many["results"])) == (3 + existing, 30 + existing)


# The tenant context and the page's count make up most of each number (the
# key's lookup is cached after the first call); the rows themselves cost one
# query (profiles: two, with measures).
QUERIES = {"scores": 6, "scores filtered": 7, "nps": 6, "sentiments": 7, "profiles": 7}
