"""Deciding which rules fire, and firing them.

From a domain event (`rules_evaluate`): one query for the tenant's active
rules of the trigger, the trigger's config checked against the event, every
remaining rule's conditions checked for the one account in one query, then
a firing per rule and occurrence. From the beat sweep (`rules_sweep`): per
timed rule, one set-based query finds the accounts due (conditions in the
WHERE, already-fired occurrences anti-joined away, capped per run).

Once per occurrence: RuleFiring is unique on (rule, account, occurrence
key). A duplicate delivery finds the firing and creates nothing; a racing
one fails its insert in a savepoint and creates nothing either.

Cool-down: a rule that fired for the account less than `cooldown_hours` ago
records the occurrence as `skipped` (so the run log says why) and runs no
actions. A loop guard does the same past LOOP_GUARD_PER_HOUR firings of one
rule for one account in an hour (two rules moving an account back and forth).
Conditions that do not hold record nothing: they are not an occurrence of
this rule's situation.

A broken rule (stored trigger settings or conditions that no longer pass
their check, a segment whose filters cannot run, SQL that fails) never
stops the others: for an event it records a failed firing with the reason
(the run log shows it); for a sweep, which has no account to record it on,
and in both cases, the rule keeps the reason in `Rule.problem` (the list and
the run log show it) until it is saved again or runs cleanly.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import BooleanField, Case, Count, Max, Q, Value, When
from django.utils import timezone

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.tasks import for_each_tenant
from lifecycle.models import Account
from lifecycle.segments import SegmentFilterBroken
from work.models import ActionRun, FiringStatus, Rule, RuleAction, RuleFiring
from work.rules.conditions import conditions_check, conditions_q, segments_for
from work.rules.forms import RuleBroken
from work.rules.runner import firing_run
from work.rules.triggers import SWEEP_LIMIT, TIMED_TRIGGERS, TRIGGERS, trigger_check

logger = logging.getLogger(__name__)

LOOP_GUARD_PER_HOUR = 20

# (rule, occurrence key, payload)
Fire = tuple[Rule, str, dict]


def rules_evaluate(
    *,
    trigger: str,
    account_id: int,
    occurrence_key: str,
    payload: dict | None = None,
    now: datetime | None = None,
) -> list[RuleFiring]:
    """Fire the tenant's active rules of `trigger` whose config and
    conditions match, for one account and one occurrence (`event:<id>` for
    a domain event). Returns the firings created now (skipped ones included)."""
    spec = TRIGGERS[trigger]
    if spec.occurrence is None or account_id is None:
        return []
    now = now or timezone.now()
    today = timezone.localdate(now)
    payload = payload or {}
    rules = list(Rule.objects.filter(is_active=True, trigger=trigger).order_by("pk"))
    if not rules:
        return []
    keyed, broken = [], []
    for rule in rules:
        try:
            trigger_check(rule)
        except RuleBroken as error:
            broken.append((rule, occurrence_key, error.message))
            continue
        key = spec.occurrence(
            rule,
            account_id=account_id,
            event_key=occurrence_key,
            payload=payload,
            today=today,
            now=now,
        )
        if key:
            keyed.append((rule, key[:200]))
    passing, cannot_run = rules_matching_account([rule for rule, _ in keyed], account_id)
    broken += [(rule, key, cannot_run[rule.pk]) for rule, key in keyed if rule.pk in cannot_run]
    fires = [(rule, key, payload) for rule, key in keyed if rule.pk in passing]
    _problems_cleared([rule for rule, _ in keyed if rule.pk not in cannot_run])
    firings = rules_fire(account_id=account_id, fires=fires, now=now)
    for rule, key, reason in broken:
        firing = _broken_firing(rule, account_id, key, payload, reason, now)
        if firing is not None:
            firings.append(firing)
    return firings


def _problem_record(rule: Rule, reason: str, now: datetime) -> None:
    logger.warning("rule %s cannot run: %s", rule.pk, reason)
    Rule.objects.filter(pk=rule.pk).update(problem=reason[:2000], problem_at=now)
    rule.problem, rule.problem_at = reason[:2000], now


def _problems_cleared(rules: list[Rule]) -> None:
    """Rules that ran cleanly lose the problem recorded earlier (one update,
    and only when one of them had a problem)."""
    fixed = [rule.pk for rule in rules if rule.problem]
    if fixed:
        Rule.objects.filter(pk__in=fixed).update(problem="", problem_at=None)


def _broken_firing(rule, account_id, key, payload, reason, now) -> RuleFiring | None:
    """The occurrence recorded as failed, with the reason, no action run."""
    _problem_record(rule, reason, now)
    if not Account.objects.filter(pk=account_id).exists():
        return None
    try:
        with transaction.atomic():
            return RuleFiring.objects.create(
                rule=rule,
                account_id=account_id,
                occurrence_key=key[:200],
                status=FiringStatus.FAILED,
                detail={
                    "trigger": rule.trigger,
                    "payload": payload,
                    "broken": True,
                    "reason": reason,
                },
                finished_at=now,
            )
    except IntegrityError:
        return None  # this occurrence was recorded already


def rules_matching_account(rules: list, account_id: int) -> tuple[set[int], dict[int, str]]:
    """(ids of the rules whose conditions hold for the account, {rule id: why
    it cannot run}) in one query for all of them (none when no rule has
    conditions). A rule whose conditions no longer compile, or whose SQL
    fails (a segment saved before the grammar closed), is set apart; the
    others are still judged."""
    broken: dict[int, str] = {}
    passed = {rule.pk for rule in rules if not rule.conditions}
    with_conditions = []
    for rule in rules:
        if not rule.conditions:
            continue
        try:
            conditions_check(rule)
        except RuleBroken as error:
            broken[rule.pk] = error.message
            continue
        with_conditions.append(rule)
    if not with_conditions:
        return passed, broken
    segments = segments_for([rule.conditions for rule in with_conditions])
    flags = {}
    for rule in with_conditions:
        try:
            q = conditions_q(rule.conditions, segments)
        except SegmentFilterBroken as error:
            broken[rule.pk] = error.message
            continue
        flags[f"r{rule.pk}"] = Case(
            When(q, then=Value(True)), default=Value(False), output_field=BooleanField()
        )
    if not flags:
        return passed, broken

    def judge(of: dict) -> dict | None:
        with transaction.atomic():  # a failing statement must not end the delivery
            return Account.objects.filter(pk=account_id).annotate(**of).values(*of).first()

    try:
        row = judge(flags)
    except DatabaseError:
        # One rule's SQL fails: judge them one by one to find it.
        row = {}
        for name, flag in flags.items():
            try:
                row.update(judge({name: flag}) or {name: False})
            except DatabaseError as error:
                broken[int(name[1:])] = f"Its conditions could not run: {error}"[:500]
    if row is None:
        return set(), broken
    return passed | {int(name[1:]) for name, hit in row.items() if hit}, broken


def _history(account_id: int, rules: list[Rule], now: datetime) -> dict[int, dict]:
    """Per rule: when it last fired for the account and how often in the last
    hour (skipped occurrences do not count), in one query."""
    longest = max([rule.cooldown_hours for rule in rules] + [1])
    hour_ago = now - timedelta(hours=1)
    rows = (
        RuleFiring.objects.filter(
            account_id=account_id,
            rule_id__in=[rule.pk for rule in rules],
            created_at__gte=now - timedelta(hours=longest),
        )
        .exclude(status=FiringStatus.SKIPPED)
        .values("rule_id")
        .annotate(last=Max("created_at"), recent=Count("pk", filter=Q(created_at__gte=hour_ago)))
    )
    return {row["rule_id"]: row for row in rows}


def _skip_reason(rule: Rule, seen: dict | None, now: datetime) -> dict | None:
    if not seen:
        return None
    if rule.cooldown_hours and seen["last"] > now - timedelta(hours=rule.cooldown_hours):
        return {
            "skipped": "cool-down",
            "reason": f"Fired for this account at {seen['last']:%Y-%m-%d %H:%M} UTC, within "
            f"the {rule.cooldown_hours}-hour cool-down.",
            "last_fired_at": seen["last"].isoformat(),
        }
    if seen["recent"] >= LOOP_GUARD_PER_HOUR:
        return {
            "skipped": "loop-guard",
            "reason": f"Fired {seen['recent']} times for this account in the last hour; "
            "held back as a likely loop between rules.",
        }
    return None


def rules_fire(*, account_id: int, fires: list[Fire], now: datetime | None = None):
    """Create the firings of these (rule, occurrence, payload) for one account
    and run their actions, unless the occurrence already fired (nothing) or
    the rule is cooling down (a skipped firing)."""
    if not fires:
        return []
    now = now or timezone.now()
    existing = set(
        RuleFiring.objects.filter(
            account_id=account_id,
            rule_id__in={rule.pk for rule, _, _ in fires},
            occurrence_key__in={key for _, key, _ in fires},
        ).values_list("rule_id", "occurrence_key")
    )
    fires = [fire for fire in fires if (fire[0].pk, fire[1]) not in existing]
    if not fires:
        return []
    account = Account.objects.select_related("owner").filter(pk=account_id).first()
    if account is None:
        return []
    history = _history(account_id, [rule for rule, _, _ in fires], now)
    actions: dict[int, list[RuleAction]] = {}
    for action in RuleAction.objects.filter(rule_id__in={rule.pk for rule, _, _ in fires}):
        actions.setdefault(action.rule_id, []).append(action)
    firings = []
    for rule, key, payload in fires:
        skipped = _skip_reason(rule, history.get(rule.pk), now)
        detail = {"trigger": rule.trigger, "payload": payload, **(skipped or {})}
        try:
            with transaction.atomic():
                firing = RuleFiring.objects.create(
                    rule=rule,
                    account=account,
                    occurrence_key=key,
                    status=FiringStatus.SKIPPED if skipped else FiringStatus.RUNNING,
                    detail=detail,
                    finished_at=now if skipped else None,
                )
        except IntegrityError:
            continue  # a concurrent delivery of the same occurrence won
        firings.append(firing)
        if skipped:
            continue
        runs = ActionRun.objects.bulk_create(
            [
                ActionRun(
                    firing=firing,
                    position=i,
                    kind=action.kind,
                    config=action.config,
                    next_attempt_at=now,
                )
                for i, action in enumerate(actions.get(rule.pk, []))
            ]
        )
        firing_run(firing=firing, rule=rule, account=account, runs=runs, now=now)
    return firings


def _sweep_rule(rule: Rule, *, now: datetime, limit: int):
    spec = TRIGGERS[rule.trigger]
    trigger_check(rule)
    conditions_check(rule)
    accounts = Account.objects.filter(
        conditions_q(rule.conditions, segments_for([rule.conditions]))
    )
    return spec.candidates(rule, accounts, today=timezone.localdate(now), now=now, limit=limit)


def rules_sweep(*, now: datetime | None = None, limit: int = SWEEP_LIMIT) -> int:
    """The beat sweep of the time-based triggers (no usage, renewal near, task
    overdue, usage at most N times): every tenant, every active timed rule,
    at most `limit` new firings per rule per run, each in its own
    transaction. Returns how many firings it created."""
    now = now or timezone.now()

    def sweep(tenant) -> int:
        created = 0
        with tenant_context(tenant):
            rules = [
                rule
                for rule in Rule.objects.filter(is_active=True, trigger__in=TIMED_TRIGGERS)
                if TRIGGERS[rule.trigger].is_timed(rule.trigger_config or {})
            ]
        for rule in rules:
            try:
                with tenant_context(tenant):
                    candidates = _sweep_rule(rule, now=now, limit=limit)
            except (RuleBroken, SegmentFilterBroken, DatabaseError) as error:
                # A broken rule must not stop the others; its problem is shown.
                reason = getattr(error, "message", None) or f"Its conditions could not run: {error}"
                with tenant_context(tenant):
                    _problem_record(rule, reason, now)
                continue
            except Exception:
                logger.exception("sweeping rule %s failed", rule.pk)
                continue
            if rule.problem:
                with tenant_context(tenant):
                    _problems_cleared([rule])
            for account_id, key, payload in candidates:
                try:
                    with tenant_context(tenant):
                        created += len(
                            rules_fire(account_id=account_id, fires=[(rule, key, payload)], now=now)
                        )
                except Exception:
                    logger.exception("firing rule %s for account %s failed", rule.pk, account_id)
        return created

    # Each firing commits on its own: not one context per tenant.
    return sum(for_each_tenant(sweep, in_context=False))
