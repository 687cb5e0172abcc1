"""Health scores: each measure from hand-built data, missing data, scaling,
profiles, bands, early warning, and the set-based re-score."""

import random
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from csplatform.events.models import DomainEvent
from csplatform.tenancy.context import tenant_context
from health.measures import MEASURES
from health.models import (
    CsmSentiment,
    HealthProfile,
    HealthScore,
    HealthSnapshot,
    NpsResponse,
    RescoreRequest,
)
from health.selectors import score_card
from health.services import (
    csm_sentiment_set,
    health_defaults_ensure,
    health_rescore,
    health_rescore_pending,
    health_rescore_request,
    health_snapshots_take,
    nps_response_record,
)
from lifecycle.models import AccountAchievement, NoteKind, StageAchievement, TimelineEntry
from lifecycle.services import escalation_open, note_add, segment_save
from tests import factories
from tests.health.scoring_data import (
    TODAY,
    active_days,
    breakdown,
    catalogue,
    event_used,
    only_profile,
    users_seen,
)

pytestmark = pytest.mark.django_db


def score_of(account) -> HealthScore:
    return HealthScore.objects.get(account=account)


def test_each_measure_is_computed_from_its_signals(in_tenant):
    only_profile()
    acct = factories.account()
    factories.contract(acct, seats=10)
    # usage: 12 active days in the last 30, 20 events a day; 8 days before that
    active_days(acct, list(range(12)), events=20)
    active_days(acct, list(range(35, 43)), events=10)
    active_days(acct, [3 + 30 * 3], events=999)  # 93 days ago: outside every window
    users_seen(acct, [f"u{i}" for i in range(6)])
    users_seen(acct, ["u0", "old-user"], days_ago=40)  # not in the last 30 days
    catalogue(["reports", "alerts", "api", "sso"], ["themes"])
    event_used(acct, "reports")
    event_used(acct, "api", days_ago=20)
    event_used(acct, "sso", days_ago=45)  # too long ago for breadth
    event_used(acct, "themes")  # not a key feature
    event_used(acct, "ticket_created", events=3)
    escalation_open(account=acct, reason="Outage", actor=None)
    # NPS: the latest answer per respondent counts; older ones are replaced
    nps_response_record(
        account=acct,
        score=3,
        respondent="a@x.test",
        responded_at=timezone.now() - timedelta(days=20),
    )
    nps_response_record(account=acct, score=9, respondent="a@x.test")
    nps_response_record(account=acct, score=10, respondent="b@x.test")
    nps_response_record(account=acct, score=6, respondent="c@x.test")
    note = note_add(account=acct, body="QBR held", actor=None)
    TimelineEntry.objects.filter(pk=note.pk).update(
        occurred_at=timezone.now() - timedelta(days=10, hours=1)  # 10 whole days ago
    )
    csm_sentiment_set(account=acct, value="yellow", comment="Champion is leaving", actor=None)
    required = StageAchievement.objects.filter(stage=acct.stage, required=True)
    AccountAchievement.objects.create(account=acct, achievement=required[0])
    type(acct).objects.filter(pk=acct.pk).update(
        stage_entered_at=timezone.now() - timedelta(days=45)
    )

    health_rescore(account_ids=[acct.pk])
    parts = breakdown(score_of(acct))

    assert parts["usage_frequency"]["raw"] == 12
    assert parts["usage_frequency"]["inputs"] == {"active_days": 12, "days": 30}
    assert parts["trend"]["raw"] == pytest.approx(240 / 80)
    assert parts["breadth"]["inputs"] == {"used": 2, "key_features": 4}
    assert parts["license_utilization"]["inputs"] == {"active_users": 6, "seats": 10}
    assert parts["license_utilization"]["raw"] == pytest.approx(0.6)
    assert parts["nps"]["inputs"] == {"responses": 3, "promoters": 2, "detractors": 1}
    assert parts["nps"]["raw"] == pytest.approx(100 / 3, abs=0.001)
    assert parts["support_load"]["inputs"] == {"tickets": 3, "open_escalation": True}
    assert parts["support_load"]["raw"] == 3 + 5
    assert parts["engagement"]["raw"] == 10
    assert parts["csm_sentiment"]["raw"] == 50
    assert parts["outcomes"]["inputs"] == {"done": 1, "required": required.count(), "due": True}
    assert parts["outcomes"]["raw"] == pytest.approx(1 / required.count(), abs=0.001)
    assert not any(p["missing"] for p in parts.values())


