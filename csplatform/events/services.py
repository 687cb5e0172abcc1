"""Recording and delivering domain events.

An event is a row written in the change's transaction and sent to Celery
once that commits, on the queue its kind calls for (the catalogue's `bulk`
flag). Its `next_attempt_at` says when the delivery is overdue; the beat
sweep re-sends only overdue ones, backing off each time, so an event still
waiting in a busy queue is not sent twice, and one whose message was lost
(broker down, worker killed mid-task) is sent again within a sweep of being
overdue. Coalesced kinds are summed per account first (`events_coalesce`)
and recorded once their window has passed (`events_coalesced_record_due`).
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from csplatform.events import registry
from csplatform.events.catalogue import EventKindUnknown, declared
from csplatform.events.models import DomainEvent, HandlerReceipt
from csplatform.events.sql import COALESCE_SQL, COALESCED_DUE_SQL, REDISPATCH_SQL
from csplatform.tenancy.context import current_tenant_id, tenant_context
from csplatform.tenancy.models import Tenant
from csplatform.tenancy.tasks import for_each_tenant

logger = logging.getLogger(__name__)

# The sweep's backoff doubles the normal delay this many times at most.
REDISPATCH_DOUBLINGS = 4


def delivery_options(kind: str) -> dict:
    """Where a delivery of `kind` travels: bulk kinds on the bulk queue at the
    normal priority, the kinds people and rules wait on at the highest."""
    if declared(kind).bulk:
        return {"queue": settings.CELERY_BULK_QUEUE}
    return {"queue": settings.CELERY_URGENT_QUEUE, "priority": settings.CELERY_URGENT_PRIORITY}


def _send(tenant_id: int, events: list[tuple[int, str]]) -> None:
    from csplatform.events.tasks import dispatch_event

    for event_id, kind in events:
        dispatch_event.apply_async((tenant_id, event_id), **delivery_options(kind))


def _send_on_commit(tenant_id: int, events: list[tuple[int, str]]) -> None:
    # robust: a broker outage must not fail the request; the sweep re-sends.
    transaction.on_commit(lambda: _send(tenant_id, events), robust=True)


def _overdue_at(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.EVENT_REDISPATCH_SECONDS)


def event_record(*, kind: str, account_id: int | None = None, payload: dict | None = None):
    """Write the event in the caller's transaction; dispatch it once that commits.
    The kind and its payload keys must be declared in the catalogue."""
    payload = payload or {}
    declared(kind).check_payload(payload)
    event = DomainEvent.objects.create(
        kind=kind,
        account_id=account_id,
        payload=payload,
        next_attempt_at=_overdue_at(timezone.now()),
    )
    _send_on_commit(current_tenant_id(), [(event.pk, kind)])
    return event


def events_record_many(*, kind: str, items: list[tuple[int | None, dict]]) -> list[DomainEvent]:
    """Record several events of one kind in one INSERT (for batch writers)."""
    spec = declared(kind)
    if not items:
        return []
    for _account_id, payload in items:
        spec.check_payload(payload)
    overdue_at = _overdue_at(timezone.now())
    events = DomainEvent.objects.bulk_create(
        [
            DomainEvent(
                kind=kind, account_id=account_id, payload=payload, next_attempt_at=overdue_at
            )
            for account_id, payload in items
        ]
    )
    _send_on_commit(current_tenant_id(), [(event.pk, kind) for event in events])
    return events


def events_coalesce(
    *, kind: str, items: list[tuple[int, dict]], now: datetime | None = None
) -> int:
    """Add each account's counts to its pending event of a coalesced kind, in
    the caller's transaction; the first counts of a window start it. Returns
    how many accounts were counted."""
    spec = declared(kind)
    if not spec.coalesced:
        raise EventKindUnknown(f"{kind} is not a coalesced kind; record it with event_record.")
    items = sorted(((a, p) for a, p in items if a is not None), key=lambda item: item[0])
    if not items:
        return 0
    for _account_id, payload in items:
        spec.check_payload(payload)
    with connection.cursor() as cursor:
        cursor.execute(
            COALESCE_SQL,
            {
                "tenant": current_tenant_id(),
                "kind": kind,
                "now": now or timezone.now(),
                "window": settings.EVENT_COALESCE_SECONDS,
                "items": json.dumps([{"account_id": a, "payload": p} for a, p in items]),
            },
        )
    return len(items)


def events_coalesced_record_due(*, now: datetime | None = None, chunk: int = 1000) -> int:
    """Beat: record one event per account whose coalescing window has passed,
    with the summed counts. Each chunk takes its rows and records their
    events in one transaction, so a crash loses or doubles nothing. Crosses
    tenants deliberately, one tenant context at a time. Returns how many
    events were recorded."""
    now = now or timezone.now()

    def record(tenant: Tenant) -> int:
        recorded = 0
        while True:
            with tenant_context(tenant), connection.cursor() as cursor:
                cursor.execute(COALESCED_DUE_SQL, {"tenant": tenant.pk, "now": now, "limit": chunk})
                rows = cursor.fetchall()
                by_kind: dict[str, list[tuple[int, dict]]] = defaultdict(list)
                for kind, account_id, payload in rows:
                    by_kind[kind].append(
                        (account_id, json.loads(payload) if isinstance(payload, str) else payload)
                    )
                for kind, items in sorted(by_kind.items()):
                    events_record_many(kind=kind, items=items)
            recorded += len(rows)
            if len(rows) < chunk:
                return recorded

    return sum(for_each_tenant(record, in_context=False))


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


def events_sweep_undispatched(*, now: datetime | None = None, limit: int = 500) -> int:
    """Re-send the events whose delivery is overdue (broker down, worker
    killed), never ones still within their queue's normal delay, and push
    each one's next due time back exponentially.

    Crosses tenants deliberately: the sweep visits each tenant in turn, inside
    that tenant's context, because row-level security shows nothing otherwise.
    """
    now = now or timezone.now()

    def sweep(tenant: Tenant) -> int:
        with tenant_context(tenant), connection.cursor() as cursor:
            cursor.execute(
                REDISPATCH_SQL,
                {
                    "tenant": tenant.pk,
                    "now": now,
                    "delay": settings.EVENT_REDISPATCH_SECONDS,
                    "doublings": REDISPATCH_DOUBLINGS,
                    "limit": limit,
                },
            )
            overdue = sorted(cursor.fetchall())
        # Sent once the attempts are committed, outside the tenant's transaction.
        _send(tenant.pk, overdue)
        return len(overdue)

    sent = sum(for_each_tenant(sweep, in_context=False))
    if sent:
        logger.info("re-dispatched %s overdue domain events", sent)
    return sent
