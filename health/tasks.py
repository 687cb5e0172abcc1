"""health's background work: tasks take ids, set the tenant, call one
service, and are safe to run twice."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from csplatform.tenancy.tasks import tenant_task
from health.services import (
    health_rescore_all,
    health_rescore_flag_clear,
    health_rescore_pending,
    health_rescore_sweep,
    ingestion_log_prune,
    usage_fold_window_open,
    usage_messages_prune,
    usage_partitions_ensure,
    usage_rollups_fold,
    usage_rollups_fold_all,
    usage_unattached_requeue,
)


@shared_task
def ensure_usage_partitions() -> int:
    return usage_partitions_ensure()


@shared_task
def prune_usage_message_ids() -> int:
    removed = usage_messages_prune(older_than=timedelta(days=settings.USAGE_DEDUPE_DAYS))
    # Ride on the same hourly sweep rather than beat entries of their own:
    # the ingestion log's prune, and the backstop that finds unattached
    # events whose account exists (the fold sweep then attaches them).
    usage_unattached_requeue()
    return removed + ingestion_log_prune(older_than=timedelta(days=settings.INGESTION_LOG_DAYS))


# The fold and the re-score drain in chunks, a transaction each: not in one context.
@tenant_task(in_context=False, ignore_result=True)
def fold_usage_rollups(tenant, booked: bool = False) -> int:
    # The window opens before folding: a batch that commits from now on is
    # folded at its end, and one that committed before is seen by this fold.
    usage_fold_window_open(tenant_id=tenant.pk, booked=booked)
    return usage_rollups_fold(tenant=tenant)


@shared_task(ignore_result=True)
def fold_all_usage_rollups() -> int:
    return usage_rollups_fold_all()


@tenant_task(in_context=False, ignore_result=True)
def rescore_requested(tenant) -> int:
    # Cleared first, as for the fold: a request from now on schedules anew.
    health_rescore_flag_clear(tenant_id=tenant.pk)
    return health_rescore_pending(tenant=tenant)


@shared_task(ignore_result=True)
def rescore_sweep() -> int:
    return health_rescore_sweep()


@shared_task(ignore_result=True)
def rescore_nightly() -> int:
    return health_rescore_all()
