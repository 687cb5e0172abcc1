"""Segment-compatible messages (track, identify, group, batch) mapped onto
our own services, so stock Segment and RudderStack clients work unchanged.

Order inside a batch matters: groups and identifies are applied first, so a
track in the same batch already knows its user's account.
"""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.db import connection, transaction

from csplatform.api.parsers import UnsafeValue, check_value
from csplatform.tenancy.context import current_tenant_id
from health.services import BatchResult, usage_attach_users, usage_batch_record
from lifecycle.models import Account
from lifecycle.services import account_update, account_upsert

# One statement for all identifies/groups of a batch; traits merge, the
# account is only overwritten when the message names one.
END_USERS_SQL = """
INSERT INTO health_enduser
    (tenant_id, user_id, account_external_id, email, traits, last_seen_at, created_at, updated_at)
SELECT %(tenant)s, x.user_id, coalesce(x.account_external_id, ''), coalesce(x.email, ''),
       coalesce(x.traits, '{}'::jsonb), now(), now(), now()
FROM jsonb_to_recordset(%(rows)s::jsonb)
     AS x(user_id text, account_external_id text, email text, traits jsonb)
ORDER BY x.user_id
ON CONFLICT (tenant_id, user_id) DO UPDATE SET
    account_external_id = coalesce(nullif(EXCLUDED.account_external_id, ''),
                                   health_enduser.account_external_id),
    email = coalesce(nullif(EXCLUDED.email, ''), health_enduser.email),
    traits = health_enduser.traits || EXCLUDED.traits,
    last_seen_at = now(),
    updated_at = now()
"""

USER_ACCOUNTS_SQL = """
SELECT user_id, account_external_id FROM health_enduser
WHERE tenant_id = %s AND user_id = ANY(%s) AND account_external_id <> ''
"""


MESSAGE_MAX_DEPTH = 32


def _user(message: dict) -> str:
    return str(message.get("userId") or message.get("anonymousId") or "")


def segment_messages_record(*, messages: list) -> BatchResult:
    """Apply a Segment batch; report rejected messages by their index."""
    result = BatchResult()
    users: dict[str, dict] = {}
    tracks: list[tuple[int, dict]] = []
    groups: dict[str, dict] = {}
    for index, message in enumerate(messages):
        kind = message.get("type") if isinstance(message, dict) else None
        try:
            # Anything PostgreSQL cannot take (NUL, lone surrogates, NaN, deep
            # nesting) rejects this message only, with the path of the value.
            check_value(message, max_depth=MESSAGE_MAX_DEPTH)
        except UnsafeValue as exc:
            result.rejected.append({"index": index, "reason": f"{exc.path}: {exc.message}"})
            continue
        if kind == "track":
            tracks.append((index, message))
        elif kind in ("identify", "group"):
            user_id = _user(message)
            traits = _traits(message)
            if not isinstance(traits, dict):
                result.rejected.append({"index": index, "reason": "traits must be an object"})
                continue
            if kind == "group":
                group_id = str(message.get("groupId") or "")
                if not group_id:
                    result.rejected.append({"index": index, "reason": "groupId is required"})
                    continue
                groups[group_id] = traits
                if user_id:
                    users.setdefault(user_id, {"user_id": user_id, "traits": {}})[
                        "account_external_id"
                    ] = group_id
                result.accepted += 1
                continue
            if not user_id:
                result.rejected.append({"index": index, "reason": "userId is required"})
                continue
            row = users.setdefault(user_id, {"user_id": user_id, "traits": {}})
            row["traits"].update(traits)
            if isinstance(traits.get("email"), str):
                row["email"] = traits["email"][:254]
            result.accepted += 1
        else:
            result.rejected.append({"index": index, "reason": f"unsupported type {kind!r}"})

    with transaction.atomic():
        # Accounts, like end users (END_USERS_SQL), are written in key order:
        # batches naming the same ones in another order never deadlock.
        for group_id, traits in sorted(groups.items()):
            _group_upsert(group_id, traits)
        if users:
            with connection.cursor() as cursor:
                cursor.execute(
                    END_USERS_SQL,
                    {"tenant": current_tenant_id(), "rows": json.dumps(list(users.values()))},
                )
            grouped = [u for u, row in users.items() if row.get("account_external_id")]
            if grouped:  # their earlier account-less tracks now have an account
                usage_attach_users(user_ids=grouped)
        if tracks:
            _record_tracks(tracks, result)
    return result


def _group_upsert(group_id: str, traits: dict) -> None:
    fields = {}
    if isinstance(traits.get("name"), str) and traits["name"].strip():
        fields["name"] = traits["name"].strip()[:200]
    if isinstance(traits.get("industry"), str):
        fields["industry"] = traits["industry"][:100]
    external_id = group_id[:100]
    try:
        with transaction.atomic():
            existing = Account.objects.filter(external_id=external_id).first()
            if existing is None:
                account_upsert(external_id=external_id, **({"name": external_id} | fields))
            elif fields:
                account_update(account=existing, **fields)
    except ValidationError:
        # A group whose traits do not fit an account still names the user's account.
        pass


def _record_tracks(tracks: list[tuple[int, dict]], result: BatchResult) -> None:
    wanted = [_user(m) for _, m in tracks if not _context_group(m)]
    known: dict[str, str] = {}
    if wanted:
        with connection.cursor() as cursor:
            cursor.execute(USER_ACCOUNTS_SQL, [current_tenant_id(), wanted])
            known = dict(cursor.fetchall())
    events, origin = [], []
    for index, message in tracks:
        # Without a group yet the event is kept and placed when one arrives.
        account = _context_group(message) or known.get(_user(message), "")
        if not account and not _user(message):
            result.rejected.append(
                {"index": index, "reason": "no account: send a userId or context.groupId"}
            )
            continue
        origin.append(index)
        events.append(
            {
                "account_id": account,
                "event": message.get("event"),
                "user_id": _user(message),
                "timestamp": message.get("timestamp") or message.get("sentAt"),
                "properties": message.get("properties") or {},
                "message_id": message.get("messageId"),
            }
        )
    stored = usage_batch_record(events=events, account_required=False)
    result.accepted += stored.accepted
    result.duplicates += stored.duplicates
    for rejected in stored.rejected:
        result.rejected.append({"index": origin[rejected["index"]], "reason": rejected["reason"]})
    result.rejected.sort(key=lambda r: r["index"])


def _traits(message: dict) -> object:
    # RudderStack sends identify traits only in context.traits.
    traits = message.get("traits")
    if traits is None and isinstance(message.get("context"), dict):
        traits = message["context"].get("traits")
    return traits or {}


def _context_group(message: dict) -> str:
    context = message.get("context")
    if isinstance(context, dict) and context.get("groupId"):
        return str(context["groupId"])
    return ""
