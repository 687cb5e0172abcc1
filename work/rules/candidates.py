"""Candidates of the time-based triggers, found set-based for the beat sweep:
per rule one query over accounts (already narrowed by the rule's
conditions), the occurrences already fired anti-joined away, capped per run.
Occurrence keys are described in `work.rules.triggers`."""

from __future__ import annotations

import datetime as dt

from django.contrib.postgres.aggregates import ArrayAgg
from django.db.models import (
    CharField,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Concat

from health.models import UsageDailyAccount, UsageDailyEvent
from lifecycle.models import Contract, ContractStatus
from work.models import OPEN_STATUSES, RuleFiring, Task

# (account_id, occurrence_key, payload) of one firing found by a sweep.
Candidate = tuple[int, str, dict]


def window_start(today: dt.date, window_days: int) -> dt.date:
    """The first day of the `window_days` days ending today."""
    return today - dt.timedelta(days=window_days - 1)


def _not_fired(rule, key_field: str = "okey", account_field: str = "pk") -> Exists:
    return Exists(
        RuleFiring.objects.filter(
            rule_id=rule.pk,
            account_id=OuterRef(account_field),
            occurrence_key=OuterRef(key_field),
        )
    )


def usage_count_at_most(rule, accounts: QuerySet, *, today, now, limit) -> list[Candidate]:
    config = rule.trigger_config
    window = config["window_days"]
    counted = (
        UsageDailyEvent.objects.filter(
            account_id=OuterRef("pk"), event=config["event"], day__gte=window_start(today, window)
        )
        .values("account_id")
        .annotate(n=Sum("events"))
        .values("n")
    )
    recent = RuleFiring.objects.filter(
        rule_id=rule.pk, account_id=OuterRef("pk"), created_at__gte=now - dt.timedelta(days=window)
    )
    rows = (
        accounts.filter(created_at__date__lte=today - dt.timedelta(days=window))
        .annotate(n=Coalesce(Subquery(counted, output_field=IntegerField()), 0))
        .filter(n__lte=config["count"])
        .exclude(Exists(recent))
        .order_by("pk")
        .values_list("pk", "n")[:limit]
    )
    return [
        (pk, f"usage_count:{today}", {"event": config["event"], "count": n, "window_days": window})
        for pk, n in rows
    ]


def no_usage(rule, accounts: QuerySet, *, today, now, limit) -> list[Candidate]:
    cutoff = today - dt.timedelta(days=rule.trigger_config["days"])
    last_day = UsageDailyAccount.objects.filter(account_id=OuterRef("pk")).order_by("-day")
    rows = (
        accounts.annotate(last_day=Subquery(last_day.values("day")[:1]))
        .filter(Q(last_day__lte=cutoff) | Q(last_day__isnull=True, created_at__date__lte=cutoff))
        .annotate(
            okey=Concat(
                Value("no_usage:"),
                Coalesce(Cast("last_day", CharField()), Value("never")),
                output_field=CharField(),
            )
        )
        .exclude(_not_fired(rule))
        .order_by("pk")
        .values_list("pk", "okey", "last_day")[:limit]
    )
    return [
        (pk, key, {"last_usage_day": str(last) if last else None, **rule.trigger_config})
        for pk, key, last in rows
    ]


def renewal_within(rule, accounts: QuerySet, *, today, now, limit) -> list[Candidate]:
    """One candidate per account and renewal date, whatever the number of its
    contracts renewing that day (their ARR summed, their ids listed)."""
    horizon = today + dt.timedelta(days=rule.trigger_config["days"])
    # Before occurrences were per account, a firing was keyed by contract
    # (`renewal:<contract>:<date>`): such a firing still counts as fired.
    legacy = RuleFiring.objects.filter(
        rule_id=rule.pk,
        account_id=OuterRef("account_id"),
        occurrence_key=Concat(
            Value("renewal:"),
            Cast(OuterRef("pk"), CharField()),
            Value(":"),
            Cast(OuterRef("renewal_date"), CharField()),
            output_field=CharField(),
        ),
    )
    rows = (
        Contract.objects.filter(
            status=ContractStatus.ACTIVE,
            renewal_date__gte=today,
            renewal_date__lte=horizon,
            account_id__in=accounts.values("pk"),
        )
        .annotate(
            okey=Concat(
                Value("renewal:"),
                Cast("account_id", CharField()),
                Value(":"),
                Cast("renewal_date", CharField()),
                output_field=CharField(),
            )
        )
        .exclude(_not_fired(rule, account_field="account_id"))
        .exclude(Exists(legacy))
        .values("account_id", "renewal_date", "okey")
        .annotate(arr=Sum("arr"), contract_ids=ArrayAgg("pk", order_by="pk"))
        .order_by("renewal_date", "account_id")
        .values_list("account_id", "okey", "contract_ids", "renewal_date", "arr")[:limit]
    )
    return [
        (
            account_id,
            key,
            {
                "contract_ids": ids,
                "renewal_date": str(renewal),
                "arr": str(arr),
                **rule.trigger_config,
            },
        )
        for account_id, key, ids, renewal, arr in rows
    ]


def task_overdue(rule, accounts: QuerySet, *, today, now, limit) -> list[Candidate]:
    late = today - dt.timedelta(days=rule.trigger_config.get("days_overdue") or 0)
    rows = (
        Task.objects.filter(
            status__in=OPEN_STATUSES, due_date__lt=late, account_id__in=accounts.values("pk")
        )
        .annotate(
            okey=Concat(
                Value("overdue:"),
                Cast("pk", CharField()),
                Value(":"),
                Cast("due_date", CharField()),
                output_field=CharField(),
            )
        )
        .exclude(_not_fired(rule, account_field="account_id"))
        .order_by("due_date", "pk")
        .values_list("account_id", "okey", "pk", "title", "due_date", "assignee_id")[:limit]
    )
    return [
        (
            account_id,
            key,
            {"task_id": pk, "title": title, "due_date": str(due), "assignee_id": assignee_id},
        )
        for account_id, key, pk, title, due, assignee_id in rows
    ]
