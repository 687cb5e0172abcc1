"""Accounts, contacts, contracts, escalations, notes and segments."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from csplatform.events.models import DomainEvent
from csplatform.tenancy.models import Role
from lifecycle import selectors, services
from lifecycle.models import Account, Contact, Escalation, Stage, TimelineEntry
from tests import factories
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def test_create_account_writes_first_stage_stay_and_timeline(in_tenant):
    acct = factories.account(name="Initech")
    assert acct.stage_history.get().stage == Stage.ONBOARDING
    assert TimelineEntry.objects.filter(account=acct, kind="account_created").count() == 1


def test_external_id_is_unique_per_tenant_only(in_tenant, other_tenant):
    from csplatform.tenancy.context import tenant_context

    factories.account(external_id="sf-001")
    with pytest.raises(ValidationError) as err:
        factories.account(external_id="sf-001")
    assert "external_id" in err.value.message_dict
    with tenant_context(other_tenant):
        assert factories.account(external_id="sf-001").external_id == "sf-001"


def test_upsert_twice_stores_one_account(in_tenant):
    first, created = services.account_upsert(external_id="sf-9", name="Hooli")
    again, created_again = services.account_upsert(external_id="sf-9", name="Hooli XYZ")
    assert (created, created_again) == (True, False)
    assert first.pk == again.pk
    assert Account.objects.filter(external_id="sf-9").get().name == "Hooli XYZ"


def test_owner_must_be_a_member(in_tenant, other_tenant):
    stranger = make_user(other_tenant, Role.CSM)
    with pytest.raises(ValidationError) as err:
        factories.account(owner=stranger)
    assert "owner" in err.value.message_dict


def test_owner_change_is_on_the_timeline(in_tenant):
    csm = make_user(in_tenant, Role.CSM)
    acct = factories.account()
    services.account_update(account=acct, owner=csm)
    entry = TimelineEntry.objects.get(account=acct, kind="owner_changed")
    assert entry.payload["to"] == csm.pk


def test_contract_dates_and_arr_are_validated(in_tenant):
    acct = factories.account()
    with pytest.raises(ValidationError) as err:
        factories.contract(acct, start_date=dt.date(2026, 5, 1), renewal_date=dt.date(2026, 4, 1))
    assert "renewal_date" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        factories.contract(acct, arr=Decimal("-5"))
    assert "arr" in err.value.message_dict


def test_contact_email_unique_per_account(in_tenant):
    acct = factories.account()
    factories.contact(acct, email="ann@customer.test")
    with pytest.raises(ValidationError) as err:
        factories.contact(acct, email="ANN@customer.test")
    assert "email" in err.value.message_dict
    assert Contact.objects.filter(account=acct).count() == 1


def test_contact_upsert_is_repeatable(in_tenant):
    acct = factories.account()
    services.contact_upsert(external_id="c-1", account=acct, name="Ann", email="ann@x.test")
    services.contact_upsert(external_id="c-1", account=acct, name="Ann B", email="ann@x.test")
    assert Contact.objects.get(external_id="c-1").name == "Ann B"


def test_escalation_flag_has_its_own_history(in_tenant):
    acct = factories.account()
    esc = services.escalation_open(account=acct, reason="Outage for 2 days", actor=None)
    acct.refresh_from_db()
    assert acct.is_escalated
    with pytest.raises(ValidationError):
        services.escalation_open(account=acct, reason="again", actor=None)
    services.escalation_resolve(escalation=esc, resolution="Fixed, credits issued", actor=None)
    acct.refresh_from_db()
    assert not acct.is_escalated
    services.escalation_open(account=acct, reason="Second issue", actor=None)
    assert Escalation.objects.filter(account=acct).count() == 2
    kinds = list(
        TimelineEntry.objects.filter(account=acct, kind__startswith="escalation").values_list(
            "kind", flat=True
        )
    )
    assert sorted(kinds) == ["escalation_opened", "escalation_opened", "escalation_resolved"]
    assert DomainEvent.objects.filter(kind="escalation_opened").count() == 2
    assert acct.stage == Stage.ONBOARDING  # escalation is not a stage


def test_escalation_needs_reason_and_resolution(in_tenant):
    acct = factories.account()
    with pytest.raises(ValidationError) as err:
        services.escalation_open(account=acct, reason=" ", actor=None)
    assert "reason" in err.value.message_dict
    esc = services.escalation_open(account=acct, reason="why", actor=None)
    with pytest.raises(ValidationError) as err:
        services.escalation_resolve(escalation=esc, resolution="", actor=None)
    assert "resolution" in err.value.message_dict


def test_empty_note_is_refused(in_tenant):
    acct = factories.account()
    with pytest.raises(ValidationError):
        services.note_add(account=acct, body="   ", actor=None)
    with pytest.raises(ValidationError) as too_long:
        services.note_add(account=acct, body="x" * 10_001, actor=None)
    assert "10,000 characters" in too_long.value.message_dict["body"][0]
    services.note_add(account=acct, body="x" * 10_000, actor=None)  # the limit itself is fine
    services.note_add(account=acct, body="QBR booked\nAgenda attached", actor=None)
    entry = TimelineEntry.objects.filter(account=acct, kind="note").get(title="QBR booked")
    assert entry.body == "QBR booked\nAgenda attached"


def test_segment_filters_select_accounts(in_tenant):
    big = factories.account(tier="enterprise")
    factories.contract(
        big, arr=Decimal("90000"), renewal_date=dt.date.today() + dt.timedelta(days=30)
    )
    small = factories.account(tier="smb")
    factories.contract(small, arr=Decimal("5000"))
    seg = services.segment_save(
        name="Enterprise renewing soon",
        filters={"tier": ["enterprise"], "arr_min": 50000, "renewal_within_days": 90},
    )
    assert list(selectors.account_list(segment=seg)) == [big]


def test_segment_filters_are_validated(in_tenant):
    with pytest.raises(ValidationError) as err:
        services.segment_save(name="x", filters={"stage": ["heaven"], "colour": "red"})
    assert set(err.value.message_dict) == {"filters.stage", "filters.colour"}
    assert "heaven" in err.value.message_dict["filters.stage"][0]


def test_account_list_annotates_arr_and_next_renewal(in_tenant):
    acct = factories.account()
    factories.contract(acct, arr=Decimal("1000"))
    factories.contract(acct, arr=Decimal("2500"))
    row = selectors.account_list().get(pk=acct.pk)
    assert row.arr == Decimal("3500")
    assert row.next_renewal is not None
