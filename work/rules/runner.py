"""Running a firing's actions: each attempt in its own savepoint, so one
failing action undoes only its own writes and never blocks the others. A
failure is retried with backoff (30 s, 1, 2, 4 minutes) up to MAX_ATTEMPTS,
then recorded as failed; nothing is dropped silently.

Actions that reach outside the database (email, webhooks) are not attempted
inside the firing's transaction: they are due at once and attempted by a
worker after commit, like a retry.

Retries are driven by `ActionRun.next_attempt_at` in the database: a beat
sweep (`work.tasks.rule_actions_retry_due`) runs whatever is due, and a
Celery countdown sent after commit is the fast path. Both lock the run row
(SKIP LOCKED) and check its status and due time, so running twice is safe.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from csplatform.tenancy.context import current_tenant_id, tenant_context
from csplatform.tenancy.tasks import for_each_tenant
from lifecycle.models import Account
from work.models import ActionRun, ActionStatus, FiringStatus, Rule, RuleFiring
from work.rules.actions import ActionContext, ActionFailed, action_kind

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
BACKOFF_BASE_SECONDS = 30
# A fast-path retry that arrives this early still counts as due.
DUE_TOLERANCE = timedelta(seconds=1)
OPEN = [ActionStatus.PENDING, ActionStatus.RETRYING]


def backoff(attempts: int) -> timedelta:
    """Wait after the `attempts`-th failed attempt: 30 s, doubling."""
    return timedelta(seconds=BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0))


def _context(run: ActionRun, firing: RuleFiring, rule: Rule, account: Account) -> ActionContext:
    return ActionContext(
        rule=rule,
        firing=firing,
        account=account,
        action_run=run,
        trigger=firing.detail.get("trigger", rule.trigger),
        occurrence_key=firing.occurrence_key,
        payload=firing.detail.get("payload") or {},
    )


def _attempt(run: ActionRun, ctx: ActionContext, now: datetime) -> None:
    """One attempt of one action, its outcome saved on the run."""
    kind = action_kind(run.kind)
    run.attempts += 1
    error, retry, result = None, True, {}
    if kind is None:
        error, retry = f"No action of kind “{run.kind}” is installed.", False
    else:
        try:
            with transaction.atomic():
                result = kind.run(ctx, run.config) or {}
        except ActionFailed as failed:
            error, retry, result = failed.message, failed.retry, failed.result
        except ValidationError as invalid:
            error, retry = " ".join(invalid.messages), False
        except Exception as unexpected:
            logger.exception("rule action %s (run %s) failed", run.kind, run.pk)
            error = f"{type(unexpected).__name__}: {unexpected}"[:2000]
    run.result = result
    if error is None:
        run.status, run.last_error = ActionStatus.SUCCEEDED, ""
        run.next_attempt_at, run.finished_at = None, now
    elif retry and run.attempts < MAX_ATTEMPTS:
        run.status, run.last_error = ActionStatus.RETRYING, error
        run.next_attempt_at, run.finished_at = now + backoff(run.attempts), None
    else:
        run.status, run.last_error = ActionStatus.FAILED, error
        run.next_attempt_at, run.finished_at = None, now
    run.save(
        update_fields=[
            "status",
            "attempts",
            "next_attempt_at",
            "last_error",
            "result",
            "finished_at",
            "updated_at",
        ]
    )


def firing_status(statuses: list[str]) -> str:
    if any(s in OPEN for s in statuses):
        return FiringStatus.RUNNING
    if all(s == ActionStatus.SUCCEEDED for s in statuses):
        return FiringStatus.SUCCEEDED
    if all(s == ActionStatus.FAILED for s in statuses):
        return FiringStatus.FAILED
    return FiringStatus.PARTIAL


def _settle(firing: RuleFiring, statuses: list[str], now: datetime) -> None:
    status = firing_status(statuses)
    if status == firing.status and (status == FiringStatus.RUNNING) == (firing.finished_at is None):
        return
    firing.status = status
    firing.finished_at = None if status == FiringStatus.RUNNING else now
    firing.save(update_fields=["status", "finished_at", "updated_at"])


def _schedule_retry(run: ActionRun, now: datetime) -> None:
    """The fast path: a Celery countdown to the run's due time, sent after
    commit. If it is lost, the beat sweep runs the retry anyway."""
    tenant_id, run_id = current_tenant_id(), run.pk
    delay = max((run.next_attempt_at - now).total_seconds(), 0)

    def send() -> None:
        from work.tasks import rule_action_retry

        rule_action_retry.apply_async((tenant_id, run_id), countdown=delay)

    transaction.on_commit(send, robust=True)


def firing_run(
    *,
    firing: RuleFiring,
    rule: Rule,
    account: Account,
    runs: list[ActionRun],
    now: datetime | None = None,
) -> RuleFiring:
    """Run a new firing's actions in order (they were just created in this
    transaction, so nobody else holds them)."""
    now = now or timezone.now()
    for run in runs:
        kind = action_kind(run.kind)
        if kind is not None and kind.after_commit:
            # Due now, attempted by a worker once this transaction commits
            # (or by the beat sweep if that message is lost).
            run.next_attempt_at = now
            run.save(update_fields=["next_attempt_at", "updated_at"])
            _schedule_retry(run, now)
            continue
        _attempt(run, _context(run, firing, rule, account), now)
        if run.status == ActionStatus.RETRYING:
            _schedule_retry(run, now)
    _settle(firing, [run.status for run in runs], now)
    return firing


def action_run_execute(
    *, action_run_id: int, now: datetime | None = None, force: bool = False
) -> ActionRun | None:
    """Attempt one pending or retrying action again, if it is due (or
    `force`d) and nobody else is running it now; None if not attempted."""
    now = now or timezone.now()
    with transaction.atomic():
        run = (
            ActionRun.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("firing__rule", "firing__account__owner")
            .filter(pk=action_run_id, status__in=OPEN)
            .first()
        )
        if run is None:
            return None
        if not force and run.next_attempt_at and run.next_attempt_at > now + DUE_TOLERANCE:
            return None
        firing = run.firing
        _attempt(run, _context(run, firing, firing.rule, firing.account), now)
        if run.status == ActionStatus.RETRYING:
            _schedule_retry(run, now)
        statuses = list(
            ActionRun.objects.filter(firing_id=firing.pk).values_list("status", flat=True)
        )
        _settle(firing, statuses, now)
    return run


def action_runs_retry_due(*, now: datetime | None = None, limit: int = 200) -> int:
    """The beat sweep: every tenant's due retries, oldest first, each in its
    own transaction. Crosses tenants deliberately, one context at a time.
    Returns how many attempts ran."""
    now = now or timezone.now()

    def retry(tenant) -> int:
        attempted = 0
        with tenant_context(tenant):
            due = list(
                ActionRun.objects.filter(status__in=OPEN, next_attempt_at__lte=now)
                .order_by("next_attempt_at", "pk")
                .values_list("pk", flat=True)[:limit]
            )
        for run_id in due:
            try:
                with tenant_context(tenant):
                    if action_run_execute(action_run_id=run_id, now=now) is not None:
                        attempted += 1
            except Exception:  # one broken run must not stop the others' retries
                logger.exception("retrying rule action run %s failed", run_id)
        return attempted

    # Each attempt commits on its own: not one context per tenant.
    return sum(for_each_tenant(retry, in_context=False))
