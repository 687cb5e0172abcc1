from datetime import timedelta

from celery import shared_task
from django.conf import settings

from csplatform.events.services import event_deliver, events_sweep_undispatched
from csplatform.tenancy.models import Tenant


@shared_task(
    autoretry_for=(Exception,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=8,
    acks_late=True,
)
def dispatch_event(tenant_id: int, event_id: int) -> int:
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:  # deleted since: its events went with it, nothing to retry
        return 0
    return event_deliver(tenant=tenant, event_id=event_id)


@shared_task
def sweep_undispatched_events() -> int:
    return events_sweep_undispatched(older_than=timedelta(seconds=settings.EVENT_SWEEP_SECONDS))
