"""The account page's checklist, notes, contacts, contracts, escalation,
stage history and timeline."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from csplatform.events.models import DomainEvent
from csplatform.tenancy.models import Role
from lifecycle import services
from lifecycle.models import (
    AccountAchievement,
    Contact,
    Contract,
    Escalation,
    NoteKind,
    StageAchievement,
    TimelineEntry,
)
from tests import factories
from tests.conftest import make_user
from tests.pages.conftest import url

pytestmark = pytest.mark.django_db


@pytest.fixture
def acct(inside):
    with inside():
        return factories.account(name="Initech")


def timeline_entries(html: str) -> str:
    start = html.index('<ul class="timeline">')
    return html[start : html.index("</ul>", start)]


def field_errors(response, prefix: str, field: str) -> str:
    match = re.search(rf'id="{prefix}_{field}_error">(.*?)</ul>', response.content.decode(), re.S)
    return match.group(1) if match else ""


# ---------------------------------------------------------------- checklist


def test_tick_and_untick_an_achievement(page, tenant, inside, acct, users):
    with inside():
        kickoff = StageAchievement.objects.get(stage="onboarding", key="kickoff_held")
    client = page(Role.CSM)
    path = url("account_achievement", tenant, acct.pk, kickoff.pk)
    response = client.post(path, {"done": "true"})
    assert response.status_code == 302
    with inside():
        done = AccountAchievement.objects.get(account=acct, achievement=kickoff)
        assert done.completed_by == users[Role.CSM]
    body = client.get(url("account", tenant, acct.pk)).content.decode()
    assert "Achievement done: Kickoff call held" in body
    assert "Missing: Admin trained" in body  # kickoff no longer missing

    assert client.post(path, {"done": "false"}).status_code == 302
    with inside():
        assert not AccountAchievement.objects.filter(account=acct).exists()
        assert TimelineEntry.objects.filter(account=acct, kind="achievement_reopened").exists()


def test_ticking_through_htmx_follows_the_redirect_to_the_page(page, tenant, inside, acct):
    with inside():
        kickoff = StageAchievement.objects.get(stage="onboarding", key="kickoff_held")
    client = page(Role.CSM)
    response = client.post(
        url("account_achievement", tenant, acct.pk, kickoff.pk),
        {"done": "true"},
        HTTP_HX_REQUEST="true",
        follow=True,
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert '<main id="main">' in body  # what hx-select swaps in
    assert "Done: Kickoff call held." in body


def test_unknown_achievement_is_404(page, tenant, acct):
    response = page(Role.CSM).post(
        url("account_achievement", tenant, acct.pk, 999999), {"done": "true"}
    )
    assert response.status_code == 404


# ---------------------------------------------------------------- notes


def test_add_a_note(page, tenant, inside, acct, users):
    client = page(Role.CSM)
    response = client.post(
        url("account_note", tenant, acct.pk), {"body": "QBR booked\nThey want SSO."}
    )
    assert response.status_code == 302
    with inside():
        note = TimelineEntry.objects.get(account=acct, kind="note")
        assert (note.title, note.actor) == ("QBR booked", users[Role.CSM])
    body = client.get(url("account", tenant, acct.pk)).content.decode()
    assert "QBR booked" in body and "They want SSO." in body


@pytest.mark.parametrize("body", ["", "   \n  ", "x" * 10_001])
def test_blank_note_shows_a_field_error_and_stores_nothing(page, tenant, inside, acct, body):
    response = page(Role.CSM).post(url("account_note", tenant, acct.pk), {"body": body})
    assert response.status_code == 422
    assert field_errors(response, "note", "body")
    with inside():
        assert not TimelineEntry.objects.filter(kind="note").exists()


@pytest.mark.parametrize(
    ("kind", "label"), [(NoteKind.MEETING, "Meeting"), (NoteKind.CALL, "Call")]
)
def test_log_a_meeting_or_a_call_as_a_note_with_a_kind(page, tenant, inside, acct, kind, label):
    client = page(Role.CSM)
    response = client.post(
        url("account_note", tenant, acct.pk), {"kind": kind, "body": "QBR with the CFO"}
    )
    assert response.status_code == 302
    with inside():
        entry = TimelineEntry.objects.get(account=acct, kind=kind)
        assert entry.title == "QBR with the CFO"
        # the domain event health re-scores engagement from
        assert DomainEvent.objects.get(kind=kind).payload == {"entry_id": entry.pk}
        assert not TimelineEntry.objects.filter(kind="note").exists()
    page_html = client.get(url("account", tenant, acct.pk)).content.decode()
    assert f'<option value="{kind}">{label}</option>' in page_html  # the form offers it
    assert label in timeline_entries(page_html)


def test_an_unknown_note_kind_is_a_field_error(page, tenant, inside, acct):
    response = page(Role.CSM).post(
        url("account_note", tenant, acct.pk), {"kind": "telepathy", "body": "Hi"}
    )
    assert response.status_code == 422
    assert field_errors(response, "note", "kind")
    with inside():
        assert not TimelineEntry.objects.exclude(kind="account_created").exists()


# ---------------------------------------------------------------- contacts


def test_add_a_contact(page, tenant, inside, acct):
    client = page(Role.CSM)
    response = client.post(
        url("account_contact", tenant, acct.pk),
        {"name": "Pat Lee", "email": "Pat@Initech.test", "title": "VP Ops", "role": "champion"},
    )
    assert response.status_code == 302
    with inside():
        contact = Contact.objects.get(account=acct)
        assert (contact.name, contact.email, contact.role) == (
            "Pat Lee",
            "pat@initech.test",
            "champion",
        )
    assert "Pat Lee" in client.get(url("account", tenant, acct.pk)).content.decode()


@pytest.mark.parametrize(
    "data,field,message",
    [
        ({"name": "Pat", "email": "not-an-email", "role": "admin"}, "email", "valid email"),
        ({"name": "", "email": "a@b.test", "role": "admin"}, "name", "required"),
        ({"name": "Pat", "email": "a@b.test", "role": "boss"}, "role", "valid choice"),
        (
            {"name": "Pat", "email": "taken@initech.test", "role": "admin"},
            "email",
            "already has a contact with this email",
        ),
    ],
)
def test_bad_contact_shows_field_errors_and_stores_nothing(
    page, tenant, inside, acct, data, field, message
):
    with inside():
        factories.contact(acct, email="taken@initech.test")
    response = page(Role.CSM).post(url("account_contact", tenant, acct.pk), data)
    assert response.status_code == 422
    assert message in field_errors(response, "contact", field)
    assert "<details open>" in response.content.decode()  # the form stays open
    with inside():
        assert Contact.objects.filter(account=acct).count() == 1


# ---------------------------------------------------------------- contracts


def test_add_a_contract(page, tenant, inside, acct):
    client = page(Role.CSM)
    response = client.post(
        url("account_contract", tenant, acct.pk),
        {
            "arr": "48000",
            "seats": "40",
            "start_date": "2025-01-01",
            "renewal_date": "2026-01-01",
            "status": "active",
        },
    )
    assert response.status_code == 302
    with inside():
        contract = Contract.objects.get(account=acct)
        assert (str(contract.arr), contract.seats) == ("48000.00", 40)
    body = client.get(url("account", tenant, acct.pk)).content.decode()
    assert "ARR 48,000" in body and "renews 2026-01-01" in body


@pytest.mark.parametrize(
    "changes,field,message",
    [
        ({"renewal_date": "2024-06-01"}, "renewal_date", "cannot be before the start date"),
        ({"arr": "-5"}, "arr", "greater than or equal to 0"),
        ({"arr": "lots"}, "arr", "Enter a number"),
        ({"start_date": "someday"}, "start_date", "valid date"),
        ({"status": "maybe"}, "status", "valid choice"),
    ],
)
def test_bad_contract_shows_field_errors_and_stores_nothing(
    page, tenant, inside, acct, changes, field, message
):
    data = {
        "arr": "1000",
        "seats": "5",
        "start_date": "2025-01-01",
        "renewal_date": "2026-01-01",
        "status": "active",
        **changes,
    }
    response = page(Role.CSM).post(url("account_contract", tenant, acct.pk), data)
    assert response.status_code == 422
    assert message in field_errors(response, "contract", field)
    with inside():
        assert not Contract.objects.exists()
        assert not TimelineEntry.objects.filter(kind="contract_changed").exists()


# ---------------------------------------------------------------- escalation


def test_open_and_resolve_an_escalation(page, tenant, inside, acct):
    client = page(Role.CSM)
    response = client.post(url("escalation_open", tenant, acct.pk), {"reason": "SSO outage"})
    assert response.status_code == 302
    with inside():
        escalation = Escalation.objects.get(account=acct)
        acct.refresh_from_db()
        assert acct.is_escalated
    body = client.get(url("account", tenant, acct.pk)).content.decode()
    assert "SSO outage" in body and "Resolve escalation" in body

    blank = client.post(
        url("escalation_resolve", tenant, acct.pk, escalation.pk), {"resolution": ""}
    )
    assert blank.status_code == 422
    assert field_errors(blank, "resolve", "resolution")

    response = client.post(
        url("escalation_resolve", tenant, acct.pk, escalation.pk), {"resolution": "Patched"}
    )
    assert response.status_code == 302
    with inside():
        escalation.refresh_from_db()
        acct.refresh_from_db()
        assert escalation.resolution == "Patched" and not acct.is_escalated
    body = client.get(url("account", tenant, acct.pk)).content.decode()
    assert "Not escalated" in body and "Patched" in body  # in the history


def test_escalation_without_a_reason_shows_an_error(page, tenant, inside, acct):
    response = page(Role.CSM).post(url("escalation_open", tenant, acct.pk), {"reason": " "})
    assert response.status_code == 422
    assert field_errors(response, "escalation", "reason")
    with inside():
        assert not Escalation.objects.exists()


def test_a_second_open_escalation_is_refused_with_the_services_message(page, tenant, inside, acct):
    client = page(Role.CSM)
    assert (
        client.post(url("escalation_open", tenant, acct.pk), {"reason": "one"}).status_code == 302
    )
    # A page opened before the first escalation still shows the open form.
    response = client.post(url("escalation_open", tenant, acct.pk), {"reason": "two"})
    assert response.status_code == 422
    assert "already has an open escalation" in field_errors(response, "escalation", "reason")
    with inside():
        assert Escalation.objects.count() == 1


# ---------------------------------------------------------------- history and timeline


def test_stage_history_shows_each_stay(page, tenant, inside, acct):
    with inside():
        factories.complete_stage(acct)
        services.account_transition(
            account_id=acct.pk, to_stage="adoption", actor=None, role=Role.CSM
        )
    body = page(Role.VIEWER).get(url("account", tenant, acct.pk)).content.decode()
    history = body[body.index('id="stage-history"') :]
    assert "Onboarding</dt>" in history and "Adoption</dt>" in history
    assert "→ now" in history


def test_timeline_kind_filter(page, tenant, inside, acct):
    with inside():
        services.note_add(account=acct, body="Only this note", actor=None)
        services.escalation_open(account=acct, reason="Angry email", actor=None)
    client = page(Role.VIEWER)
    body = client.get(url("account", tenant, acct.pk, query="kind=note")).content.decode()
    timeline = timeline_entries(body)
    assert "Only this note" in timeline
    assert "Escalation opened" not in timeline
    partial = client.get(url("account_timeline", tenant, acct.pk, query="kind=escalation_opened"))
    text = partial.content.decode()
    assert text.lstrip().startswith('<div id="timeline">')
    entries = timeline_entries(text)
    assert "Escalation opened" in entries and "Only this note" not in entries
    assert '<option value="note">Note</option>' in text


def test_timeline_is_paged_with_a_more_link(page, tenant, inside, acct):
    with inside():
        for i in range(25):
            services.note_add(account=acct, body=f"Note number {i:02d}", actor=None)
    client = page(Role.VIEWER)
    body = client.get(url("account", tenant, acct.pk)).content.decode()
    entries = timeline_entries(body)
    assert "Note number 24" in entries and "Note number 04" not in entries
    assert "More (older)" in body
    older = client.get(url("account_timeline", tenant, acct.pk, query="tpage=2")).content.decode()
    assert "Note number 04" in older and "Note number 24" not in older
    assert "Account created" in older
    assert "← Newer" in older


@pytest.mark.parametrize("role", [Role.VIEWER, Role.LEADER])
def test_account_page_query_count_does_not_grow_with_timeline_and_records(
    page, tenant, inside, acct, role
):
    client = page(role)
    client.get(url("account", tenant, acct.pk))  # the first visit stores the tenant in the session

    def add(n):
        with inside():
            for _ in range(n):
                user = make_user(tenant, Role.CSM)  # distinct actors
                services.note_add(account=acct, body="n", actor=user)
                factories.contact(acct)
                factories.contract(acct)
                escalation = services.escalation_open(account=acct, reason="r", actor=user)
                services.escalation_resolve(escalation=escalation, resolution="ok", actor=user)
                done = StageAchievement.objects.filter(stage="onboarding").first()
                services.achievement_complete(account=acct, achievement=done, actor=user)
                services.achievement_reopen(account=acct, achievement=done, actor=user)

    def count(path):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(path).status_code == 200
        return len(ctx.captured_queries)

    add(3)
    few = (count(url("account", tenant, acct.pk)), count(url("account_timeline", tenant, acct.pk)))
    add(27)
    many = (count(url("account", tenant, acct.pk)), count(url("account_timeline", tenant, acct.pk)))
    assert many == few


def test_resolving_an_already_resolved_escalation_explains_why(page, tenant, inside, acct):
    with inside():
        escalation = services.escalation_open(account=acct, reason="r", actor=None)
        services.escalation_resolve(escalation=escalation, resolution="first", actor=None)
    response = page(Role.CSM).post(
        url("escalation_resolve", tenant, acct.pk, escalation.pk), {"resolution": "second"}
    )
    assert response.status_code == 422
    assert "already resolved" in field_errors(response, "resolve", "resolution")
    with inside():
        escalation.refresh_from_db()
        assert escalation.resolution == "first"
