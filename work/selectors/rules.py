"""Reads of automation rules shared by the pages and the API: the rule list
with its recent activity, the run log, and short texts of a rule's parts.
Each costs the same number of queries for 3 rules or 3,000."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, IntegerField, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from csplatform.tenancy.models import Membership
from lifecycle.models import Segment
from work.models import ActionRun, FiringStatus, Playbook, Rule, RuleFiring
from work.rules.actions import action_kind
from work.rules.conditions import as_list, condition_summary, is_id
from work.rules.triggers import trigger_summary

RECENT_DAYS = 7


def _firing_count(since, statuses=None):
    firings = RuleFiring.objects.filter(rule_id=OuterRef("pk"), created_at__gte=since).exclude(
        status=FiringStatus.SKIPPED
    )
    if statuses:
        firings = firings.filter(status__in=statuses)
    counted = firings.values("rule_id").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def rule_list() -> QuerySet[Rule]:
    """Rules by name, each with when it last fired and its firings and
    failures of the last 7 days (per-rule index lookups, not a join over the
    whole run log), and its actions."""
    since = timezone.now() - timedelta(days=RECENT_DAYS)
    last = (
        RuleFiring.objects.filter(rule_id=OuterRef("pk"))
        .exclude(status=FiringStatus.SKIPPED)
        .order_by("-created_at")
        .values("created_at")[:1]
    )
    return (
        Rule.objects.annotate(
            last_fired_at=Subquery(last),
            fired_recently=_firing_count(since),
            failed_recently=_firing_count(since, [FiringStatus.FAILED, FiringStatus.PARTIAL]),
        )
        .prefetch_related("actions")
        .order_by("name", "id")
    )


def rule_names(rules: list[Rule]) -> dict:
    """Names the summaries of these rules mention (playbooks, segments), read
    once for the page: {("playbook", id): name, ("segment", id): name,
    ("owner", user id): email}. Only ids are looked up: a stored rule that
    no longer passes its checks still lists (and says it cannot run)."""
    playbook_ids, segment_ids, owner_ids = set(), set(), set()
    for rule in rules:
        for action in rule.actions.all():
            if action.kind == "start_playbook" and isinstance(action.config, dict):
                playbook_ids.update(_ids(action.config.get("playbook_id")))
        for condition in _conditions(rule):
            if condition.get("field") == "segment":
                segment_ids.update(_ids(condition.get("value")))
            elif condition.get("field") == "owner":
                owner_ids.update(_ids(condition.get("value")))
    names: dict = {}
    if playbook_ids:
        names.update(
            (("playbook", pk), name)
            for pk, name in Playbook.objects.filter(pk__in=playbook_ids).values_list("pk", "name")
        )
    if segment_ids:
        names.update(
            (("segment", pk), name)
            for pk, name in Segment.objects.filter(pk__in=segment_ids).values_list("pk", "name")
        )
    if owner_ids:
        names.update(
            (("owner", pk), email)
            for pk, email in Membership.objects.filter(user_id__in=owner_ids).values_list(
                "user_id", "user__email"
            )
        )
    return names


def _ids(value) -> list[int]:
    return [pk for pk in as_list(value) if is_id(pk)]


def _conditions(rule: Rule) -> list[dict]:
    conditions = rule.conditions if isinstance(rule.conditions, list) else []
    return [c for c in conditions if isinstance(c, dict)]


def rule_summary(rule: Rule, names: dict) -> dict:
    """Short texts of the rule's trigger, conditions and actions."""
    actions = []
    for action in rule.actions.all():
        kind = action_kind(action.kind)
        actions.append(kind.describe(action.config, names) if kind else f"{action.kind} (missing)")
    return {
        "trigger": trigger_summary(rule.trigger, rule.trigger_config),
        "conditions": [condition_summary(c, names) for c in _conditions(rule)],
        "actions": actions,
    }


def rule_firings(rule: Rule) -> QuerySet[RuleFiring]:
    """The rule's run log, newest first, with each firing's account and its
    action runs in order."""
    return (
        RuleFiring.objects.filter(rule=rule)
        .select_related("account")
        .prefetch_related(
            Prefetch("action_runs", queryset=ActionRun.objects.order_by("position", "pk"))
        )
        .order_by("-created_at", "-id")
    )
