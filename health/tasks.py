from celery import shared_task

from health.services import usage_partitions_ensure


@shared_task
def ensure_usage_partitions() -> int:
    return usage_partitions_ensure()


@shared_task
def prune_usage_message_ids() -> int:
    from datetime import timedelta

    from django.conf import settings

    from health.services import ingestion_log_prune, usage_messages_prune

    removed = usage_messages_prune(older_than=timedelta(days=settings.USAGE_DEDUPE_DAYS))
    # The ingestion log rides on the same hourly sweep rather than a beat entry of its own.
    return removed + ingestion_log_prune(older_than=timedelta(days=settings.INGESTION_LOG_DAYS))