def test_logged_meetings_and_calls_count_as_csm_contact(in_tenant):
    only_profile({"engagement": 1})
    acct = factories.account()
    TimelineEntry.objects.filter(account=acct).delete()  # "account created" is no contact
    for kind, days in [(NoteKind.CALL, 9), (NoteKind.MEETING, 4)]:
        entry = note_add(account=acct, body="Spoke with the champion", actor=None, kind=kind)
        assert entry.kind == kind
        TimelineEntry.objects.filter(pk=entry.pk).update(
            occurred_at=timezone.now() - timedelta(days=days, hours=1)
        )
    health_rescore(account_ids=[acct.pk])
    assert breakdown(score_of(acct))["engagement"]["raw"] == 4  # the meeting, 4 days ago


def test_missing_measures_are_left_out_and_the_rest_reweighted(in_tenant):
    only_profile()
    acct = factories.account()
    nothing = factories.account()
    csm_sentiment_set(account=acct, value="green", comment="Loves us", actor=None)
    health_rescore(account_ids=None)

    score = score_of(acct)
    parts = breakdown(score)
    assert score.score == 100 and score.band == "green"  # sentiment alone carries it
    assert parts["csm_sentiment"]["share"] == 100
    assert {m for m, p in parts.items() if p["missing"]} == set(parts) - {"csm_sentiment"}
    assert all(p["points"] is None for m, p in parts.items() if m != "csm_sentiment")
    # an account with no signal at all is not judged red: it has no score
    assert (score_of(nothing).score, score_of(nothing).band) == (None, "")


def test_quiet_usage_is_a_zero_once_an_account_has_ever_sent_usage(in_tenant):
    only_profile({"usage_frequency": 10})
    quiet = factories.account()
    active_days(quiet, [50])  # used the product, but not in the last 30 days
    never = factories.account()
    health_rescore(account_ids=None)
    assert breakdown(score_of(quiet))["usage_frequency"]["raw"] == 0
    assert score_of(quiet).band == "red"
    assert breakdown(score_of(never))["usage_frequency"]["missing"] is True


def test_seats_without_any_usage_ever_are_missing_usage_not_zero_and_not_red(in_tenant):
    health_defaults_ensure()  # the starting profiles: adoption falls to Default
    acct = factories.account(stage="adoption")
    factories.contract(acct, seats=19)
    csm_sentiment_set(account=acct, value="yellow", comment="Quiet so far", actor=None)
    nothing = factories.account(stage="adoption")
    factories.contract(nothing, seats=19)
    health_rescore(account_ids=None)

    parts = breakdown(score_of(acct))
    usage = {"usage_frequency", "breadth", "trend", "license_utilization"}
    for measure in usage:
        assert parts[measure]["missing"] is True, measure
        assert parts[measure]["points"] is None and parts[measure]["share"] is None, measure
    # "0 active users / 19 seats" at 15 of 20 would have made it red (12.5)
    assert parts["license_utilization"]["inputs"] == {"active_users": 0, "seats": 19}
    assert parts["csm_sentiment"]["share"] == 100
    assert (score_of(acct).score, score_of(acct).band) == (50, "yellow")
    assert not DomainEvent.objects.filter(kind="health_changed", payload__new_band="red").exists()
    # every measure missing: no score, neither red nor green
    assert (score_of(nothing).score, score_of(nothing).band) == (None, "")

    card = score_card(acct)
    assert card.score == 50 and set(card.missing) >= {
        "Usage frequency",
        "Key feature breadth",
        "Usage trend",
        "License utilization",
    }
    reasons = dict(card.left_out)
    assert reasons["License utilization"] == "no usage received yet, 19 seats"
    assert reasons["Usage frequency"] == "no usage received yet"
    assert reasons["Usage trend"] == "no usage in the last 60 days"
    assert reasons["NPS"] == "no NPS answers"
    assert "CSM sentiment" not in reasons


