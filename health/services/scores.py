"""Health scores: re-scoring (set-based, see health.scoring), the debounced
re-score queue, early-warning events, profiles, NPS responses and CSM
sentiment."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import NamedTuple

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from csplatform.dates import date_in_range
from csplatform.events.services import event_record, events_record_many
from csplatform.tenancy.context import current_tenant_id, tenant_context
from csplatform.tenancy.models import Tenant, User
from csplatform.tenancy.tasks import for_each_tenant
from health.debounce import schedule_clear, schedule_once
from health.measures import BY_NAME
from health.models import (
    Band,
    CsmSentiment,
    HealthProfile,
    HealthScore,
    HealthSettings,
    NpsResponse,
    ProfileMeasure,
    RescoreRequest,
)
from health.scoring import (
    DEFAULT_PROFILES,
    SENTIMENT_DAYS,
    SNAPSHOT_SQL,
    Fragment,
    ProfileChoice,
    broken_segment,
    score_statement,
    segment_members,
)
from lifecycle.models import Account, Contact
from lifecycle.segments import SegmentFilterBroken
from lifecycle.services import timeline_record_many
from lifecycle.timeline import kinds

logger = logging.getLogger(__name__)

DEFAULT_ENGAGEMENT_KINDS = ["note", "meeting_logged", "call_logged", "task_completed"]
RESCORE_CHUNK = 5000
_RESCORE_FLAG = "health-rescore-scheduled"


def health_defaults_ensure() -> HealthSettings:
    """The tenant's health settings and starting profiles, created once (on
    tenant creation, and lazily for tenants that predate health scores)."""
    existing = HealthSettings.objects.first()
    if existing is not None:
        return existing
    with transaction.atomic():
        health = HealthSettings.objects.create(engagement_kinds=DEFAULT_ENGAGEMENT_KINDS)
        for spec in DEFAULT_PROFILES:
            profile = HealthProfile.objects.create(
                name=spec["name"],
                stage=spec.get("stage", ""),
                position=spec["position"],
                is_default=spec.get("is_default", False),
            )
            ProfileMeasure.objects.bulk_create(
                [
                    ProfileMeasure(
                        profile=profile,
                        measure=measure,
                        weight=weight,
                        bad=BY_NAME[measure].bad,
                        good=BY_NAME[measure].good,
                    )
                    for measure, weight in spec["weights"].items()
                ]
            )
    return health


def health_defaults_on_tenant_created(sender, tenant: Tenant, **kwargs) -> None:
    with tenant_context(tenant):
        health_defaults_ensure()


class ScoreChange(NamedTuple):
    account_id: int
    first: bool  # scored for the first time
    old_score: int | None
    old_band: str | None
    score: int | None
    band: str
    peak_7d: int | None
    dropped: bool  # fell by the profile's alert points within 7 days


def health_rescore(
    *, account_ids: list[int] | None, today: date | None = None, record: bool = True
) -> list[ScoreChange]:
    """Score these accounts (None: every account of the tenant) in one
    statement, then record what changed: a snapshot on every band change, and
    for a band change or a fall of the profile's alert points within 7 days a
    `health_changed` event and a timeline entry. Returns the changes (without
    `record`, nothing but the scores is written: for previews that roll back).

    A profile whose segment's filter cannot run is left out (its accounts
    fall to the next matching profile or the default) and the failure is
    recorded on it; it is cleared once the profile scores cleanly again."""
    health = health_defaults_ensure()
    now = timezone.now()
    profiles = list(HealthProfile.objects.select_related("segment"))
    choice = ProfileChoice.compile(profiles)
    values = {
        "tenant": current_tenant_id(),
        "ids": account_ids,
        "today": today or now.date(),
        "support_event": health.support_event_name,
        "engagement_kinds": list(health.engagement_kinds),
        "nps_since": now - timedelta(days=health.nps_window_days),
        "sentiment_since": now - timedelta(days=SENTIMENT_DAYS),
        "due_days": health.outcome_due_days,
        "record": record,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        # The statement hashes and sorts per-account aggregates of whole
        # rollups; the default 4 MB work_mem spills them to disk.
        cursor.execute("SET LOCAL work_mem = '64MB'")
        rows = _score(cursor, choice, values)
        _record_profile_errors(profiles, choice, now)
        changes = [ScoreChange(*row) for row in rows]
        if changes and record:
            _record_changes(changes, now)
    return changes


def _score(cursor, choice: ProfileChoice, values: dict) -> list[tuple]:
    """Run the statement. Only a segment's filter can fail at run time (an
    overflowing number, a bad pattern); then each segment is tried alone,
    the ones that fail are left out, and the statement runs again. A profile
    that failed last time is tried alone first, so a lasting failure costs a
    probe per run, not a failed statement."""
    if not choice.members:  # nothing that can fail: no savepoint to pay for
        cursor.execute(*score_statement(choice, values))
        return cursor.fetchall()
    _leave_out_failing(choice, [p for p in choice.profiles if p.last_error])
    try:
        with transaction.atomic():
            cursor.execute(*score_statement(choice, values))
            return cursor.fetchall()
    except DatabaseError as error:
        if not _leave_out_failing(choice, choice.profiles):
            raise
        logger.warning("Re-scoring without the profiles whose segment failed: %s", error)
    cursor.execute(*score_statement(choice, values))
    return cursor.fetchall()


def _leave_out_failing(choice: ProfileChoice, profiles: list[HealthProfile]) -> bool:
    """Run each of these profiles' segments alone; leave out those that fail."""
    failed = False
    for profile in profiles:
        if profile.pk in choice.members:
            error = _run_alone(choice.members[profile.pk])
            if error is not None:
                choice.leave_out(profile, error)
                failed = True
    return failed


