"""Escalations, the timeline and notes through the API."""

from __future__ import annotations

import pytest

from csplatform.events.models import DomainEvent
from lifecycle import services
from lifecycle.models import Account, Escalation, TimelineEntry
from tests import factories
from tests.errors import error_fields

pytestmark = pytest.mark.django_db


def url(acct, tail):
    return f"/api/v1/accounts/{acct.pk}/{tail}"


def test_open_list_and_resolve_an_escalation(api, inside):
    with inside():
        acct = factories.account()
    res = api.post(url(acct, "escalations/"), {"reason": "Data loss reported"}, format="json")
    assert res.status_code == 201, res.json()
    esc = res.json()
    assert esc["is_open"] is True and esc["reason"] == "Data loss reported"
    assert api.get(f"/api/v1/accounts/{acct.pk}/").json()["is_escalated"] is True

    listed = api.get(url(acct, "escalations/")).json()
    assert [e["id"] for e in listed["results"]] == [esc["id"]]

    res = api.post(
        f"/api/v1/escalations/{esc['id']}/resolve/", {"resolution": "Restored"}, format="json"
    )
    assert res.status_code == 200, res.json()
    assert res.json()["is_open"] is False
    assert res.json()["resolution"] == "Restored"
    with inside():
        assert Account.objects.get(pk=acct.pk).is_escalated is False
        kinds = set(TimelineEntry.objects.filter(account=acct).values_list("kind", flat=True))
        assert {"escalation_opened", "escalation_resolved"} <= kinds


def test_second_open_escalation_is_400(api, inside):
    with inside():
        acct = factories.account()
        services.escalation_open(account=acct, reason="First", actor=None)
    res = api.post(url(acct, "escalations/"), {"reason": "Second"}, format="json")
    assert res.status_code == 400
    assert "reason" in error_fields(res)
    with inside():
        assert Escalation.objects.filter(account=acct).count() == 1


@pytest.mark.parametrize("payload", [{}, {"reason": ""}, {"reason": "   "}])
def test_escalation_needs_a_reason(api, inside, payload):
    with inside():
        acct = factories.account()
    res = api.post(url(acct, "escalations/"), payload, format="json")
    assert res.status_code == 400
    assert "reason" in error_fields(res)


def test_resolve_needs_a_resolution_and_an_open_escalation(api, inside):
    with inside():
        esc = services.escalation_open(account=factories.account(), reason="r", actor=None)
    res = api.post(f"/api/v1/escalations/{esc.pk}/resolve/", {}, format="json")
    assert res.status_code == 400
    assert "resolution" in error_fields(res)
    ok = api.post(f"/api/v1/escalations/{esc.pk}/resolve/", {"resolution": "x"}, format="json")
    assert ok.status_code == 200
    again = api.post(f"/api/v1/escalations/{esc.pk}/resolve/", {"resolution": "y"}, format="json")
    assert again.status_code == 400
    assert "resolution" in error_fields(again)


def test_escalation_list_filters_open_and_account(api, inside):
    with inside():
        a, b = factories.account(), factories.account()
        closed = services.escalation_open(account=a, reason="old", actor=None)
        services.escalation_resolve(escalation=closed, resolution="done", actor=None)
        open_a = services.escalation_open(account=a, reason="new", actor=None)
        open_b = services.escalation_open(account=b, reason="other", actor=None)

    def ids(**params):
        res = api.get("/api/v1/escalations/", params)
        assert res.status_code == 200, res.json()
        return {e["id"] for e in res.json()["results"]}

    assert ids() == {closed.pk, open_a.pk, open_b.pk}
    assert ids(open="true") == {open_a.pk, open_b.pk}
    assert ids(open="false") == {closed.pk}
    assert ids(account=a.pk) == {closed.pk, open_a.pk}
    assert api.get(f"/api/v1/escalations/{closed.pk}/").json()["resolution"] == "done"
    assert api.get("/api/v1/escalations/", {"open": "maybe"}).status_code == 400


def test_account_timeline_newest_first_with_kind_filter(api, inside):
    with inside():
        acct = factories.account()
        other = factories.account()
        services.note_add(account=acct, body="First call went well", actor=None)
        services.note_add(account=acct, body="Second note", actor=None)
        services.note_add(account=other, body="Not this account", actor=None)
    res = api.get(url(acct, "timeline/"))
    assert res.status_code == 200
    rows = res.json()["results"]
    assert [r["kind"] for r in rows] == ["note", "note", "account_created"]
    assert rows[0]["title"] == "Second note"
    assert rows[0]["kind_label"] == "Note"
    notes = api.get(url(acct, "timeline/"), {"kind": "note"}).json()
    assert notes["count"] == 2
    assert api.get(url(acct, "timeline/"), {"kind": "stage_changed"}).json()["count"] == 0


def test_timeline_across_accounts(api, inside):
    with inside():
        a, b = factories.account(), factories.account()
        services.note_add(account=b, body="About b", actor=None)
    everything = api.get("/api/v1/timeline/").json()
    assert everything["count"] == 3  # two account_created + one note
    assert {r["account"] for r in everything["results"]} == {a.pk, b.pk}
    only_b = api.get("/api/v1/timeline/", {"account": b.pk}).json()["results"]
    assert {r["account"] for r in only_b} == {b.pk}
    notes = api.get("/api/v1/timeline/", {"kind": "note"}).json()["results"]
    assert [r["body"] for r in notes] == ["About b"]
    res = api.get("/api/v1/timeline/", {"account": 987654})
    assert res.status_code == 400
    assert "account" in error_fields(res)


def test_add_a_note(api, inside):
    with inside():
        acct = factories.account()
    res = api.post(url(acct, "notes/"), {"body": "QBR booked\nfor next month"}, format="json")
    assert res.status_code == 201, res.json()
    assert res.json()["kind"] == "note"
    assert res.json()["title"] == "QBR booked"
    with inside():
        assert TimelineEntry.objects.filter(account=acct, kind="note").count() == 1


@pytest.mark.parametrize("payload", [{}, {"body": ""}, {"body": "  \n "}])
def test_empty_note_is_400(api, inside, payload):
    with inside():
        acct = factories.account()
    res = api.post(url(acct, "notes/"), payload, format="json")
    assert res.status_code == 400
    assert "body" in error_fields(res)


def test_log_a_call_through_the_notes_endpoint(api, inside):
    with inside():
        acct = factories.account()
    body = {"body": "Renewal call", "kind": "call_logged"}
    res = api.post(url(acct, "notes/"), body, format="json")
    assert res.status_code == 201, res.json()
    assert res.json()["kind"] == "call_logged"
    with inside():
        entry = TimelineEntry.objects.get(account=acct, kind="call_logged")
        assert DomainEvent.objects.get(kind="call_logged").payload == {"entry_id": entry.pk}


def test_an_unknown_note_kind_is_400_naming_the_field(api, inside):
    with inside():
        acct = factories.account()
    res = api.post(url(acct, "notes/"), {"body": "Hi", "kind": "telepathy"}, format="json")
    assert res.status_code == 400
    assert "kind" in error_fields(res)
