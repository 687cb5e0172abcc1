"""Usage ingestion: validate a batch in plain Python, store it in one SQL
statement. Never a serializer or an ORM save per event."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from csplatform.api.parsers import UnsafeValue, check_value, text_problem
from csplatform.events.services import events_coalesce
from csplatform.tenancy.context import current_tenant_id, tenant_context
from csplatform.tenancy.models import Tenant
from csplatform.tenancy.tasks import for_each_tenant
from health.debounce import schedule_clear, schedule_throttled, window_open
from health.models import Feature, UsageMessage, UsagePending, UsageUnattached
from health.services.scores import health_rescore_request
from health.sql import (
    ATTACH_SQL,
    FOLD_SQL,
    INGEST_SQL,
    LATE_ATTACH_SQL,
    UNATTACHED_REQUEUE_SQL,
    USER_ATTACH_SQL,
)

logger = logging.getLogger(__name__)

MAX_NAME = 200
PROPERTIES_MAX_DEPTH = 30
_FOLD_FLAG = "usage-fold-window"


@dataclass
class BatchResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
        }


def _text(raw: dict, key: str, *, required: bool, limit: int) -> str:
    value = raw.get(key)
    if value is None or value == "":
        if required:
            raise ValueError(f"{key} is required")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"{key} must be a string")
    value = str(value)
    if len(value) > limit:
        raise ValueError(f"{key} is longer than {limit} characters")
    problem = text_problem(value)
    if problem:
        raise ValueError(f"{key}: {problem}")
    return value


def _timestamp(raw: dict, now: datetime) -> datetime:
    value = raw.get("timestamp")
    if value in (None, ""):
        return now
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        raise ValueError("timestamp must be an ISO 8601 date-time")
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    if parsed > now + timedelta(seconds=settings.USAGE_FUTURE_SKEW_SECONDS):
        raise ValueError("timestamp is in the future")
    if parsed < now - timedelta(days=settings.USAGE_HORIZON_DAYS):
        raise ValueError(f"timestamp is older than {settings.USAGE_HORIZON_DAYS} days")
    return parsed


def clean_event(raw: object, now: datetime, *, account_required: bool = True) -> dict:
    """One event as stored, or ValueError with the reason (naming the field)."""
    if not isinstance(raw, dict):
        raise ValueError("event must be an object")
    properties = raw.get("properties")
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        raise ValueError("properties must be an object")
    try:
        # What jsonb cannot hold (NUL, lone surrogates, NaN, Infinity, deep
        # nesting) rejects this event only, never the batch.
        check_value(properties, "properties", max_depth=PROPERTIES_MAX_DEPTH)
    except UnsafeValue as exc:
        raise ValueError(f"{exc.path}: {exc.message}") from exc
    return {
        "message_id": _text(raw, "message_id", required=False, limit=MAX_NAME)
        or f"csp-{uuid.uuid4()}",
        "account_external_id": _text(raw, "account_id", required=account_required, limit=100),
        "user_id": _text(raw, "user_id", required=False, limit=MAX_NAME),
        "event": _text(raw, "event", required=True, limit=MAX_NAME),
        "occurred_at": _timestamp(raw, now).isoformat(),
        "properties": properties,
    }


def usage_batch_record(*, events: list, account_required: bool = True) -> BatchResult:
    """Store the valid events of a batch once each; report the others by index.

    One statement stores them and queues them for the daily rollups; the fold
    that counts them is scheduled once this transaction commits. Without
    `account_required` (Segment tracks of a user not yet in a group) an event
    may come without an account; `usage_attach_users` places it later.
    """
    now = timezone.now()
    result = BatchResult()
    rows: list[dict] = []
    indexes: list[int] = []
    seen: set[str] = set()
    for index, raw in enumerate(events):
        try:
            row = clean_event(raw, now, account_required=account_required)
        except ValueError as exc:
            result.rejected.append({"index": index, "reason": str(exc)})
            continue
        if row["message_id"] in seen:  # repeated inside this very batch
            result.duplicates += 1
            continue
        seen.add(row["message_id"])
        rows.append(row)
        indexes.append(index)
    payload = json.dumps(rows)
    if not rows:
        return result
    tenant_id = current_tenant_id()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(INGEST_SQL, {"rows": payload, "tenant": tenant_id})
        stored, attached, unattached = cursor.fetchone()
        # Unattached events with an external id need the fold too: their
        # account may have been created while the statement ran.
        if attached or unattached:
            _fold_on_commit(tenant_id)
    result.accepted = stored
    result.duplicates += len(rows) - stored
    return result


def _fold_on_commit(tenant_id: int) -> None:
    transaction.on_commit(lambda: usage_fold_schedule(tenant_id=tenant_id), robust=True)


def usage_attach_users(*, user_ids: list[str] | None) -> int:
    """Move account-less events of these users (None: of every user) to the
    account their group names, and queue them for the rollups."""
    tenant_id = current_tenant_id()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(USER_ATTACH_SQL, {"tenant": tenant_id, "users": user_ids})
        moved = cursor.fetchone()[0]
        if moved:
            _fold_on_commit(tenant_id)
    return moved


def usage_fold_schedule(*, tenant_id: int) -> str | None:
    """Ask a worker to fold the tenant's queued usage into the rollups, at most
    once per USAGE_FOLD_WINDOW_SECONDS however many batches arrive: the first
    batch after a quiet spell is folded at once ("now"), the batches after it
    together when the window ends ("later"); None when a fold already booked
    will take this batch too."""
    from health.tasks import fold_usage_rollups

    return schedule_throttled(
        _FOLD_FLAG,
        tenant_id,
        window=settings.USAGE_FOLD_WINDOW_SECONDS,
        send=lambda countdown: fold_usage_rollups.apply_async(
            (tenant_id,), {"booked": countdown > 0}, countdown=countdown or None
        ),
    )


def usage_fold_window_open(*, tenant_id: int, booked: bool) -> None:
    """What a fold does as it starts: batches from now on until the window
    ends are folded by one run at its end."""
    window_open(_FOLD_FLAG, tenant_id, window=settings.USAGE_FOLD_WINDOW_SECONDS, booked=booked)


def usage_fold_flag_clear(*, tenant_id: int) -> None:
    """Forget the tenant's window and booking (tests; a fresh start)."""
    schedule_clear(_FOLD_FLAG, tenant_id)


