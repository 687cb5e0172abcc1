from celery import shared_task

from csplatform.events.services import (
    event_deliver,
    events_coalesced_record_due,
    events_sweep_undispatched,
)
from csplatform.tenancy.tasks import tenant_task


# Not in one context: event_deliver runs each handler in its own transaction.
# Sent on the queue and at the priority of the event's kind (delivery_options);
# a retry keeps both.
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


@shared_task(ignore_result=True)
def sweep_undispatched_events() -> int:
    return events_sweep_undispatched()


@shared_task(ignore_result=True)
def record_coalesced_events() -> int:
    return events_coalesced_record_due()
