"""How a health score is computed: the measure defaults and the one set-based
statement that scores a set of accounts (or all of a tenant's) from the
rollups and lifecycle records, keeping each measure's working.

Every measure yields a raw value, or NULL when it has no data; its points
are the raw value mapped linearly from the profile's `bad` (0) to `good`
(100) and clamped. The score is the weighted mean of the measures that have
data, so missing ones are left out and the rest re-weighted.
"""

from __future__ import annotations

from dataclasses import dataclass

from health.models import HealthProfile, Measure
from lifecycle.models import Account
from lifecycle.segments import segment_q


@dataclass(frozen=True)
class MeasureDefault:
    bad: float
    good: float
    unit: str


# Thresholds a new tenant starts with (editable per profile).
MEASURE_DEFAULTS: dict[str, MeasureDefault] = {
    Measure.USAGE_FREQUENCY: MeasureDefault(2, 20, "active days of the last 30"),
    Measure.BREADTH: MeasureDefault(0.1, 0.8, "share of key features used in 30 days"),
    Measure.TREND: MeasureDefault(0.5, 1.1, "events last 30 days / the 30 before"),
    Measure.LICENSE_UTILIZATION: MeasureDefault(0.2, 0.85, "active users / seats"),
    Measure.NPS: MeasureDefault(-30, 50, "NPS of the latest answer per respondent"),
    Measure.SUPPORT_LOAD: MeasureDefault(10, 0, "tickets in 30 days + 5 per open escalation"),
    Measure.ENGAGEMENT: MeasureDefault(45, 7, "days since the last CSM contact"),
    Measure.CSM_SENTIMENT: MeasureDefault(0, 100, "red 0, yellow 50, green 100"),
    Measure.OUTCOMES: MeasureDefault(0, 1, "share of due stage outcomes done"),
}

# Profiles a new tenant starts with: onboarding accounts are judged on setup
# progress, everyone else mostly on usage.
DEFAULT_PROFILES = [
    {
        "name": "Onboarding",
        "stage": "onboarding",
        "position": 10,
        "weights": {
            Measure.OUTCOMES: 40,
            Measure.ENGAGEMENT: 25,
            Measure.LICENSE_UTILIZATION: 15,
            Measure.USAGE_FREQUENCY: 10,
            Measure.CSM_SENTIMENT: 10,
        },
    },
    {
        "name": "Default",
        "is_default": True,
        "position": 1000,
        "weights": {
            Measure.USAGE_FREQUENCY: 20,
            Measure.BREADTH: 15,
            Measure.TREND: 15,
            Measure.LICENSE_UTILIZATION: 15,
            Measure.NPS: 10,
            Measure.SUPPORT_LOAD: 10,
            Measure.ENGAGEMENT: 5,
            Measure.CSM_SENTIMENT: 5,
            Measure.OUTCOMES: 5,
        },
    },
]

ESCALATION_TICKETS = 5  # an open escalation weighs as much as five tickets
SENTIMENT_DAYS = 180  # an older CSM judgement no longer counts


def profile_case(profiles: list[HealthProfile]) -> tuple[str, dict]:
    """SQL choosing each account's profile (first match by position, then the
    default), with its parameters. One CASE arm per profile, so choosing is
    part of the statement, not a loop over accounts."""
    arms, params = [], {}
    default = next((p for p in profiles if p.is_default), None)
    for i, profile in enumerate(p for p in profiles if not p.is_default):
        conditions = []
        if profile.stage:
            params[f"p{i}_stage"] = profile.stage
            conditions.append(f"a.stage = %(p{i}_stage)s")
        if profile.segment_id:
            members = Account.objects.filter(segment_q(profile.segment.filters)).values("id")
            sql, seg_params = members.query.sql_with_params()
            for j, value in enumerate(seg_params):
                sql = sql.replace("%s", f"%(p{i}_s{j})s", 1)
                params[f"p{i}_s{j}"] = value
            conditions.append(f"a.id IN ({sql})")
        condition = " AND ".join(conditions) or "TRUE"
        arms.append(f"WHEN {condition} THEN {int(profile.pk)}")
    fallback = str(int(default.pk)) if default else "NULL"
    if not arms:
        return f"{fallback}::bigint", params
    return f"(CASE {' '.join(arms)} ELSE {fallback} END)::bigint", params