def _run_alone(members: Fragment) -> DatabaseError | None:
    """Run a segment's members query on its own, in a savepoint."""
    sql, params = members
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM ({sql}) members", params)
    except DatabaseError as error:
        return error
    return None


def segment_failure(profile: HealthProfile) -> SegmentFilterBroken | None:
    """Why the profile's segment cannot compile or run; None when it runs."""
    try:
        members = segment_members(profile)
    except Exception as error:  # whatever the filter raises
        return broken_segment(profile, error)
    error = _run_alone(members)
    return broken_segment(profile, error) if error is not None else None


def _record_profile_errors(profiles: list[HealthProfile], choice: ProfileChoice, now) -> None:
    """Keep why a profile was left out where admins see it, and clear it once
    the profile scores cleanly. Writes only when that changes: concurrent
    re-scores of the tenant must not queue on the profile's row."""
    for profile in profiles:
        error = choice.broken.get(profile.pk)
        if error is not None and profile.last_error != error.message:
            logger.warning("Health profile %s left out of scoring: %s", profile.pk, error.message)
            HealthProfile.objects.filter(pk=profile.pk).update(
                last_error=error.message, last_error_at=now
            )
        elif error is None and profile.last_error:
            HealthProfile.objects.filter(pk=profile.pk).update(last_error="", last_error_at=None)


def _record_changes(changes: list[tuple], now) -> None:
    """Alerts for what changed (the statement itself wrote the snapshots)."""
    events, entries, dropped = [], [], []
    for account_id, first, old_score, old_band, score, band, peak, fell in changes:
        # A first score is a starting point, not news: it alerts nobody.
        band_changed = not first and old_band != band and bool(old_band) and bool(band)
        if not (band_changed or fell):
            continue
        if fell:
            dropped.append(account_id)
        payload = {
            "old_score": old_score,
            "new_score": score,
            "old_band": old_band,
            "new_band": band,
            "peak_7d": peak,
            "band_changed": band_changed,
            "dropped": bool(fell),
        }
        events.append((account_id, payload))
        entries.append(
            {
                "account_id": account_id,
                "kind": "health_changed",
                "title": _headline(payload),
                "payload": payload,
                "occurred_at": now,
            }
        )
    if dropped:
        HealthScore.objects.filter(account_id__in=dropped).update(drop_alerted_at=now)
    timeline_record_many(entries=entries)
    events_record_many(kind="health_changed", items=events)


