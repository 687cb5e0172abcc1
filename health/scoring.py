"""How a health score is computed: the one set-based statement that scores a
set of accounts (or all of a tenant's) from the rollups and lifecycle
records, keeping each measure's working. Its per-measure columns come from
the table of measures (health.measures); the signal CTEs below feed them.

Every measure yields a raw value, or NULL when it has no data; its points
are the raw value mapped linearly from the profile's `bad` (0) to `good`
(100) and clamped. The score is the weighted mean of the measures that have
data, so missing ones are left out and the rest re-weighted.

The statement is SQL with named parameters (`%(name)s`) and fragments
(`{name}`): the measures' columns, and the profile choice, whose segment
subqueries Django compiles and the statement embeds whole, with their own
parameters (see `Statement`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from health.measures import FIGURES, MEASURES, Figure
from health.models import HealthProfile, Measure
from lifecycle import segments
from lifecycle.models import Account
from lifecycle.segments import SegmentFilterBroken

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

SENTIMENT_DAYS = 180  # an older CSM judgement no longer counts

Fragment = tuple[str, list]  # SQL with %s placeholders, and their values


class Statement:
    """SQL with `%(name)s` parameters and `{name}` fragments, rendered to one
    string with positional parameters: a fragment (a Django-compiled
    subquery, say) is embedded whole and its parameters spliced in at its
    place, so nothing is ever rewritten inside it. Split once, at import."""

    _TOKEN = re.compile(r"%\((\w+)\)s|\{(\w+)\}")

    def __init__(self, text: str):
        self.parts: list[tuple[str, str]] = []  # (kind, text or name)
        at = 0
        for token in self._TOKEN.finditer(text):
            self._literal(text[at : token.start()])
            self.parts.append(("param", token[1]) if token[1] else ("fragment", token[2]))
            at = token.end()
        self._literal(text[at:])

    def _literal(self, text: str) -> None:
        # A bare % would be read as a placeholder once the text is executed.
        if "%" in text.replace("%%", ""):
            raise ValueError(f"Stray % in SQL: {text!r}")
        self.parts.append(("sql", text))

    def render(self, values: dict, fragments: dict[str, Fragment]) -> Fragment:
        sql, params = [], []
        for kind, part in self.parts:
            if kind == "sql":
                sql.append(part)
            elif kind == "param":
                sql.append("%s")
                params.append(values[part])
            else:
                fragment_sql, fragment_params = fragments[part]
                sql.append(fragment_sql)
                params.extend(fragment_params)
        return "".join(sql), params


# ---- The measures' columns, from the table of measures ----------------------

_IDENTIFIER = re.compile(r"[a-z][a-z0-9_]*")
for _name in [spec.name for spec in MEASURES] + [figure.column for figure in FIGURES]:
    # Names are written into the SQL as identifiers and literals.
    if not _IDENTIFIER.fullmatch(_name):
        raise ValueError(f"Not a plain SQL name: {_name!r}")


def _json_text(pairs: list[tuple[str, str]]) -> str:
    """SQL building a JSON object as text from (key, SQL yielding the value's
    JSON text) pairs; the keys are ours, so need no escaping."""
    parts = [f"'{{\"{key}\":' || {value}" for key, value in pairs[:1]]
    parts += [f"',\"{key}\":' || {value}" for key, value in pairs[1:]]
    return "(" + " || ".join(parts) + " || '}')"


def _in_facts(figure: Figure) -> bool:
    """Only figures a raw value reads are columns of `facts` (materialized);
    the rest are only kept in `inputs`."""
    return any(re.search(rf"\bf\.{figure.column}\b", spec.raw) for spec in MEASURES)


def _measure_columns() -> dict[str, Fragment]:
    measures = [spec.name for spec in MEASURES]
    weight_columns = ", ".join(
        f"max(pm.{col}) FILTER (WHERE pm.measure = '{m}') AS {m}_{short}"
        for m in measures
        for col, short in (("weight", "w"), ("bad", "bad"), ("good", "good"))
    )
    raw_columns = ", ".join(f"({spec.raw})::float AS {spec.name}" for spec in MEASURES)
    point_columns = ", ".join(
        f"r.{m} AS {m}_raw, w.{m}_w, "
        f"CASE WHEN r.{m} IS NOT NULL AND w.{m}_w IS NOT NULL THEN greatest(0.0, least(100.0,"
        f" 100.0 * (r.{m} - w.{m}_bad) / (w.{m}_good - w.{m}_bad))) END AS {m}_p"
        for m in measures
    )
    weighted_sum = " + ".join(f"coalesce({m}_p * {m}_w, 0)" for m in measures)
    present_weight = " + ".join(
        f"CASE WHEN {m}_p IS NOT NULL THEN {m}_w ELSE 0 END" for m in measures
    )
    # JSON written as text (and parsed once, only when it changed): a third
    # of the cost of building it with json_build_object.
    breakdown_parts = ", ".join(
        f"CASE WHEN {m}_w IS NOT NULL THEN "
        + _json_text(
            [
                ("measure", f"'\"{m}\"'"),
                ("raw", f"coalesce((round({m}_raw * 1000) / 1000)::text, 'null')"),
                ("points", f"coalesce((round({m}_p * 10) / 10)::text, 'null')"),
                ("weight", f"{m}_w::text"),
                ("missing", f"({m}_p IS NULL)::text"),
            ]
        )
        + " END"
        for m in measures
    )
    figure_columns = ", ".join(f"{f.sql} AS {f.column}" for f in FIGURES if _in_facts(f))
    inputs_text = _json_text(
        [(f.column, f"coalesce(to_json({f.sql})::text, 'null')") for f in FIGURES if not f.internal]
    )
    columns = {
        "weight_columns": weight_columns,
        "raw_columns": raw_columns,
        "point_columns": point_columns,
        "weighted_sum": weighted_sum,
        "present_weight": present_weight,
        "breakdown_parts": breakdown_parts,
        "figure_columns": figure_columns,
        "inputs_text": inputs_text,
    }
    return {name: (sql, []) for name, sql in columns.items()}


MEASURE_COLUMNS = _measure_columns()


# ---- Choosing each account's profile ------------------------------------------


def _members_q(segment):
    # Compiled through the closed filter grammar; raises SegmentFilterBroken.
    return segments.segment_members_q(segment)


def broken_segment(profile: HealthProfile, error: Exception) -> SegmentFilterBroken:
    """The error to record on a profile whose segment cannot run."""
    if isinstance(error, SegmentFilterBroken):
        return error
    segment = profile.segment
    reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
    return SegmentFilterBroken(segment_id=segment.pk, segment_name=segment.name, reason=reason)


def segment_members(profile: HealthProfile) -> Fragment:
    """The SQL selecting the accounts of the profile's segment (of the tenant
    in context), compiled by Django. Raises whatever the filter raises."""
    members = Account.objects.filter(_members_q(profile.segment)).order_by().values("id")
    sql, params = members.query.sql_with_params()
    return sql, list(params)


@dataclass
class ProfileChoice:
    """The profiles an account can fall to, with each segment profile's
    members compiled; a profile whose segment cannot compile is in `broken`
    instead, and accounts fall through it as if it did not exist."""

    profiles: list[HealthProfile]
    members: dict[int, Fragment] = field(default_factory=dict)
    broken: dict[int, SegmentFilterBroken] = field(default_factory=dict)

    @classmethod
    def compile(cls, profiles: list[HealthProfile]) -> ProfileChoice:
        choice = cls(profiles=list(profiles))
        for profile in profiles:
            if profile.segment_id and not profile.is_default:
                try:
                    choice.members[profile.pk] = segment_members(profile)
                except Exception as error:  # any filter that cannot compile
                    choice.leave_out(profile, error)
        return choice

    def leave_out(self, profile: HealthProfile, error: Exception) -> None:
        self.members.pop(profile.pk, None)
        self.broken[profile.pk] = broken_segment(profile, error)

    def case(self) -> Fragment:
        """SQL choosing each account's profile (first match by position, then
        the default), with its parameters. One CASE arm per profile, so
        choosing is part of the statement, not a loop over accounts."""
        arms, params = [], []
        default = next((p for p in self.profiles if p.is_default), None)
        for profile in self.profiles:
            if profile.is_default or profile.pk in self.broken:
                continue
            conditions = []
            if profile.stage:
                conditions.append("a.stage = %s")
                params.append(profile.stage)
            if profile.segment_id:
                sql, members_params = self.members[profile.pk]
                conditions.append(f"a.id IN ({sql})")
                params.extend(members_params)
            condition = " AND ".join(conditions) or "TRUE"
            arms.append(f"WHEN {condition} THEN {int(profile.pk)}")
        fallback = str(int(default.pk)) if default else "NULL"
        if not arms:
            return f"{fallback}::bigint", params
        return f"(CASE {' '.join(arms)} ELSE {fallback} END)::bigint", params


def score_statement(choice: ProfileChoice, values: dict) -> Fragment:
    """The scoring statement and its parameters, for the named `values`."""
    return SCORE_SQL.render(values, {**MEASURE_COLUMNS, "profile_case": choice.case()})


# %(ids)s NULL scores every account of the tenant. Returns the accounts whose
# band changed (or that were scored for the first time) or whose score fell by
# the profile's alert points within 7 days, with old and new values.
SCORE_SQL = Statement(
    """
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
    FROM health_usagedailyaccount d
    WHERE d.tenant_id = %(tenant)s AND d.day > %(today)s::date - 60
      AND d.day <= %(today)s::date
      AND (%(ids)s::bigint[] IS NULL OR d.account_id = ANY(%(ids)s::bigint[]))
    GROUP BY 1
), ever AS (
    -- Usage measures have data once an account has sent any usage at all;
    -- after that, a quiet month is a zero, not a gap. (The rollup CTEs
    -- filter by the ids rather than join `acc`: a full re-score then reads
    -- each rollup once with no join at all.)
    SELECT acc.id AS account_id FROM acc
    WHERE EXISTS (SELECT 1 FROM health_usagedailyaccount d WHERE d.account_id = acc.id)
), users_30 AS (
    -- DISTINCT in a subquery hashes; count(DISTINCT) would sort.
    SELECT account_id, count(*) AS n FROM (
        SELECT DISTINCT u.account_id, u.user_id
        FROM health_usagedailyaccountuser u
        WHERE u.tenant_id = %(tenant)s AND u.day > %(today)s::date - 30
          AND u.day <= %(today)s::date
          AND (%(ids)s::bigint[] IS NULL OR u.account_id = ANY(%(ids)s::bigint[]))
    ) seen GROUP BY 1
), seats AS (
    SELECT c.account_id, sum(c.seats) AS n
    FROM lifecycle_contract c JOIN acc ON acc.id = c.account_id
    WHERE c.tenant_id = %(tenant)s AND c.status = 'active'
    GROUP BY 1
), key_features AS (
    SELECT count(*) AS n FROM health_feature
    WHERE tenant_id = %(tenant)s AND counts_for_adoption
), counted_events AS (
    -- The only events the score counts: those of key features (by feature)
    -- and support tickets (feature 0). Filtering before grouping keeps the
    -- aggregate small; one pass over the per-event rollup serves both.
    SELECT n.name, f.id AS feature_id FROM health_eventname n
    JOIN health_feature f ON f.id = n.feature_id AND f.counts_for_adoption
    WHERE n.tenant_id = %(tenant)s
    UNION ALL SELECT %(support_event)s, 0
), events_30 AS MATERIALIZED (
    SELECT e.account_id, c.feature_id, sum(e.events) AS n
    FROM health_usagedailyevent e
    JOIN counted_events c ON c.name = e.event
    WHERE e.tenant_id = %(tenant)s AND e.day > %(today)s::date - 30
      AND e.day <= %(today)s::date
      AND (%(ids)s::bigint[] IS NULL OR e.account_id = ANY(%(ids)s::bigint[]))
    GROUP BY 1, 2
), features_used AS (
    SELECT account_id, count(*) AS n FROM events_30 WHERE feature_id <> 0 GROUP BY 1
), tickets AS (
    SELECT account_id, sum(n) AS n FROM events_30 WHERE feature_id = 0 GROUP BY 1
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
), facts AS MATERIALIZED (
    -- One row per account with every figure the measures use; `inputs` keeps
    -- them for the card ("12 of 30 days active"), once per account.
    SELECT acc.id AS account_id, acc.profile_id, {figure_columns},
           {inputs_text} AS inputs
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
), weights AS (
    -- Each profile's measures as one row, so that an account is scored in
    -- one row: no nine rows per account to join, sort and regroup.
    SELECT pm.profile_id, {weight_columns}
    FROM health_profilemeasure pm
    WHERE pm.tenant_id = %(tenant)s
    GROUP BY 1
), raw AS (
    SELECT f.account_id, f.profile_id, f.inputs, {raw_columns}
    FROM facts f
), pointed AS (
    -- A measure scores when the profile weighs it and it has data; its
    -- points are the raw value mapped from `bad` (0) to `good` (100).
    SELECT r.account_id, r.profile_id, r.inputs, {point_columns}
    FROM raw r LEFT JOIN weights w ON w.profile_id = r.profile_id
), totals AS (
    -- The weighted mean of the measures with data, and the working in a
    -- fixed measure order (readers order it by weight). concat_ws skips the
    -- measures the profile does not weigh.
    SELECT account_id,
           round(({weighted_sum}) / nullif({present_weight}, 0))::smallint AS score,
           '[' || concat_ws(',', {breakdown_parts}) || ']' AS breakdown
    FROM pointed
), banded AS (
    SELECT x.*, md5(concat_ws('|', x.profile_id, x.score, x.band, x.breakdown, x.inputs))
               AS working_hash
    FROM (
    SELECT acc.id AS account_id, acc.profile_id, t.score,
           CASE WHEN t.score IS NULL THEN ''
                WHEN t.score < p.red_below THEN 'red'
                WHEN t.score < p.green_from THEN 'yellow'
                ELSE 'green' END AS band,
           coalesce(t.breakdown, '[]') AS breakdown, f.inputs,
           coalesce(p.drop_alert_points, 0) AS drop_alert_points
    FROM acc
    JOIN facts f ON f.account_id = acc.id
    LEFT JOIN totals t ON t.account_id = acc.id
    LEFT JOIN health_healthprofile p ON p.id = acc.profile_id
    ) x
), previous AS (
    SELECT s.account_id, s.score, s.band, s.drop_alerted_at, s.working_hash
    FROM health_healthscore s JOIN acc ON acc.id = s.account_id
), week AS (
    SELECT h.account_id, max(h.score) AS peak
    FROM health_healthsnapshot h JOIN acc ON acc.id = h.account_id
    WHERE h.tenant_id = %(tenant)s AND h.taken_at >= now() - interval '7 days'
    GROUP BY 1
), saved AS (
    -- Only accounts whose working changed are written (and only theirs is
    -- turned into JSON): scored_at is when the score or its working last
    -- changed.
    INSERT INTO health_healthscore (tenant_id, account_id, profile_id, score, band, breakdown,
                                    inputs, working_hash, scored_at, created_at, updated_at)
    SELECT %(tenant)s, b.account_id, b.profile_id, b.score, b.band, b.breakdown::jsonb,
           b.inputs::jsonb, b.working_hash, now(), now(), now()
    FROM banded b LEFT JOIN previous p ON p.account_id = b.account_id
    WHERE p.working_hash IS DISTINCT FROM b.working_hash
    ORDER BY b.account_id
    ON CONFLICT (account_id) DO UPDATE SET
        profile_id = EXCLUDED.profile_id, score = EXCLUDED.score, band = EXCLUDED.band,
        breakdown = EXCLUDED.breakdown, inputs = EXCLUDED.inputs,
        working_hash = EXCLUDED.working_hash, scored_at = now(), updated_at = now()
), snapped AS (
    -- Every band change (and every first score) is a snapshot: history for
    -- the trend line, written here rather than row by row afterwards.
    INSERT INTO health_healthsnapshot
        (tenant_id, account_id, day, taken_at, reason, score, band, points,
         created_at, updated_at)
    SELECT %(tenant)s, b.account_id, %(today)s::date, now(), 'band_change', b.score, b.band,
           coalesce((SELECT jsonb_object_agg(part->>'measure', part->'points')
                     FROM jsonb_array_elements(b.breakdown::jsonb) part), '{}'::jsonb),
           now(), now()
    FROM banded b LEFT JOIN previous p ON p.account_id = b.account_id
    WHERE %(record)s AND (p.account_id IS NULL OR p.band IS DISTINCT FROM b.band)
)
SELECT b.account_id, p.account_id IS NULL AS first, p.score, p.band, b.score, b.band,
       greatest(p.score, w.peak) AS peak,
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
)

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