# %(ids)s NULL scores every account of the tenant. Returns the accounts whose
# band changed (or that were scored for the first time) or whose score fell by
# the profile's alert points within 7 days, with old and new values.
SCORE_SQL = """
WITH acc AS (
    SELECT a.id, a.stage, a.stage_entered_at, a.is_escalated, {profile_case} AS profile_id
    FROM lifecycle_account a
    WHERE a.tenant_id = %(tenant)s
      AND (%(ids)s::bigint[] IS NULL OR a.id = ANY(%(ids)s::bigint[]))
), daily AS (
    SELECT d.account_id,
           count(*) FILTER (WHERE d.day > %(today)s::date - 30 AND d.events > 0) AS active_days,
           coalesce(sum(d.events) FILTER (WHERE d.day > %(today)s::date - 30), 0) AS last_30,
           coalesce(sum(d.events) FILTER (WHERE d.day <= %(today)s::date - 30), 0) AS previous_30
    FROM health_usagedailyaccount d JOIN acc ON acc.id = d.account_id
    WHERE d.tenant_id = %(tenant)s AND d.day > %(today)s::date - 60
    GROUP BY 1
), ever AS (
    -- Usage measures have data once an account has sent any usage at all;
    -- after that, a quiet month is a zero, not a gap.
    SELECT acc.id AS account_id FROM acc
    WHERE EXISTS (SELECT 1 FROM health_usagedailyaccount d WHERE d.account_id = acc.id)
), users_30 AS (
    SELECT u.account_id, count(DISTINCT u.user_id) AS n
    FROM health_usagedailyaccountuser u JOIN acc ON acc.id = u.account_id
    WHERE u.tenant_id = %(tenant)s AND u.day > %(today)s::date - 30
    GROUP BY 1
), seats AS (
    SELECT c.account_id, sum(c.seats) AS n
    FROM lifecycle_contract c JOIN acc ON acc.id = c.account_id
    WHERE c.tenant_id = %(tenant)s AND c.status = 'active'
    GROUP BY 1
), key_features AS (
    SELECT count(*) AS n FROM health_feature
    WHERE tenant_id = %(tenant)s AND counts_for_adoption
), features_used AS (
    SELECT e.account_id, count(DISTINCT n.feature_id) AS n
    FROM health_usagedailyevent e
    JOIN acc ON acc.id = e.account_id
    JOIN health_eventname n ON n.tenant_id = e.tenant_id AND n.name = e.event
    JOIN health_feature f ON f.id = n.feature_id AND f.counts_for_adoption
    WHERE e.tenant_id = %(tenant)s AND e.day > %(today)s::date - 30
    GROUP BY 1
), tickets AS (
    SELECT e.account_id, sum(e.events) AS n
    FROM health_usagedailyevent e JOIN acc ON acc.id = e.account_id
    WHERE e.tenant_id = %(tenant)s AND e.event = %(support_event)s
      AND e.day > %(today)s::date - 30
    GROUP BY 1
), ticket_source AS (
    -- Tickets are data once the tenant sends them at all; before that only an
    -- open escalation says anything about support load.
    SELECT EXISTS (SELECT 1 FROM health_eventname
                   WHERE tenant_id = %(tenant)s AND name = %(support_event)s) AS sends
), nps_latest AS (
    SELECT DISTINCT ON (r.account_id, r.respondent) r.account_id, r.score
    FROM health_npsresponse r JOIN acc ON acc.id = r.account_id
    WHERE r.tenant_id = %(tenant)s AND r.responded_at >= %(nps_since)s
    ORDER BY r.account_id, r.respondent, r.responded_at DESC, r.id DESC
), nps AS (
    SELECT account_id, count(*) AS n,
           count(*) FILTER (WHERE score >= 9) AS promoters,
           count(*) FILTER (WHERE score <= 6) AS detractors
    FROM nps_latest GROUP BY 1
), contact AS (
    SELECT t.account_id, max(t.occurred_at) AS last_at
    FROM lifecycle_timelineentry t JOIN acc ON acc.id = t.account_id
    WHERE t.tenant_id = %(tenant)s AND t.kind = ANY(%(engagement_kinds)s::text[])
    GROUP BY 1
), sentiment AS (
    SELECT DISTINCT ON (s.account_id) s.account_id, s.value, s.comment
    FROM health_csmsentiment s JOIN acc ON acc.id = s.account_id
    WHERE s.tenant_id = %(tenant)s AND s.created_at >= %(sentiment_since)s
    ORDER BY s.account_id, s.created_at DESC, s.id DESC
), outcomes AS (
    -- Required outcomes of the current stage; they fall due once the account
    -- has spent the tenant's due days in the stage.
    SELECT acc.id AS account_id, count(sa.id) AS required, count(aa.id) AS done,
           bool_or(acc.stage_entered_at <= now() - make_interval(days => %(due_days)s)) AS due
    FROM acc
    JOIN lifecycle_stageachievement sa
      ON sa.tenant_id = %(tenant)s AND sa.stage = acc.stage AND sa.required
    LEFT JOIN lifecycle_accountachievement aa
      ON aa.account_id = acc.id AND aa.achievement_id = sa.id
    GROUP BY 1
), raw AS (
    SELECT acc.id AS account_id, acc.profile_id, m.measure, m.raw, m.inputs
    FROM acc
    LEFT JOIN ever ON ever.account_id = acc.id
    LEFT JOIN daily ON daily.account_id = acc.id
    LEFT JOIN users_30 ON users_30.account_id = acc.id
    LEFT JOIN seats ON seats.account_id = acc.id
    LEFT JOIN features_used fu ON fu.account_id = acc.id
    LEFT JOIN tickets ON tickets.account_id = acc.id
    LEFT JOIN nps ON nps.account_id = acc.id
    LEFT JOIN contact ON contact.account_id = acc.id
    LEFT JOIN sentiment ON sentiment.account_id = acc.id
    LEFT JOIN outcomes ON outcomes.account_id = acc.id
    CROSS JOIN key_features kf
    CROSS JOIN ticket_source ts
    CROSS JOIN LATERAL (VALUES
        ('usage_frequency',
         CASE WHEN ever.account_id IS NOT NULL THEN coalesce(daily.active_days, 0)::float END,
         jsonb_build_object('active_days', coalesce(daily.active_days, 0), 'days', 30)),
        ('breadth',
         CASE WHEN ever.account_id IS NOT NULL AND kf.n > 0
              THEN coalesce(fu.n, 0)::float / kf.n END,
         jsonb_build_object('used', coalesce(fu.n, 0), 'key_features', kf.n)),
        ('trend',
         CASE WHEN coalesce(daily.previous_30, 0) > 0
              THEN daily.last_30::float / daily.previous_30 END,
         jsonb_build_object('last_30', coalesce(daily.last_30, 0),
                            'previous_30', coalesce(daily.previous_30, 0))),
        ('license_utilization',
         CASE WHEN coalesce(seats.n, 0) > 0 THEN coalesce(users_30.n, 0)::float / seats.n END,
         jsonb_build_object('active_users', coalesce(users_30.n, 0),
                            'seats', coalesce(seats.n, 0))),
        ('nps',
         CASE WHEN nps.n > 0 THEN 100.0 * (nps.promoters - nps.detractors) / nps.n END,
         jsonb_build_object('responses', coalesce(nps.n, 0),
                            'promoters', coalesce(nps.promoters, 0),
                            'detractors', coalesce(nps.detractors, 0))),
        ('support_load',
         CASE WHEN ts.sends OR acc.is_escalated THEN
             (coalesce(tickets.n, 0) + %(escalation_tickets)s * acc.is_escalated::int)::float
         END,
         jsonb_build_object('tickets', coalesce(tickets.n, 0),
                            'open_escalation', acc.is_escalated)),
        ('engagement',
         extract(epoch FROM now() - contact.last_at) / 86400.0,
         jsonb_build_object('last_contact', contact.last_at)),
        ('csm_sentiment',
         CASE sentiment.value WHEN 'red' THEN 0.0 WHEN 'yellow' THEN 50.0
                              WHEN 'green' THEN 100.0 END,
         jsonb_build_object('value', sentiment.value, 'comment', sentiment.comment)),
        ('outcomes',
         outcomes.done::float / nullif(CASE WHEN outcomes.due THEN outcomes.required
                                            ELSE outcomes.done END, 0),
         jsonb_build_object('done', coalesce(outcomes.done, 0),
                            'required', coalesce(outcomes.required, 0),
                            'due', coalesce(outcomes.due, false)))
    ) AS m(measure, raw, inputs)
), scored AS (
    SELECT r.*, pm.weight,
           CASE WHEN r.raw IS NOT NULL THEN
               greatest(0.0, least(100.0, 100.0 * (r.raw - pm.bad) / (pm.good - pm.bad)))
           END AS points
    FROM raw r
    JOIN health_profilemeasure pm ON pm.profile_id = r.profile_id AND pm.measure = r.measure
), weighed AS (
    SELECT s.*,
           sum(s.weight) FILTER (WHERE s.points IS NOT NULL)
               OVER (PARTITION BY s.account_id) AS present_weight
    FROM scored s
), totals AS (
    SELECT account_id,
           round(sum(points * weight) / nullif(max(present_weight), 0))::smallint AS score,
           jsonb_agg(jsonb_build_object(
               'measure', measure,
               'raw', round(raw::numeric, 3),
               'inputs', inputs,
               'points', round(points::numeric, 1),
               'weight', weight,
               'share', CASE WHEN points IS NOT NULL
                             THEN round(100.0 * weight / present_weight, 1) END,
               'contribution', CASE WHEN points IS NOT NULL
                                    THEN round((points * weight / present_weight)::numeric, 1) END,
               'missing', points IS NULL
           ) ORDER BY weight DESC, measure) AS breakdown,
           jsonb_object_agg(measure, round(points::numeric, 1)) AS points
    FROM weighed GROUP BY 1
), banded AS (
    SELECT acc.id AS account_id, acc.profile_id, t.score,
           CASE WHEN t.score IS NULL THEN ''
                WHEN t.score < p.red_below THEN 'red'
                WHEN t.score < p.green_from THEN 'yellow'
                ELSE 'green' END AS band,
           coalesce(t.breakdown, '[]'::jsonb) AS breakdown,
           coalesce(t.points, '{}'::jsonb) AS points,
           coalesce(p.drop_alert_points, 0) AS drop_alert_points
    FROM acc
    LEFT JOIN totals t ON t.account_id = acc.id
    LEFT JOIN health_healthprofile p ON p.id = acc.profile_id
), previous AS (
    SELECT s.account_id, s.score, s.band, s.drop_alerted_at
    FROM health_healthscore s JOIN acc ON acc.id = s.account_id
), week AS (
    SELECT h.account_id, max(h.score) AS peak
    FROM health_healthsnapshot h JOIN acc ON acc.id = h.account_id
    WHERE h.tenant_id = %(tenant)s AND h.taken_at >= now() - interval '7 days'
    GROUP BY 1
), saved AS (
    INSERT INTO health_healthscore (tenant_id, account_id, profile_id, score, band, breakdown,
                                    scored_at, created_at, updated_at)
    SELECT %(tenant)s, account_id, profile_id, score, band, breakdown, now(), now(), now()
    FROM banded ORDER BY account_id
    ON CONFLICT (account_id) DO UPDATE SET
        profile_id = EXCLUDED.profile_id, score = EXCLUDED.score, band = EXCLUDED.band,
        breakdown = EXCLUDED.breakdown, scored_at = now(), updated_at = now()
)
SELECT b.account_id, p.account_id IS NULL AS first, p.score, p.band, b.score, b.band,
       greatest(p.score, w.peak) AS peak, b.points,
       (b.score IS NOT NULL AND greatest(p.score, w.peak) - b.score >= b.drop_alert_points
        AND b.drop_alert_points > 0
        AND (p.drop_alerted_at IS NULL OR p.drop_alerted_at < now() - interval '7 days'))
           AS dropped
FROM banded b
LEFT JOIN previous p ON p.account_id = b.account_id
LEFT JOIN week w ON w.account_id = b.account_id
WHERE p.account_id IS NULL OR p.band IS DISTINCT FROM b.band
   OR (b.score IS NOT NULL AND greatest(p.score, w.peak) - b.score >= b.drop_alert_points
       AND b.drop_alert_points > 0
       AND (p.drop_alerted_at IS NULL OR p.drop_alerted_at < now() - interval '7 days'))
"""

# The day's snapshot of every current score (the nightly job; a second run
# the same day refreshes it rather than adding another).
SNAPSHOT_SQL = """
INSERT INTO health_healthsnapshot
    (tenant_id, account_id, day, taken_at, reason, score, band, points, created_at, updated_at)
SELECT s.tenant_id, s.account_id, %(day)s, now(), 'daily', s.score, s.band,
       coalesce((SELECT jsonb_object_agg(b->>'measure', b->'points')
                 FROM jsonb_array_elements(s.breakdown) b), '{}'::jsonb),
       now(), now()
FROM health_healthscore s
WHERE s.tenant_id = %(tenant)s
ORDER BY s.account_id
ON CONFLICT (account_id, day) WHERE reason = 'daily' DO UPDATE SET
    score = EXCLUDED.score, band = EXCLUDED.band, points = EXCLUDED.points,
    taken_at = now(), updated_at = now()
"""
