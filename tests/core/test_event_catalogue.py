"""The domain-event catalogue: every kind declared once, nothing recorded or
subscribed outside it, and every subscribed kind really recorded by the
service the catalogue names (no handler waits for an event nobody sends)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from csplatform.events import catalogue, registry
from csplatform.events.catalogue import EventKindUnknown
from csplatform.events.models import DomainEvent
from csplatform.events.services import (
    event_record,
    events_coalesced_record_due,
    events_record_many,
)
from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Role
from health import services as health
from lifecycle import services as lifecycle
from lifecycle.models import NoteKind, Stage, StageAchievement
from tests import factories
from tests.health.scoring_data import only_profile
from tests.health.test_ingest import client_for, ev, post
from work import services as work


def test_every_declared_kind_names_services_that_exist():
    for spec in catalogue.KINDS.values():
        assert spec.description and spec.emitted_by, spec.kind
        for path in spec.emitted_by:
            assert callable(import_string(path)), path


def test_every_subscribed_kind_is_declared():
    subscribed = registry.subscribed_kinds()
    assert "stage_changed" in subscribed  # the apps' handlers are loaded
    assert set(subscribed) <= set(catalogue.KINDS)


def test_subscribing_to_an_undeclared_kind_raises_at_once():
    with pytest.raises(EventKindUnknown, match="accuont_created"):
        registry.subscribe("accuont_created", name="tests.typo")
    assert "accuont_created" not in registry.subscribed_kinds()


@pytest.mark.django_db
def test_recording_an_undeclared_kind_or_payload_raises(in_tenant):
    acct = factories.account()
    with pytest.raises(EventKindUnknown):
        event_record(kind="account_deleted", account_id=acct.pk)
    with pytest.raises(EventKindUnknown, match="undeclared"):
        event_record(kind="account_created", account_id=acct.pk, payload={"stage": "x", "y": 1})
    with pytest.raises(EventKindUnknown, match="missing"):
        events_record_many(kind="call_logged", items=[(acct.pk, {})])
    with pytest.raises(EventKindUnknown):
        events_record_many(kind="account_deleted", items=[])
    assert not DomainEvent.objects.exclude(kind__in=["account_created", "account_identified"])


# -- every subscribed kind, recorded by its service ------------------------------
# A new subscription needs a scenario here: the test below fails until it has one.


def _transition(tenant):
    with tenant_context(tenant):
        acct = factories.account()
        lifecycle.account_transition(
            account_id=acct.pk,
            to_stage=Stage.ADOPTION,
            actor=None,
            role=Role.ADMIN,
            force=True,
            reason="test",
        )


def _achievements(tenant):
    with tenant_context(tenant):
        acct = factories.account()
        achievement = StageAchievement.objects.filter(stage=acct.stage).first()
        lifecycle.achievement_complete(account=acct, achievement=achievement, actor=None)
        lifecycle.achievement_reopen(account=acct, achievement=achievement, actor=None)


def _escalation(tenant):
    with tenant_context(tenant):
        acct = factories.account()
        escalation = lifecycle.escalation_open(account=acct, reason="outage", actor=None)
        lifecycle.escalation_resolve(escalation=escalation, resolution="fixed", actor=None)


def _note(kind):
    def scenario(tenant):
        with tenant_context(tenant):
            lifecycle.note_add(
                account=factories.account(), body="Spoke with them", actor=None, kind=kind
            )

    return scenario


def _task_completed(tenant):
    with tenant_context(tenant):
        task = work.task_create(
            account=factories.account(), title="Call", due_date=dt.date.today(), actor=None
        )
        work.task_transition(task=task, action="complete", actor=None)


def _usage(tenant):
    with tenant_context(tenant):
        factories.account(external_id="acme-1")
    post(client_for(tenant), [ev(1)])
    health.usage_rollups_fold(tenant=tenant)
    # coalesced: recorded once the account's window has passed
    window = dt.timedelta(seconds=settings.EVENT_COALESCE_SECONDS)
    events_coalesced_record_due(now=timezone.now() + window)


def _health_changed(tenant):
    with tenant_context(tenant):
        only_profile({"csm_sentiment": 1})
        acct = factories.account()
        for value in ("green", "red"):  # a first score alerts nobody; the fall does
            health.csm_sentiment_set(account=acct, value=value, comment="why", actor=None)
            health.health_rescore(account_ids=None)


def _nps(tenant):
    with tenant_context(tenant):
        health.nps_response_record(account=factories.account(), score=9)


def _account(tenant):
    with tenant_context(tenant):
        factories.account(external_id="crm-identified")


SCENARIOS = {
    "account_created": _account,
    "account_identified": _account,
    "stage_changed": _transition,
    "achievement_completed": _achievements,
    "achievement_reopened": _achievements,
    "escalation_opened": _escalation,
    "escalation_resolved": _escalation,
    "meeting_logged": _note(NoteKind.MEETING),
    "call_logged": _note(NoteKind.CALL),
    "task_completed": _task_completed,
    "usage_recorded": _usage,
    "health_changed": _health_changed,
    "nps_received": _nps,
}


def test_every_subscribed_kind_has_a_scenario():
    assert set(registry.subscribed_kinds()) == set(SCENARIOS)


@pytest.mark.django_db
@pytest.mark.parametrize("kind", sorted(SCENARIOS))
def test_each_subscribed_kind_is_recorded_by_its_service(kind, tenant):
    SCENARIOS[kind](tenant)
    with tenant_context(tenant):
        assert DomainEvent.objects.filter(kind=kind).exists()