def _headline(change: dict) -> str:
    label = dict(Band.choices)
    if change["band_changed"]:
        return (
            f"Health {label[change['old_band']]} → {label[change['new_band']]} "
            f"({change['old_score']} → {change['new_score']})"
        )
    fall = change["peak_7d"] - change["new_score"]
    return f"Health fell {fall} points in 7 days (now {change['new_score']})"


def health_snapshots_take(*, day: date | None = None) -> int:
    """Today's snapshot of every score of the tenant (history, trend line)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            SNAPSHOT_SQL, {"tenant": current_tenant_id(), "day": day or timezone.now().date()}
        )
        return cursor.rowcount


def health_rescore_request(*, account_ids: list[int]) -> None:
    """Mark accounts for re-scoring and make sure a worker comes soon: many
    signals for one account within the delay cost one re-score."""
    if not account_ids:
        return
    tenant_id = current_tenant_id()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO health_rescorerequest (tenant_id, account_id, created_at, updated_at) "
            "SELECT %s, unnest(%s::bigint[]), now(), now() "
            "ON CONFLICT (account_id) DO NOTHING",
            [tenant_id, sorted(set(account_ids))],
        )
    transaction.on_commit(lambda: _rescore_schedule(tenant_id), robust=True)


def _rescore_schedule(tenant_id: int) -> bool:
    from health.tasks import rescore_requested

    return schedule_once(
        _RESCORE_FLAG,
        tenant_id,
        ttl=60,
        send=lambda: rescore_requested.apply_async(
            (tenant_id,), countdown=settings.HEALTH_RESCORE_DELAY_SECONDS
        ),
    )


def health_rescore_flag_clear(*, tenant_id: int) -> None:
    schedule_clear(_RESCORE_FLAG, tenant_id)


def health_rescore_pending(*, tenant: Tenant) -> int:
    """Drain the tenant's re-score requests, a chunk per transaction (taken
    with SKIP LOCKED, so concurrent workers split them)."""
    total = 0
    while True:
        with tenant_context(tenant), connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM health_rescorerequest WHERE id IN ("
                " SELECT id FROM health_rescorerequest WHERE tenant_id = %s"
                " ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING account_id",
                [tenant.pk, RESCORE_CHUNK],
            )
            ids = [row[0] for row in cursor.fetchall()]
            if ids:
                health_rescore(account_ids=ids)
        total += len(ids)
        if len(ids) < RESCORE_CHUNK:
            return total


def health_rescore_all(*, snapshot: bool = True) -> int:
    """The nightly job: re-score every account of every tenant (one statement
    per tenant) and take the day's snapshots. Crosses tenants deliberately,
    one tenant context at a time."""

    def rescore(_tenant: Tenant) -> int:
        changed = len(health_rescore(account_ids=None))
        if snapshot:
            health_snapshots_take()
        return changed

    return sum(for_each_tenant(rescore))


def health_rescore_sweep() -> int:
    """Catch-up for lost schedules: re-score every tenant's pending requests."""

    def drain(tenant: Tenant) -> int:
        with tenant_context(tenant):
            pending = RescoreRequest.objects.exists()
        # The drain commits chunk by chunk, so it runs outside that context.
        return health_rescore_pending(tenant=tenant) if pending else 0

    return sum(for_each_tenant(drain, in_context=False))


SETTINGS_LIMITS = {
    "nps_window_days": (1, 3650),
    "renewal_horizon_days": (1, 3650),
    "outcome_due_days": (1, 3650),
}


