from datetime import timedelta

from celery import shared_task
from django.conf import settings

from csplatform.events.services import event_deliver, events_sweep_undispatched
from csplatform.tenancy.tasks import tenant_task


# Not in one context: event_deliver runs each handler in its own transaction.
@tenant_task(
    in_context=False,
    autoretry_for=(Exception,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=8,
    acks_late=True,
)
def dispatch_event(tenant, event_id: int) -> int:
    return event_deliver(tenant=tenant, event_id=event_id)


@shared_task
def sweep_undispatched_events() -> int:
    return events_sweep_undispatched(older_than=timedelta(seconds=settings.EVENT_SWEEP_SECONDS))