def usage_rollups_fold(*, tenant: Tenant, chunk: int = 200, max_chunks: int = 1000) -> int:
    """Count the tenant's queued batches into the daily rollups, oldest first,
    and add each account's counts to its `usage_recorded` of the current
    window (one event per account per CSP_EVENT_COALESCE_SECONDS, with the
    counts summed, not one per fold, batch or event). Each chunk is one
    transaction: the queue rows are deleted as they are counted, so a retried
    or concurrent fold counts nothing twice. Returns the number of batches
    folded. First, events whose account was created while their batch was in
    flight are attached and queued (`usage_late_attach`), so this fold counts
    them."""
    usage_late_attach(tenant=tenant)
    folded = 0
    for _ in range(max_chunks):
        with tenant_context(tenant), connection.cursor() as cursor:
            cursor.execute(FOLD_SQL, {"tenant": tenant.pk, "limit": chunk})
            rows = cursor.fetchall()
            batches = next(n for account_id, n, _names in rows if account_id is None)
            # The names let rules react to one event name ("usage_seen").
            per_account = [
                (a, {"events": n, "names": json.loads(names) if isinstance(names, str) else names})
                for a, n, names in rows
                if a is not None and n
            ]
            events_coalesce(kind="usage_recorded", items=per_account)
            # health re-scores these accounts itself, without a round trip
            # through the event bus per account.
            health_rescore_request(account_ids=[a for a, _ in per_account])
        folded += batches
        if batches < chunk:
            return folded
    return folded