@transaction.atomic
def health_settings_update(**fields) -> HealthSettings:
    """Change the tenant's health settings (only the fields given), then
    re-score every account: the inputs of the measures changed."""
    health = health_defaults_ensure()
    errors: dict[str, list[str]] = {}
    unknown = set(fields) - {"support_event_name", "engagement_kinds", *SETTINGS_LIMITS}
    for key in sorted(unknown):
        errors[key] = ["Not a health setting."]
    if "support_event_name" in fields:
        fields["support_event_name"] = (fields["support_event_name"] or "").strip()
        if not fields["support_event_name"]:
            errors["support_event_name"] = ["Name the usage event that counts as a ticket."]
    if "engagement_kinds" in fields:
        chosen = fields["engagement_kinds"]
        # Kinds already chosen stay valid even before the app that writes
        # them registers (the defaults name work's task_completed).
        known = set(kinds()) | set(health.engagement_kinds)
        if not isinstance(chosen, list) or not all(isinstance(k, str) for k in chosen):
            errors["engagement_kinds"] = ["A list of timeline kinds."]
        else:
            bad = [k for k in chosen if k not in known]
            if bad:
                errors["engagement_kinds"] = [f"Unknown timeline kind: {', '.join(bad)}."]
            fields["engagement_kinds"] = list(dict.fromkeys(chosen))
    for key, (low, high) in SETTINGS_LIMITS.items():
        value = fields.get(key)
        if key in fields and (not isinstance(value, int) or not low <= value <= high):
            errors[key] = [f"A whole number of days from {low} to {high}."]
    if errors:
        raise ValidationError(errors)
    for key, value in fields.items():
        setattr(health, key, value)
    health.save()
    health_rescore(account_ids=None)
    return health


@transaction.atomic
def nps_response_record(
    *,
    account: Account,
    score: int,
    respondent: str = "",
    contact: Contact | None = None,
    comment: str = "",
    responded_at=None,
    source: str = "api",
    external_id: str = "",
) -> tuple[NpsResponse, bool]:
    """Record an NPS answer (from the API, or advocacy's surveys later): on
    the timeline, as `nps_received`, and queued for re-scoring. With an
    external id a repeated delivery is stored once. Returns (response, created)."""
    if external_id:
        existing = NpsResponse.objects.filter(external_id=external_id).first()
        if existing is not None:
            return existing, False
    if not isinstance(score, int) or not 0 <= score <= 10:
        raise ValidationError({"score": ["A score is a whole number from 0 to 10."]})
    if contact is not None and contact.account_id != account.pk:
        raise ValidationError({"contact": ["This contact belongs to another account."]})
    # An answer is given now or in the past (a day of clock skew allowed).
    date_in_range(
        responded_at, field="responded_at", not_after=timezone.localdate() + timedelta(days=1)
    )
    respondent = (respondent or (contact.email if contact else "") or "").strip()
    if not respondent:
        respondent = f"contact:{contact.pk}" if contact else "anonymous"
    response = NpsResponse.objects.create(
        account=account,
        contact=contact,
        respondent=respondent[:254],
        score=score,
        comment=comment,
        responded_at=responded_at or timezone.now(),
        source=source[:40],
        external_id=external_id[:100],
    )
    payload = {"score": score, "category": response.category, "response_id": response.pk}
    timeline_record_many(
        entries=[
            {
                "account_id": account.pk,
                "kind": "nps_received",
                "title": f"NPS {score} ({response.category}) from {response.respondent}",
                "body": comment,
                "payload": payload,
                "occurred_at": response.responded_at,
            }
        ]
    )
    event_record(kind="nps_received", account_id=account.pk, payload=payload)
    health_rescore_request(account_ids=[account.pk])
    return response, True


@transaction.atomic
def csm_sentiment_set(
    *, account: Account, value: str, comment: str, actor: User | None
) -> CsmSentiment:
    errors = {}
    if value not in Band.values:
        errors["value"] = ["Choose red, yellow or green."]
    if not (comment or "").strip():
        errors["comment"] = ["Say why: the comment is what the next reader needs."]
    if errors:
        raise ValidationError(errors)
    sentiment = CsmSentiment.objects.create(
        account=account, value=value, comment=comment.strip(), set_by=actor
    )
    timeline_record_many(
        entries=[
            {
                "account_id": account.pk,
                "kind": "sentiment_set",
                "title": f"CSM sentiment: {Band(value).label}",
                "body": sentiment.comment,
                "actor": actor,
                "payload": {"value": value},
            }
        ]
    )
    health_rescore_request(account_ids=[account.pk])
    return sentiment
