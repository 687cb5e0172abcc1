"""work's background jobs: tasks take ids, set the tenant, call one
function, and are safe to run twice."""

from __future__ import annotations

from celery import shared_task

from csplatform.tenancy.tasks import tenant_task
from work.rules import engine, runner


@shared_task(ignore_result=True)
def rules_sweep() -> int:
    """Beat: fire the time-based rules (no usage, renewal near, task overdue)."""
    return engine.rules_sweep()


@shared_task(ignore_result=True)
def rule_actions_retry_due() -> int:
    """Beat: attempt every rule action whose retry is due."""
    return runner.action_runs_retry_due()


@tenant_task(ignore_result=True)
def rule_action_retry(tenant, action_run_id: int) -> bool:
    """The fast path of one retry, sent with a countdown; a no-op if the run
    is not due, already done or being run (the beat sweep covers a lost one)."""
    return runner.action_run_execute(action_run_id=action_run_id) is not None
