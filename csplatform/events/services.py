"""Recording and delivering domain events."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from csplatform.events import registry
from csplatform.events.catalogue import declared
from csplatform.events.models import DomainEvent, HandlerReceipt
from csplatform.tenancy.context import current_tenant_id, tenant_context
from csplatform.tenancy.models import Tenant
from csplatform.tenancy.tasks import for_each_tenant

logger = logging.getLogger(__name__)


def event_record(*, kind: str, account_id: int | None = None, payload: dict | None = None):
    """Write the event in the caller's transaction; dispatch it once that commits.
    The kind and its payload keys must be declared in the catalogue."""
    payload = payload or {}
    declared(kind).check_payload(payload)
    event = DomainEvent.objects.create(kind=kind, account_id=account_id, payload=payload)
    tenant_id = current_tenant_id()

    def _dispatch() -> None:
        from csplatform.events.tasks import dispatch_event

        dispatch_event.delay(tenant_id, event.pk)

    # robust: a broker outage must not fail the request; the sweep re-dispatches.
    transaction.on_commit(_dispatch, robust=True)
    return event


def events_record_many(*, kind: str, items: list[tuple[int | None, dict]]) -> list[DomainEvent]:
    """Record several events of one kind in one INSERT (for batch writers)."""
    spec = declared(kind)
    if not items:
        return []
    for _account_id, payload in items:
        spec.check_payload(payload)
    events = DomainEvent.objects.bulk_create(
        [
            DomainEvent(kind=kind, account_id=account_id, payload=payload)
            for account_id, payload in items
        ]
    )
    tenant_id = current_tenant_id()

    def _dispatch() -> None:
        from csplatform.events.tasks import dispatch_event

        for event in events:
            dispatch_event.delay(tenant_id, event.pk)

    transaction.on_commit(_dispatch, robust=True)
    return events


def event_deliver(*, tenant: Tenant, event_id: int) -> int:
    """Run every subscribed handler that has not yet handled this event.

    Each handler runs in its own transaction together with its receipt, under
    a lock on the event row, so duplicate or concurrent deliveries run each
    handler exactly once. Returns how many handlers ran now.
    """
    with tenant_context(tenant):
        event = DomainEvent.objects.filter(pk=event_id).first()
        if event is None or event.dispatched_at is not None:
            return 0
        kind = event.kind
    ran = 0
    for name, handler in registry.handlers_for(kind):
        with tenant_context(tenant):
            event = DomainEvent.objects.select_for_update().get(pk=event_id)
            if HandlerReceipt.objects.filter(event=event, handler=name).exists():
                continue
            handler(event)
            HandlerReceipt.objects.create(event=event, handler=name)
            ran += 1
    with tenant_context(tenant):
        DomainEvent.objects.filter(pk=event_id, dispatched_at__isnull=True).update(
            dispatched_at=timezone.now()
        )
    return ran


def events_sweep_undispatched(*, older_than: timedelta, limit: int = 500) -> int:
    """Re-dispatch events whose delivery was lost (broker down, worker killed).

    Crosses tenants deliberately: the sweep visits each tenant in turn, inside
    that tenant's context, because row-level security shows nothing otherwise.
    """
    from csplatform.events.tasks import dispatch_event

    cutoff = timezone.now() - older_than

    def sweep(tenant: Tenant) -> int:
        with tenant_context(tenant):
            stale = list(
                DomainEvent.objects.filter(dispatched_at__isnull=True, created_at__lt=cutoff)
                .order_by("created_at")
                .values_list("pk", flat=True)[:limit]
            )
            DomainEvent.objects.filter(pk__in=stale).update(attempts=F("attempts") + 1)
        # Sent once the attempts are committed, outside the tenant's transaction.
        for event_id in stale:
            dispatch_event.delay(tenant.pk, event_id)
        return len(stale)

    sent = sum(for_each_tenant(sweep, in_context=False))
    if sent:
        logger.info("re-dispatched %s domain events", sent)
    return sent
