"""The lifecycle stage machine: guards, forced moves, back and side moves,
stage history and concurrency."""

import itertools
import threading

import pytest
from django.db import connection
from django_fsm import TransitionNotAllowed

from csplatform.events.models import DomainEvent
from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Role
from lifecycle import services
from lifecycle.errors import TransitionRejected
from lifecycle.models import Account, Stage, StageHistory, TimelineEntry
from tests import factories
from tests.conftest import make_tenant, make_user

pytestmark = pytest.mark.django_db


def move(account, to_stage, role=Role.CSM, **kw):
    return services.account_transition(
        account_id=account.pk, to_stage=to_stage, actor=None, role=role, **kw
    )


def walk_to(account, stage):
    """Advance through the forward journey, ticking each stage's checklist."""
    order = [Stage.ONBOARDING, Stage.ADOPTION, Stage.USAGE, Stage.VALUE_REALIZATION, Stage.ADVOCACY]
    while account.stage != stage:
        factories.complete_stage(account)
        account = move(account, order[order.index(account.stage) + 1])
    return account


def test_new_tenant_gets_a_default_checklist_per_stage(in_tenant):
    acct = factories.account()
    titles = [a.title for a in acct.missing_achievements()]
    assert "Kickoff call held" in titles
    assert len(titles) == 4


def test_forward_move_is_blocked_until_required_achievements_are_done(in_tenant):
    acct = factories.account()
    with pytest.raises(TransitionRejected) as err:
        move(acct, Stage.ADOPTION)
    assert err.value.code == "guard"
    assert "Admin trained" in err.value.missing
    acct.refresh_from_db()
    assert acct.stage == Stage.ONBOARDING

    factories.complete_stage(acct)
    acct = move(acct, Stage.ADOPTION)
    assert Account.objects.get(pk=acct.pk).stage == Stage.ADOPTION


def test_optional_achievements_do_not_block(in_tenant):
    acct = factories.account()
    from lifecycle.models import StageAchievement

    StageAchievement.objects.filter(stage=Stage.ONBOARDING, key="data_imported").update(
        required=False
    )
    for a in StageAchievement.objects.filter(stage=Stage.ONBOARDING, required=True):
        services.achievement_complete(account=acct, achievement=a, actor=None)
    assert move(acct, Stage.ADOPTION).stage == Stage.ADOPTION


def test_full_journey_records_history_timeline_and_events(in_tenant):
    acct = walk_to(factories.account(), Stage.ADVOCACY)
    stays = list(StageHistory.objects.filter(account=acct).order_by("entered_at", "id"))
    assert [s.stage for s in stays] == [
        "onboarding",
        "adoption",
        "usage",
        "value_realization",
        "advocacy",
    ]
    assert all(s.exited_at for s in stays[:-1]) and stays[-1].exited_at is None
    assert TimelineEntry.objects.filter(account=acct, kind="stage_changed").count() == 4
    events = DomainEvent.objects.filter(kind="stage_changed", account_id=acct.pk)
    assert [e.payload["to"] for e in events] == [
        "adoption",
        "usage",
        "value_realization",
        "advocacy",
    ]


def test_leader_can_force_with_a_reason(in_tenant):
    acct = factories.account()
    acct = move(acct, Stage.ADOPTION, role=Role.LEADER, force=True, reason="Kickoff done offline")
    assert acct.stage == Stage.ADOPTION
    entry = TimelineEntry.objects.get(account=acct, kind="stage_changed")
    assert entry.payload["forced"] is True
    assert entry.body == "Kickoff done offline"
    assert "Kickoff call held" in entry.payload["skipped_achievements"]
    assert StageHistory.objects.get(account=acct, stage="adoption").forced is True


def test_force_needs_a_reason(in_tenant):
    acct = factories.account()
    with pytest.raises(TransitionRejected) as err:
        move(acct, Stage.ADOPTION, role=Role.ADMIN, force=True, reason="  ")
    assert err.value.code == "reason_required"


@pytest.mark.parametrize("role", [Role.CSM, Role.VIEWER, None])
def test_only_leaders_and_admins_can_force(in_tenant, role):
    acct = factories.account()
    with pytest.raises(TransitionRejected) as err:
        move(acct, Stage.ADOPTION, role=role, force=True, reason="please")
    assert err.value.code == "forbidden"
    assert Account.objects.get(pk=acct.pk).stage == Stage.ONBOARDING


def test_skipping_a_stage_is_not_allowed(in_tenant):
    acct = factories.account()
    factories.complete_stage(acct)
    with pytest.raises(TransitionRejected) as err:
        move(acct, Stage.USAGE, role=Role.ADMIN, force=True, reason="x")
    assert err.value.code == "not_allowed"