def test_license_utilization_counts_zero_active_users_once_usage_has_been_sent(in_tenant):
    only_profile({"license_utilization": 1})
    acct = factories.account()
    factories.contract(acct, seats=19)
    active_days(acct, [50])  # used the product once, nobody in the last 30 days
    health_rescore(account_ids=[acct.pk])
    part = breakdown(score_of(acct))["license_utilization"]
    assert (part["raw"], part["missing"]) == (0, False)
    assert score_of(acct).band == "red"


def test_every_measure_says_when_it_is_missing():
    assert all(spec.missing_when for spec in MEASURES)


def test_points_scale_from_bad_to_good_and_clamp_both_ways(in_tenant):
    only_profile({"usage_frequency": 1, "support_load": 1})
    accounts = {}
    for days, tickets in [(11, 5), (25, 0), (1, 30)]:
        acct = factories.account()
        active_days(acct, list(range(days)))
        event_used(acct, "ticket_created", events=tickets) if tickets else None
        accounts[(days, tickets)] = acct
    health_rescore(account_ids=None)
    points = {
        key: {m: p["points"] for m, p in breakdown(score_of(a)).items()}
        for key, a in accounts.items()
    }
    # usage 2 -> 0 points, 20 -> 100; support 10 -> 0, 0 -> 100 (lower is better)
    assert points[(11, 5)] == {"usage_frequency": 50.0, "support_load": 50.0}
    assert points[(25, 0)] == {"usage_frequency": 100.0, "support_load": 100.0}
    assert points[(1, 30)] == {"usage_frequency": 0.0, "support_load": 0.0}
    assert score_of(accounts[(11, 5)]).score == 50


def test_profiles_are_chosen_by_position_stage_and_segment_then_default(in_tenant):
    only_profile({"csm_sentiment": 1}, name="Fallback")
    enterprise = segment_save(name="Enterprise", filters={"tier": ["enterprise"]})
    sentiment = {"csm_sentiment": {"weight": 1, "bad": 0, "good": 100}}
    from health.services import health_profile_save

    onboarding = health_profile_save(
        name="Onboarding", stage="onboarding", position=20, measures=sentiment, rescore=False
    )
    big = health_profile_save(
        name="Enterprise", segment=enterprise, position=10, measures=sentiment, rescore=False
    )
    new_small = factories.account(tier="smb")
    new_big = factories.account(tier="enterprise")  # both rules match: position decides
    old_small = factories.account(tier="smb")
    type(old_small).objects.filter(pk=old_small.pk).update(stage="adoption")
    health_rescore(account_ids=None)
    assert score_of(new_small).profile == onboarding
    assert score_of(new_big).profile == big
    assert score_of(old_small).profile.name == "Fallback"


def test_bands_follow_the_profile_thresholds(in_tenant):
    only_profile({"csm_sentiment": 1}, red_below=40, green_from=70)
    values = {"red": "red", "yellow": "yellow", "green": "green"}
    accounts = {}
    for value in values:
        acct = factories.account()
        csm_sentiment_set(account=acct, value=value, comment="why", actor=None)
        accounts[value] = acct
    health_rescore(account_ids=None)
    assert {v: score_of(a).band for v, a in accounts.items()} == values  # 0, 50, 100
    profile = HealthProfile.objects.get()
    profile.green_from = 50
    profile.save()
    health_rescore(account_ids=None)
    assert score_of(accounts["yellow"]).band == "green"  # 50 now reaches green


