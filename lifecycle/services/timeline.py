"""The shared account timeline: the one way any app adds to it."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from csplatform.events.services import event_record
from csplatform.tenancy.context import current
from csplatform.tenancy.models import User
from lifecycle.models import (
    NOTE_MAX_LENGTH,
    Account,
    NoteKind,
    TimelineEntry,
)


def timeline_record(
    *,
    account: Account,
    kind: str,
    title: str,
    body: str = "",
    actor: User | None = None,
    payload: dict | None = None,
    occurred_at=None,
) -> TimelineEntry:
    """The one way any app adds to an account's timeline."""
    payload = dict(payload or {})
    ctx = current()
    if actor is None and ctx is not None and ctx.api_key_id:
        payload.setdefault("via_api_key", ctx.api_key_id)
    return TimelineEntry.objects.create(
        account=account,
        kind=kind,
        title=title[:300],
        body=body,
        actor=actor,
        payload=payload,
        occurred_at=occurred_at or timezone.now(),
    )


def timeline_record_many(*, entries: list[dict]) -> list[TimelineEntry]:
    """Many entries in one INSERT, for writers that change many accounts at
    once (a health re-score). Each dict: account_id, kind, title, and
    optionally body, actor, payload, occurred_at."""
    if not entries:
        return []
    now = timezone.now()
    return TimelineEntry.objects.bulk_create(
        [
            TimelineEntry(
                account_id=e["account_id"],
                kind=e["kind"],
                title=e["title"][:300],
                body=e.get("body", ""),
                actor=e.get("actor"),
                payload=e.get("payload") or {},
                occurred_at=e.get("occurred_at") or now,
            )
            for e in entries
        ]
    )


@transaction.atomic
def note_add(
    *, account: Account, body: str, actor: User | None, kind: str = NoteKind.NOTE
) -> TimelineEntry:
    """A note, or a logged meeting or call, on the account's timeline. A
    meeting or a call is also a domain event of the same kind (health
    re-scores the account's engagement)."""
    errors = {}
    body = body.strip()
    if not body:
        errors["body"] = ["Write something in the note."]
    elif len(body) > NOTE_MAX_LENGTH:
        errors["body"] = [f"Keep a note within {NOTE_MAX_LENGTH:,} characters ({len(body):,} now)."]
    if kind not in NoteKind.values:
        errors["kind"] = [f"Choose one of {', '.join(NoteKind.values)}."]
    if errors:
        raise ValidationError(errors)
    first_line = body.splitlines()[0]
    entry = timeline_record(
        account=account, kind=kind, title=first_line[:120], body=body, actor=actor
    )
    if kind != NoteKind.NOTE:
        event_record(kind=kind, account_id=account.pk, payload={"entry_id": entry.pk})
    return entry
