from celery import shared_task

from health.services import usage_partitions_ensure


@shared_task
def ensure_usage_partitions() -> int:
    return usage_partitions_ensure()
