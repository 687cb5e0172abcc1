"""What the fuzzer (test_fuzz.py) found, one test each: JSON bodies are
typed, pages are whole numbers, the API takes JSON only, partial bodies are
whole enough, and the schema declares the limits the code reads."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from csplatform.api.fields import NOT_ONLY_SPACES
from csplatform.api.parsers import BIGINT, UnsafeValue, loads
from csplatform.tenancy.models import Role
from health.models import Feature, ProfileMeasure
from health.services.usage import clean_event
from tests import factories
from tests.api.conftest import key_client
from tests.errors import error_code, error_fields, has_field

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_api(tenant):
    return key_client(tenant, Role.ADMIN)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": 12}, "name"),  # a number for a text
        ({"name": "Acme", "tier": 1}, "tier"),  # a number for a listed text
        ({"name": "Acme", "owner": True}, "owner"),
        ({"name": "Acme", "attributes": []}, "attributes"),
        ({"name": " " + "a" * 200}, "name"),  # over max_length as sent
    ],
)
def test_a_json_value_of_another_type_is_refused_by_field(api, body, field):
    res = api.post("/api/v1/accounts/", body)
    assert res.status_code == 400 and has_field(res, field), res.content


def test_booleans_are_true_or_false_and_numbers_numbers(tenant, admin_api, inside):
    zero = admin_api.post("/api/v1/features/", {"name": "Reports", "counts_for_adoption": 0})
    assert zero.status_code == 400 and "counts_for_adoption" in error_fields(zero)
    text = admin_api.patch("/api/v1/health/settings/", {"nps_window_days": "30"})
    assert text.status_code == 400 and "nps_window_days" in error_fields(text)
    with inside():
        acct = factories.account()
    # A decimal is a number or a numeric text.
    for arr in (1200.5, "1200.50"):
        res = admin_api.post(
            "/api/v1/contracts/",
            {
                "account": acct.pk,
                "arr": arr,
                "start_date": "2025-01-01",
                "renewal_date": "2026-01-01",
            },
        )
        assert res.status_code == 201, res.content
        assert res.json()["arr"] == "1200.50"


def test_query_strings_are_still_text(api, inside):
    with inside():
        factories.account(name="Escalated")
    assert api.get("/api/v1/accounts/?escalated=false&tier=smb").status_code == 200
    # A flag is true or false (left out: no filter); empty is neither.
    empty = api.get("/api/v1/escalations/?open=")
    assert empty.status_code == 400 and "open" in error_fields(empty)


@pytest.mark.parametrize(
    ("query", "field"),
    [("page_size=0", "page_size"), ("page_size=501", "page_size"), ("page=abc", "page")],
)
def test_a_page_is_a_whole_number_in_range(api, query, field):
    res = api.get(f"/api/v1/accounts/?{query}")
    assert res.status_code == 400 and field in error_fields(res), res.content


def test_a_page_past_the_last_is_a_404_in_the_error_shape(api):
    res = api.get("/api/v1/accounts/?page=99")
    assert res.status_code == 404 and error_code(res) == "not_found"


def test_the_api_takes_json_only(api):
    res = api.post("/api/v1/accounts/", {"name": "Acme"}, format="multipart")
    assert res.status_code == 415
    assert error_code(res) == "unsupported_media_type"


def test_an_unknown_api_route_is_a_json_404_even_with_a_session_and_no_csrf(tenant, users):
    client = Client(enforce_csrf_checks=True)
    client.force_login(users[Role.ADMIN])
    res = client.post("/api/v1/nope/", {}, content_type="application/json")
    assert res.status_code == 404 and error_code(res) == "not_found"


def test_patching_a_feature_keeps_what_it_leaves_out(tenant, admin_api, inside):
    made = admin_api.post(
        "/api/v1/features/",
        {"name": "Reports", "description": "Exports", "counts_for_adoption": True},
    ).json()
    empty = admin_api.patch(f"/api/v1/features/{made['id']}/", {})  # was a 500
    assert empty.status_code == 200, empty.content
    renamed = admin_api.patch(f"/api/v1/features/{made['id']}/", {"name": "Exports"})
    assert renamed.json() == {**made, "name": "Exports"}
    with inside():
        assert Feature.objects.get().counts_for_adoption is True


def test_a_measure_line_without_weight_takes_the_models_default(tenant, leader_api):
    body = {
        "name": "Usage",
        "stage": "usage",
        "measures": [{"measure": "nps", "bad": 0, "good": 50}],
    }
    preview = leader_api.post("/api/v1/health/profiles/preview/", body)  # was a 500
    assert preview.status_code == 200, preview.content
    saved = leader_api.post("/api/v1/health/profiles/", body)
    assert saved.status_code == 201, saved.content
    [line] = saved.json()["measures"]
    assert line["weight"] == ProfileMeasure._meta.get_field("weight").default


def test_a_rule_patch_takes_an_object(tenant, leader_api, inside):
    from tests.work.rules_data import rule

    with inside():
        r = rule("escalation_opened")
    res = leader_api.patch(f"/api/v1/rules/{r.pk}/", [None, None])  # was a 200, ignored
    assert res.status_code == 400


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Acme", "owner_email": ""}, "owner_email"),  # read as null before
        ({"name": "Acme", "owner_email": None}, None),
    ],
)
def test_an_empty_email_is_not_no_one(api, body, field):
    res = api.post("/api/v1/accounts/", body)
    if field is None:
        assert res.status_code == 201, res.content
    else:
        assert res.status_code == 400 and field in error_fields(res)


def test_an_empty_external_id_names_no_account(api):
    res = api.post(
        "/api/v1/contacts/", {"account_external_id": "", "name": "A", "email": "a@c.test"}
    )
    assert error_fields(res) == {"account_external_id": ["Give the account's external id."]}


def test_the_task_list_names_a_bad_status(api):
    res = api.get("/api/v1/tasks/?status=open,bogus")
    assert res.status_code == 400 and error_fields(res)["status"][0].startswith("Choose from")
    assert api.get("/api/v1/tasks/?status=open,done").status_code == 200


def test_usage_days_are_one_to_365(api, inside):
    with inside():
        acct = factories.account()
    assert api.get(f"/api/v1/accounts/{acct.pk}/usage/?days=365").status_code == 200
    res = api.get(f"/api/v1/accounts/{acct.pk}/usage/?days=0")
    assert res.status_code == 400 and "days" in error_fields(res)


def test_an_events_ids_are_text_or_numbers_and_properties_an_object():
    now = timezone.now()
    assert clean_event({"account_id": 7, "event": "x"}, now)["account_external_id"] == "7"
    for bad in ({"message_id": True}, {"properties": ""}, {"properties": []}):
        with pytest.raises(ValueError):
            clean_event({"account_id": "a", "event": "x", **bad}, now)


def test_an_empty_key_is_named_in_the_path():
    with pytest.raises(UnsafeValue) as refused:
        loads('{"": 99999999999999999999}')
    assert refused.value.path == '""'  # not the body as a whole


def test_not_only_spaces_is_pythons_idea_of_a_space():
    import re

    pattern = re.compile(NOT_ONLY_SPACES)
    assert all(bool(pattern.fullmatch(chr(c))) != chr(c).isspace() for c in range(0x110000))


def test_the_schema_declares_the_limits_the_code_reads():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    contact = components["ContactUpsertInputRequest"]["properties"]
    assert contact["account"] == {"type": "integer", "minimum": 1, "maximum": BIGINT}
    assert contact["account_external_id"]["minLength"] == 1
    assert contact["name"]["pattern"] == NOT_ONLY_SPACES
    arr = components["ContractUpsertInputRequest"]["properties"]["arr"]
    assert [part["type"] for part in arr["oneOf"]] == ["number", "string"]
    assert components["ProfileInputRequest"]["properties"]["measures"]["minItems"] == 1
    assert schema["paths"]["/api/v1/events"]["post"]["requestBody"]["required"] is True
    accounts = schema["paths"]["/api/v1/accounts/"]["get"]
    page_size = next(p for p in accounts["parameters"] if p["name"] == "page_size")
    assert (page_size["schema"]["minimum"], page_size["schema"]["maximum"]) == (1, 500)
    assert "404" in accounts["responses"]  # a page past the last
    for method, operation in schema["paths"]["/api/v1/accounts/"].items():
        body = operation.get("requestBody", {}).get("content", {})
        assert list(body) in ([], ["application/json"]), method
