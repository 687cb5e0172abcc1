"""Each trigger kind fires for a matching account and not for another, from
the real domain events (delivered as the worker does) or the beat sweep;
the occurrence key makes a sustained situation fire once and a genuinely
new one fire again."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone

from csplatform.events.services import event_record, events_coalesced_record_due
from health.models import UsageDailyAccount, UsageDailyEvent
from health.services import nps_response_record, usage_batch_record, usage_rollups_fold
from lifecycle.models import Account
from lifecycle.services import escalation_open
from tests import factories
from tests.work.rules_data import deliver, firings, move, rule
from work.models import RuleFiring, Task, TaskStatus
from work.rules.engine import rules_sweep
from work.services import task_create, task_snooze, task_transition

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


def fired_for(r) -> list[int]:
    return [f.account_id for f in firings(r)]


def keys(r) -> list[str]:
    return [f.occurrence_key for f in firings(r)]


def age(account, days: int) -> None:
    Account.objects.filter(pk=account.pk).update(created_at=timezone.now() - timedelta(days=days))


# -- stage -----------------------------------------------------------------------
def test_stage_entered_fires_for_the_stage_it_names(in_tenant):
    r = rule("stage_entered", {"stage": "adoption"})
    a, b = factories.account(), factories.account()
    move(a, "adoption")
    move(b, "churned")
    deliver()
    assert fired_for(r) == [a.pk]
    event_id = firings(r)[0].detail["payload"]["event_id"]
    assert keys(r) == [f"event:{event_id}"]


def test_stage_left_fires_for_the_stage_left(in_tenant):
    r = rule("stage_left", {"stage": "onboarding"})
    a, b = factories.account(), factories.account(stage="adoption")
    move(a, "adoption")
    move(b, "churned")
    deliver()
    assert fired_for(r) == [a.pk]


# -- escalation ------------------------------------------------------------------
def test_escalation_opened_fires_for_the_escalated_account(in_tenant):
    r = rule("escalation_opened")
    a, b = factories.account(), factories.account()
    escalation_open(account=a, reason="Outage", actor=None)
    move(b, "churned")  # another kind of event
    deliver()
    assert fired_for(r) == [a.pk]
    assert firings(r)[0].detail["payload"]["reason"] == "Outage"


# -- usage -----------------------------------------------------------------------
def use(tenant, account, event: str, times: int = 1) -> None:
    usage_batch_record(
        events=[
            {"account_id": account.external_id, "event": event, "user_id": f"u{i}"}
            for i in range(times)
        ]
    )
    usage_rollups_fold(tenant=tenant)
    # usage_recorded is coalesced: recorded once its window has passed, as beat does
    window = timedelta(seconds=settings.EVENT_COALESCE_SECONDS)
    events_coalesced_record_due(now=timezone.now() + window)


def test_usage_seen_fires_for_the_event_name_once_a_day(in_tenant):
    r = rule("usage_seen", {"event": "report_exported"})
    a, b = factories.account(), factories.account()
    use(in_tenant, a, "report_exported")
    use(in_tenant, b, "login", 3)
    deliver()
    assert fired_for(r) == [a.pk]
    assert keys(r) == [f"usage_seen:{TODAY}"]
    use(in_tenant, a, "report_exported", 2)  # later the same day: same occurrence
    deliver()
    assert fired_for(r) == [a.pk]


def test_usage_count_at_least_fires_once_per_crossing(in_tenant):
    r = rule(
        "usage_count", {"event": "login", "comparison": "at_least", "count": 5, "window_days": 7}
    )
    a, b = factories.account(), factories.account()
    UsageDailyEvent.objects.create(
        account=a, event="login", day=TODAY - timedelta(days=3), events=3
    )
    UsageDailyEvent.objects.create(
        account=a, event="login", day=TODAY - timedelta(days=9), events=50
    )
    use(in_tenant, a, "login", 1)  # 3 + 1 in the window (the 50 are older): not yet
    use(in_tenant, b, "login", 2)
    deliver()
    assert fired_for(r) == []
    use(in_tenant, a, "login", 1)  # 5 in the window: crosses
    deliver()
    assert fired_for(r) == [a.pk]
    assert keys(r) == [f"usage_count:{TODAY}"]
    use(in_tenant, a, "login", 4)  # still above: the same occurrence
    deliver()
    assert len(firings(r)) == 1


def test_usage_count_at_least_fires_again_once_a_window_has_passed(in_tenant):
    from work.rules.engine import rules_evaluate

    r = rule(
        "usage_count", {"event": "login", "comparison": "at_least", "count": 2, "window_days": 7}
    )
    a = factories.account()
    UsageDailyEvent.objects.create(account=a, event="login", day=TODAY, events=3)
    payload = {"events": 3, "names": {"login": 3}}
    rules_evaluate(
        trigger="usage_count", account_id=a.pk, occurrence_key="event:1", payload=payload
    )
    rules_evaluate(
        trigger="usage_count", account_id=a.pk, occurrence_key="event:2", payload=payload
    )
    assert len(firings(r)) == 1
    # Eight days on, the window holds only new usage: a new crossing.
    later = timezone.now() + timedelta(days=8)
    UsageDailyEvent.objects.create(
        account=a, event="login", day=timezone.localdate(later), events=2
    )
    rules_evaluate(
        trigger="usage_count", account_id=a.pk, occurrence_key="event:3", payload=payload, now=later
    )
    assert keys(r) == [f"usage_count:{TODAY}", f"usage_count:{timezone.localdate(later)}"]


def test_usage_count_at_most_is_found_by_the_sweep(in_tenant):
    r = rule(
        "usage_count", {"event": "login", "comparison": "at_most", "count": 1, "window_days": 7}
    )
    quiet, busy, new = factories.account(), factories.account(), factories.account()
    for account in (quiet, busy):
        age(account, 30)
    UsageDailyEvent.objects.create(account=quiet, event="login", day=TODAY, events=1)
    UsageDailyEvent.objects.create(account=busy, event="login", day=TODAY, events=4)
    assert rules_sweep() == 1
    assert fired_for(r) == [quiet.pk]  # the new account has not had a window yet
    assert rules_sweep() == 0  # the same occurrence for a whole window
    assert firings(r)[0].detail["payload"]["count"] == 1
    # the event path leaves "at most" to the sweep
    use(in_tenant, new, "login")
    deliver()
    assert fired_for(r) == [quiet.pk]


def test_no_usage_fires_per_silence(in_tenant):
    r = rule("no_usage", {"days": 14})
    silent, active, never, fresh = (factories.account() for _ in range(4))
    for account in (silent, active, never):
        age(account, 60)
    UsageDailyAccount.objects.create(account=silent, day=TODAY - timedelta(days=20), events=5)
    UsageDailyAccount.objects.create(account=active, day=TODAY - timedelta(days=2), events=5)
    assert rules_sweep() == 2
    assert sorted(zip(fired_for(r), keys(r), strict=True)) == sorted(
        [
            (silent.pk, f"no_usage:{TODAY - timedelta(days=20)}"),
            (never.pk, "no_usage:never"),
        ]
    )
    assert rules_sweep() == 0  # still silent: the same occurrence
    # It was used again, and has been silent for 14 days since: a new silence.
    UsageDailyAccount.objects.create(account=silent, day=TODAY - timedelta(days=15), events=1)
    assert rules_sweep() == 1
    assert keys(r)[-1] == f"no_usage:{TODAY - timedelta(days=15)}"
    assert fresh.pk not in fired_for(r)


# -- renewal ---------------------------------------------------------------------
def test_renewal_within_fires_per_account_and_renewal_date(in_tenant):
    r = rule("renewal_within", {"days": 30})
    soon, later, cancelled = factories.account(), factories.account(), factories.account()
    contract = factories.contract(soon, renewal_date=TODAY + timedelta(days=20))
    factories.contract(later, renewal_date=TODAY + timedelta(days=60))
    factories.contract(cancelled, renewal_date=TODAY + timedelta(days=10), status="cancelled")
    assert rules_sweep() == 1
    assert fired_for(r) == [soon.pk]
    assert keys(r) == [f"renewal:{soon.pk}:{TODAY + timedelta(days=20)}"]
    assert firings(r)[0].detail["payload"]["arr"] == str(Decimal("12000.00"))
    assert firings(r)[0].detail["payload"]["contract_ids"] == [contract.pk]
    assert rules_sweep() == 0
    # renewed to a date next year, then that date comes near: a new occurrence
    contract.renewal_date = TODAY + timedelta(days=25)
    contract.save()
    assert rules_sweep() == 1


def test_renewal_within_fires_once_for_two_contracts_renewing_the_same_day(in_tenant):
    r = rule("renewal_within", {"days": 30})
    account = factories.account()
    day = TODAY + timedelta(days=15)
    first = factories.contract(account, renewal_date=day, arr=Decimal("1000"))
    second = factories.contract(account, renewal_date=day, arr=Decimal("2500"))
    assert rules_sweep() == 1
    assert keys(r) == [f"renewal:{account.pk}:{day}"]
    payload = firings(r)[0].detail["payload"]
    assert payload["contract_ids"] == [first.pk, second.pk]
    assert payload["arr"] == str(Decimal("3500.00"))
    assert rules_sweep() == 0
    # a third contract renewing on another day: a second occurrence
    factories.contract(account, renewal_date=day + timedelta(days=5))
    assert rules_sweep() == 1
    assert sorted(keys(r)) == sorted(
        [f"renewal:{account.pk}:{day}", f"renewal:{account.pk}:{day + timedelta(days=5)}"]
    )
    assert fired_for(r) == [account.pk, account.pk]
    assert rules_sweep() == 0


def test_renewal_within_counts_a_firing_keyed_by_contract_as_fired(in_tenant):
    r = rule("renewal_within", {"days": 30})
    account = factories.account()
    day = TODAY + timedelta(days=15)
    contract = factories.contract(account, renewal_date=day)
    RuleFiring.objects.create(
        rule=r, account=account, occurrence_key=f"renewal:{contract.pk}:{day}"
    )
    assert rules_sweep() == 0


# -- tasks -----------------------------------------------------------------------
def test_task_overdue_fires_per_task_and_due_date(in_tenant, users):
    r = rule("task_overdue")
    a, b = factories.account(), factories.account()
    csm = users["csm"]
    late = task_create(
        account=a, title="Call", due_date=TODAY - timedelta(days=1), actor=None, assignee=csm
    )
    task_create(account=b, title="Later", due_date=TODAY + timedelta(days=1), actor=None)
    done = task_create(account=b, title="Done", due_date=TODAY - timedelta(days=3), actor=None)
    task_transition(task=done, action="complete", actor=None)
    assert rules_sweep() == 1
    assert fired_for(r) == [a.pk]
    assert firings(r)[0].detail["payload"]["assignee_id"] == csm.pk
    assert rules_sweep() == 0
    # snoozed, then overdue again: a new occurrence
    task_snooze(task=late, until=TODAY + timedelta(days=1), actor=None)
    Task.objects.filter(pk=late.pk).update(due_date=TODAY - timedelta(days=1))
    assert rules_sweep() == 0  # the same due date as before: the same occurrence
    Task.objects.filter(pk=late.pk).update(due_date=TODAY - timedelta(days=2))
    assert rules_sweep() == 1
    assert Task.objects.get(pk=late.pk).status == TaskStatus.OPEN


def test_task_overdue_by_days(in_tenant):
    r = rule("task_overdue", {"days_overdue": 3})
    a, b = factories.account(), factories.account()
    task_create(account=a, title="Old", due_date=TODAY - timedelta(days=5), actor=None)
    task_create(account=b, title="Recent", due_date=TODAY - timedelta(days=1), actor=None)
    rules_sweep()
    assert fired_for(r) == [a.pk]


# -- health ----------------------------------------------------------------------
def health_changed(account, old_band, new_band, old_score=70, new_score=35, peak=None):
    event_record(
        kind="health_changed",
        account_id=account.pk,
        payload={
            "old_score": old_score,
            "new_score": new_score,
            "old_band": old_band,
            "new_band": new_band,
            "peak_7d": peak,
            "band_changed": old_band != new_band,
            "dropped": False,
        },
    )


def test_health_band_changed_fires_for_the_bands_it_names(in_tenant):
    to_red = rule("health_band_changed", {"to_band": "red"})
    any_change = rule("health_band_changed", {})
    from_green = rule("health_band_changed", {"from_band": "green", "to_band": "yellow"})
    a, b, c = factories.account(), factories.account(), factories.account()
    health_changed(a, "yellow", "red")
    health_changed(b, "red", "green", 30, 80)
    health_changed(c, "yellow", "yellow", 69, 50)  # a drop, no band change
    deliver()
    assert fired_for(to_red) == [a.pk]
    assert sorted(fired_for(any_change)) == [a.pk, b.pk]
    assert fired_for(from_green) == []


def test_health_dropped_fires_for_a_fall_of_the_points(in_tenant):
    r = rule("health_dropped", {"points": 15})
    a, b, c = factories.account(), factories.account(), factories.account()
    health_changed(a, "green", "yellow", old_score=80, new_score=64)
    health_changed(b, "green", "yellow", old_score=76, new_score=69)
    health_changed(c, "yellow", "yellow", old_score=60, new_score=50, peak=75)  # from the peak
    deliver()
    assert sorted(fired_for(r)) == [a.pk, c.pk]


# -- NPS -------------------------------------------------------------------------
def test_nps_received_fires_for_the_category(in_tenant):
    detractors = rule("nps_received", {"category": "detractor"})
    every = rule("nps_received", {})
    a, b = factories.account(), factories.account()
    nps_response_record(account=a, score=3, respondent="x@a.test")
    nps_response_record(account=b, score=9, respondent="y@b.test")
    deliver()
    assert fired_for(detractors) == [a.pk]
    assert sorted(fired_for(every)) == [a.pk, b.pk]


def test_an_inactive_rule_never_fires(in_tenant):
    r = rule("stage_entered", {"stage": "adoption"}, is_active=False)
    timed = rule("no_usage", {"days": 1}, is_active=False)
    a = factories.account()
    age(a, 10)
    move(a, "adoption")
    deliver()
    rules_sweep()
    assert firings(r) == [] and firings(timed) == []


def test_the_sweep_is_bounded_per_rule(in_tenant):
    r = rule("no_usage", {"days": 1})
    accounts = [factories.account() for _ in range(3)]
    for account in accounts:
        age(account, 5)
    assert rules_sweep(limit=2) == 2
    assert rules_sweep(limit=2) == 1
    assert sorted(fired_for(r)) == sorted(a.pk for a in accounts)


def test_trigger_config_errors_are_field_level(in_tenant):
    from django.core.exceptions import ValidationError

    cases = [
        ("stage_entered", {}, "trigger_config.stage"),
        ("stage_entered", {"stage": "nowhere"}, "trigger_config.stage"),
        (
            "usage_count",
            {"event": "x", "comparison": "about", "count": 1, "window_days": 7},
            "trigger_config.comparison",
        ),
        (
            "usage_count",
            {"event": "x", "comparison": "at_least", "count": 1, "window_days": 0},
            "trigger_config.window_days",
        ),
        ("no_usage", {"days": "soon"}, "trigger_config.days"),
        ("health_dropped", {"points": 0}, "trigger_config.points"),
        ("health_band_changed", {"to_band": "blue"}, "trigger_config.to_band"),
        ("nps_received", {"category": "fan"}, "trigger_config.category"),
        ("renewal_within", {"days": 30, "extra": 1}, "trigger_config.extra"),
        ("whenever", {}, "trigger"),
    ]
    for trigger, config, field in cases:
        with pytest.raises(ValidationError) as raised:
            rule(trigger, config)
        assert field in raised.value.message_dict, (trigger, raised.value.message_dict)