def test_a_band_change_alerts_once_with_old_and_new_values(in_tenant):
    only_profile({"csm_sentiment": 1})
    acct = factories.account()
    csm_sentiment_set(account=acct, value="green", comment="fine", actor=None)
    health_rescore(account_ids=None)
    # a first score is a starting point: a snapshot, but no alert
    assert not DomainEvent.objects.filter(kind="health_changed").exists()
    assert HealthSnapshot.objects.filter(account=acct, reason="band_change").count() == 1

    csm_sentiment_set(account=acct, value="red", comment="exec sponsor left", actor=None)
    health_rescore(account_ids=None)
    health_rescore(account_ids=None)  # nothing new: no second alert
    event = DomainEvent.objects.get(kind="health_changed")
    assert event.account_id == acct.pk
    assert event.payload | {"peak_7d": None} == {
        "old_score": 100,
        "new_score": 0,
        "old_band": "green",
        "new_band": "red",
        "peak_7d": None,
        "band_changed": True,
        "dropped": True,
    }
    entry = TimelineEntry.objects.get(account=acct, kind="health_changed")
    assert "Green → Red" in entry.title
    assert HealthSnapshot.objects.filter(account=acct, reason="band_change").count() == 2


def test_a_fall_of_n_points_in_7_days_alerts_without_a_band_change(in_tenant):
    only_profile({"usage_frequency": 1}, red_below=10, green_from=95, drop_alert_points=15)
    acct = factories.account()
    active_days(acct, list(range(17)))  # 17 active days: 83 points, yellow
    health_rescore(account_ids=None)
    health_snapshots_take()
    from health.models import UsageDailyAccount

    UsageDailyAccount.objects.filter(account=acct, day__gt=TODAY - timedelta(days=8)).delete()
    health_rescore(account_ids=None)  # 9 active days: 39 points, still yellow
    health_rescore(account_ids=None)  # already alerted within the week
    events = list(DomainEvent.objects.filter(kind="health_changed"))
    assert len(events) == 1
    assert events[0].payload["band_changed"] is False and events[0].payload["dropped"] is True
    assert (events[0].payload["peak_7d"], events[0].payload["new_score"]) == (83, 39)
    assert "fell 44 points" in TimelineEntry.objects.get(kind="health_changed").title


def test_the_set_based_full_rescore_equals_scoring_each_account_alone(tenant):
    rng = random.Random(7)
    with tenant_context(tenant):
        only_profile()
        catalogue(["a", "b", "c"], ["d"])
        accounts = [factories.account(tier=rng.choice(["smb", "enterprise"])) for _ in range(25)]
        for acct in accounts:
            if rng.random() < 0.8:
                factories.contract(acct, seats=rng.randint(1, 40))
            active_days(acct, rng.sample(range(60), rng.randint(0, 40)), events=rng.randint(1, 50))
            users_seen(acct, [f"u{i}" for i in range(rng.randint(0, 30))])
            for name in rng.sample(["a", "b", "c", "d", "ticket_created"], rng.randint(0, 5)):
                event_used(acct, name, days_ago=rng.randint(0, 40), events=rng.randint(1, 9))
            for i in range(rng.randint(0, 3)):
                nps_response_record(account=acct, score=rng.randint(0, 10), respondent=f"r{i}")
            if rng.random() < 0.5:
                csm_sentiment_set(
                    account=acct,
                    value=rng.choice(["red", "yellow", "green"]),
                    comment="x",
                    actor=None,
                )
        health_rescore(account_ids=None)
        together = {s.account_id: (s.score, s.band, s.breakdown) for s in HealthScore.objects.all()}
        HealthScore.objects.all().delete()
        for acct in accounts:
            health_rescore(account_ids=[acct.pk])
        alone = {s.account_id: (s.score, s.band, s.breakdown) for s in HealthScore.objects.all()}
    assert len(together) == 25
    assert together == alone
    assert len({band for _, band, _ in together.values()}) >= 2  # the fixture spreads