def usage_rollups_fold_all() -> int:
    """The beat sweep's catch-up: fold every tenant's queue (a lost schedule,
    Redis down, a worker restart). Crosses tenants deliberately, one tenant
    context at a time, as row-level security requires."""

    def fold(tenant: Tenant) -> int:
        with tenant_context(tenant):
            # Also places tracks whose user was grouped by a racing request.
            usage_attach_users(user_ids=None)
            pending = UsagePending.objects.exists() or UsageUnattached.objects.exists()
        # The fold commits chunk by chunk, so it runs outside that context.
        return usage_rollups_fold(tenant=tenant) if pending else 0

    return sum(for_each_tenant(fold, in_context=False))


def usage_late_attach(*, tenant: Tenant, chunk: int = 500, max_chunks: int = 100) -> int:
    """Attach the events that batches stored without an account whose
    external id names one now (created while the batch was in flight), and
    queue them for the rollups. Each chunk of ids is one transaction; the
    ids are deleted as they are looked up. Returns the events attached."""
    attached = 0
    for _ in range(max_chunks):
        with tenant_context(tenant), connection.cursor() as cursor:
            cursor.execute(LATE_ATTACH_SQL, {"tenant": tenant.pk, "limit": chunk})
            taken, moved = cursor.fetchone()
        attached += moved
        if taken < chunk:
            break
    return attached


def usage_unattached_requeue() -> int:
    """The hourly backstop: queue for the next fold every external id of
    unattached events that names an account, whatever stored them. Crosses
    tenants deliberately, one tenant context at a time. Returns the ids."""

    def requeue(tenant: Tenant) -> int:
        with connection.cursor() as cursor:
            cursor.execute(UNATTACHED_REQUEUE_SQL, {"tenant": tenant.pk})
            row = cursor.fetchone()
        return row[0] if row else 0

    return sum(for_each_tenant(requeue))


def usage_attach(*, account_id: int, external_id: str) -> int:
    """Attach events that arrived before their account existed, and roll them up."""
    params = {"account": account_id, "tenant": current_tenant_id(), "external_id": external_id}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(ATTACH_SQL, params)
        attached = len(cursor.fetchall())
        if attached:
            health_rescore_request(account_ids=[account_id])
        return attached


def usage_partitions_ensure(*, months_back: int = 1, months_ahead: int = 3) -> int:
    """Create the monthly partitions of the raw usage table that are missing.

    Not tenant data: the partitions are shared, so this runs without a tenant
    context, through the owner's SECURITY DEFINER function.
    """
    today = timezone.now().date()
    first = today - timedelta(days=31 * months_back)
    last = today + timedelta(days=31 * months_ahead)
    with connection.cursor() as cursor:
        cursor.execute("SELECT csp_usage_partitions_ensure(%s, %s)", [first, last])
        return cursor.fetchone()[0]


@transaction.atomic
def feature_save(*, feature=None, name: str, description: str = "", counts_for_adoption=False):
    feature = feature or Feature()
    feature.name, feature.description = name.strip(), description
    feature.counts_for_adoption = counts_for_adoption
    if Feature.objects.filter(name=feature.name).exclude(pk=feature.pk).exists():
        raise ValidationError({"name": ["A feature with this name already exists."]})
    feature.save()
    return feature


@transaction.atomic
def event_name_update(*, event_name, **changes):
    for attr in ("display_name", "feature"):
        if attr in changes:
            setattr(event_name, attr, changes[attr])
    event_name.save(update_fields=["display_name", "feature", "updated_at"])
    return event_name


def usage_messages_prune(*, older_than: timedelta) -> int:
    """Forget message ids past the retry window (stock clients retry for up to
    12 hours; we keep them USAGE_DEDUPE_DAYS). Crosses tenants deliberately,
    one tenant context at a time, as row-level security requires."""
    cutoff = timezone.now() - older_than
    return sum(
        for_each_tenant(lambda _: UsageMessage.objects.filter(created_at__lt=cutoff).delete()[0])
    )
