"""Helpers of the rule tests: rules saved through the service, playbooks with
steps, and delivering the recorded domain events the way the worker does."""

from __future__ import annotations

import itertools

from django.test import TestCase

from csplatform.events.models import DomainEvent
from csplatform.events.services import event_deliver
from csplatform.tenancy.context import current
from lifecycle.services import account_transition
from work.models import Playbook, PlaybookStep, RuleFiring
from work.rules.engine import rules_evaluate
from work.services.rules import rule_save

_seq = itertools.count(1)
NOTE = {"kind": "timeline_entry", "config": {"title": "Rule fired"}}


def rule(trigger: str, config: dict | None = None, *, actions=None, conditions=None, **fields):
    fields.setdefault("name", f"{trigger} rule {next(_seq)}")
    return rule_save(
        trigger=trigger,
        trigger_config=config or {},
        conditions=conditions or [],
        actions=actions or [NOTE],
        **fields,
    )


def playbook(name: str = "Adoption kickoff", steps: int = 2) -> Playbook:
    book = Playbook.objects.create(name=name)
    for i in range(steps):
        PlaybookStep.objects.create(playbook=book, position=i, title=f"{name} step {i + 1}")
    return book


def deliver(kind: str | None = None) -> int:
    """Deliver every undelivered event (of `kind`) of the tenant in context,
    as the worker would; returns how many handlers ran."""
    tenant = current().tenant
    events = DomainEvent.objects.filter(dispatched_at__isnull=True).order_by("pk")
    if kind:
        events = events.filter(kind=kind)
    return sum(event_deliver(tenant=tenant, event_id=e.pk) for e in list(events))


def move(account, to_stage: str, actor=None):
    """A leader's forced move (no achievements needed)."""
    return account_transition(
        account_id=account.pk,
        to_stage=to_stage,
        actor=actor,
        role="leader",
        reason="test",
        force=True,
    )


def firings(rule_=None, **filters):
    qs = RuleFiring.objects.order_by("pk")
    if rule_ is not None:
        qs = qs.filter(rule=rule_)
    return list(qs.filter(**filters))


def evaluate(**kwargs):
    """`rules_evaluate`, then what its commit would set off: the actions that
    reach outside the database (email, webhooks) run after commit, through
    the (eager) retry task, as a worker would run them."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return rules_evaluate(**kwargs)