def test_upsell_returns_to_onboarding_and_churn_and_win_back(in_tenant):
    acct = walk_to(factories.account(), Stage.USAGE)
    acct = move(acct, Stage.ONBOARDING)  # upsell: back to onboarding, unguarded
    assert acct.stage == Stage.ONBOARDING
    acct = move(acct, Stage.CHURNED)
    assert acct.stage == Stage.CHURNED
    with pytest.raises(TransitionRejected):
        move(acct, Stage.ADOPTION)
    acct = move(acct, Stage.ONBOARDING)  # win-back
    assert acct.stage == Stage.ONBOARDING
    assert StageHistory.objects.filter(account=acct, stage="onboarding").count() == 3


def test_onboarding_cannot_restart_onboarding(in_tenant):
    acct = factories.account()
    with pytest.raises(TransitionRejected):
        move(acct, Stage.ONBOARDING)


def test_stale_expected_stage_is_rejected(in_tenant):
    acct = walk_to(factories.account(), Stage.ADOPTION)
    with pytest.raises(TransitionRejected) as err:
        move(acct, Stage.CHURNED, expected_stage=Stage.ONBOARDING)
    assert err.value.code == "stale"


def test_unknown_stage_is_a_field_error(in_tenant):
    from django.core.exceptions import ValidationError

    acct = factories.account()
    with pytest.raises(ValidationError) as err:
        move(acct, "nirvana")
    assert "to_stage" in err.value.message_dict


def test_allowed_targets_lists_guard_state(in_tenant):
    acct = factories.account()
    targets = {t["stage"]: t for t in services.allowed_targets(acct)}
    assert set(targets) == {"adoption", "churned"}
    assert targets["adoption"]["ready"] is False and targets["adoption"]["missing"]
    factories.complete_stage(acct)
    targets = {t["stage"]: t for t in services.allowed_targets(acct)}
    assert targets["adoption"]["ready"] is True


def test_time_to_onboard_is_measurable(in_tenant):
    from lifecycle.selectors import time_to_onboard_days

    acct = factories.account()
    assert time_to_onboard_days(acct) is None
    walk_to(acct, Stage.ADOPTION)
    assert time_to_onboard_days(acct) is not None


@pytest.mark.django_db(transaction=True)  # two threads, two connections: they see commits only
def test_concurrent_transitions_only_one_wins():
    tenant = make_tenant()
    leader = make_user(tenant, Role.LEADER)
    with tenant_context(tenant):
        acct = factories.account()
        factories.complete_stage(acct)

    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def attempt():
        try:
            barrier.wait(timeout=10)
            with tenant_context(tenant):
                services.account_transition(
                    account_id=acct.pk, to_stage=Stage.ADOPTION, actor=leader, role=Role.LEADER
                )
            outcomes.append("won")
        except TransitionRejected as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert sorted(outcomes) == ["not_allowed", "won"]
    with tenant_context(tenant):
        assert Account.objects.get(pk=acct.pk).stage == Stage.ADOPTION
        assert TimelineEntry.objects.filter(account=acct, kind="stage_changed").count() == 1
        assert StageHistory.objects.filter(account=acct, exited_at__isnull=True).count() == 1


# -- the one table of moves ------------------------------------------------------
ACTIVE = ["onboarding", "adoption", "usage", "value_realization", "advocacy"]
# DESIGN.md's journey, written out: forward (guarded), upsell back to
# onboarding, churn from any active stage, win-back.
JOURNEY = {
    ("onboarding", "adoption"),
    ("adoption", "usage"),
    ("usage", "value_realization"),
    ("value_realization", "advocacy"),
    *((s, "onboarding") for s in ACTIVE[1:]),
    *((s, "churned") for s in ACTIVE),
    ("churned", "onboarding"),
}


def test_the_stage_machine_is_the_journey_and_only_forward_moves_are_guarded(in_tenant):
    transitions = list(factories.account().get_all_stage_transitions())
    unforced = {(t.source, t.target) for t in transitions if not t.custom.get("forced")}
    assert unforced == JOURNEY
    guarded = {(t.source, t.target) for t in transitions if t.conditions}
    assert guarded == set(itertools.pairwise(ACTIVE))
    # each guarded move, and only those, has an unguarded twin for a leader
    forced = {(t.source, t.target) for t in transitions if t.custom.get("forced")}
    assert forced == guarded
    assert not any(t.conditions for t in transitions if t.custom.get("forced"))


def test_no_flag_on_the_instance_skips_the_guard(in_tenant):
    acct = factories.account()
    acct._force_transition = True  # the old back door
    with pytest.raises(TransitionNotAllowed):
        acct.start_adoption()
    assert acct.stage == Stage.ONBOARDING
    acct.force_start_adoption()  # forcing is a move of its own
    assert acct.stage == Stage.ADOPTION


def test_the_buttons_are_named_by_the_table(in_tenant):
    acct = walk_to(factories.account(), Stage.USAGE)
    buttons = [t["button"] for t in services.allowed_targets(acct)]
    assert buttons == ["Move to Value realization", "Back to Onboarding (upsell)", "Mark churned"]
    acct = move(acct, Stage.CHURNED)
    assert [t["button"] for t in services.allowed_targets(acct)] == ["Win back"]