def test_rescore_requests_collapse_per_account_and_drain_once(tenant):
    with tenant_context(tenant):
        only_profile({"csm_sentiment": 1})
        a, b = factories.account(), factories.account()
        for _ in range(3):
            health_rescore_request(account_ids=[a.pk, b.pk, a.pk])
        assert RescoreRequest.objects.count() == 2
        CsmSentiment.objects.create(account=a, value="green", comment="x")
    assert health_rescore_pending(tenant=tenant) == 2
    with tenant_context(tenant):
        assert not RescoreRequest.objects.exists()
        assert score_of(a).score == 100
    assert health_rescore_pending(tenant=tenant) == 0


def test_rescoring_one_tenant_never_touches_another(tenant, other_tenant):
    for t in (tenant, other_tenant):
        with tenant_context(t):
            only_profile({"csm_sentiment": 1})
            acct = factories.account()
            csm_sentiment_set(account=acct, value="green", comment="x", actor=None)
    with tenant_context(tenant):
        health_rescore(account_ids=None)
        assert HealthScore.objects.count() == 1
    with tenant_context(other_tenant):
        assert HealthScore.objects.count() == 0


def test_nps_answers_are_recorded_once_per_external_id_and_validated(in_tenant):
    acct, other = factories.account(), factories.account()
    stranger = factories.contact(other)
    response, created = nps_response_record(account=acct, score=10, external_id="typeform-1")
    again, created_again = nps_response_record(account=acct, score=10, external_id="typeform-1")
    assert (created, created_again, again.pk) == (True, False, response.pk)
    assert response.category == "promoter"
    assert TimelineEntry.objects.filter(account=acct, kind="nps_received").count() == 1
    assert DomainEvent.objects.filter(kind="nps_received", account_id=acct.pk).count() == 1
    with pytest.raises(ValidationError) as bad_score:
        nps_response_record(account=acct, score=11)
    assert "score" in bad_score.value.message_dict
    with pytest.raises(ValidationError) as bad_contact:
        nps_response_record(account=acct, score=5, contact=stranger)
    assert "contact" in bad_contact.value.message_dict
    assert NpsResponse.objects.count() == 1


def test_lifecycle_signals_rescore_the_account_without_anyone_asking(
    tenant, django_capture_on_commit_callbacks
):
    """Achievements done (outcomes) reach the score through the event bus and
    the debounced re-score (tasks run inline in tests)."""
    from lifecycle.services import achievement_complete

    with tenant_context(tenant):
        only_profile({"outcomes": 1})
        acct = factories.account()
        type(acct).objects.filter(pk=acct.pk).update(
            stage_entered_at=timezone.now() - timedelta(days=60)
        )
        required = list(StageAchievement.objects.filter(stage=acct.stage, required=True))
    for achievement in required:
        with django_capture_on_commit_callbacks(execute=True), tenant_context(tenant):
            achievement_complete(account=acct, achievement=achievement, actor=None)
    with tenant_context(tenant):
        score = score_of(acct)
        assert breakdown(score)["outcomes"]["inputs"]["done"] == len(required)
        assert score.score == 100


def test_scoring_as_of_a_past_day_ignores_later_usage(in_tenant):
    """Scores for a past day (history rebuilt from rollups) see only the
    usage up to that day."""
    only_profile({"usage_frequency": 1})
    acct = factories.account()
    active_days(acct, [0, 1, 2, 3, 4, 20])
    health_rescore(account_ids=None, today=TODAY - timedelta(days=10))
    assert breakdown(score_of(acct))["usage_frequency"]["inputs"]["active_days"] == 1
    health_rescore(account_ids=None)
    assert breakdown(score_of(acct))["usage_frequency"]["inputs"]["active_days"] == 6
