"""Set-based SQL of the usage hot path. One statement per batch stores the
fresh events and folds them into the daily rollups; attaching early events
reuses the same rollup CTEs."""

# Rows are upserted in key order so that concurrent batches take their row
# locks in the same order and do not deadlock one another.
# Folds `changed` (account_id, event, user_id, day) into the rollups. The
# *_user tables remember who was already counted, so distinct users stay
# exact under increments and under racing batches.
ROLLUP_CTES = """
attached AS (SELECT * FROM changed WHERE account_id IS NOT NULL),
new_event_users AS (
    INSERT INTO health_usagedailyeventuser
        (tenant_id, account_id, event, day, user_id, created_at, updated_at)
    SELECT DISTINCT %(tenant)s, account_id, event, day, user_id, now(), now()
    FROM attached WHERE user_id <> ''
    ORDER BY 2, 3, 4, 5
    ON CONFLICT (account_id, event, day, user_id) DO NOTHING
    RETURNING account_id, event, day
),
new_account_users AS (
    INSERT INTO health_usagedailyaccountuser
        (tenant_id, account_id, day, user_id, created_at, updated_at)
    SELECT DISTINCT %(tenant)s, account_id, day, user_id, now(), now()
    FROM attached WHERE user_id <> ''
    ORDER BY 2, 3, 4
    ON CONFLICT (account_id, day, user_id) DO NOTHING
    RETURNING account_id, day
),
event_rollup AS (
    INSERT INTO health_usagedailyevent
        (tenant_id, account_id, event, day, events, users, created_at, updated_at)
    SELECT %(tenant)s, a.account_id, a.event, a.day, a.n, coalesce(u.n, 0), now(), now()
    FROM (SELECT account_id, event, day, count(*) AS n FROM attached GROUP BY 1, 2, 3) a
    LEFT JOIN (SELECT account_id, event, day, count(*) AS n FROM new_event_users GROUP BY 1, 2, 3) u
        USING (account_id, event, day)
    ORDER BY 2, 3, 4
    ON CONFLICT (account_id, event, day) DO UPDATE SET
        events = health_usagedailyevent.events + EXCLUDED.events,
        users = health_usagedailyevent.users + EXCLUDED.users,
        updated_at = now()
),
account_rollup AS (
    INSERT INTO health_usagedailyaccount
        (tenant_id, account_id, day, events, active_users, created_at, updated_at)
    SELECT %(tenant)s, a.account_id, a.day, a.n, coalesce(u.n, 0), now(), now()
    FROM (SELECT account_id, day, count(*) AS n FROM attached GROUP BY 1, 2) a
    LEFT JOIN (SELECT account_id, day, count(*) AS n FROM new_account_users GROUP BY 1, 2) u
        USING (account_id, day)
    ORDER BY 2, 3
    ON CONFLICT (account_id, day) DO UPDATE SET
        events = health_usagedailyaccount.events + EXCLUDED.events,
        active_users = health_usagedailyaccount.active_users + EXCLUDED.active_users,
        updated_at = now()
)
SELECT account_id FROM changed
"""

# Dedupe first (the unique index serialises racing retries), then insert only
# the fresh events, attached to their account when it already exists.
INGEST_SQL = (
    """
WITH input AS (
    SELECT * FROM jsonb_to_recordset(%(rows)s::jsonb) AS x(
        message_id text, account_external_id text, user_id text, event text,
        occurred_at timestamptz, properties jsonb)
), fresh AS (
    INSERT INTO health_usagemessage (tenant_id, message_id, created_at, updated_at)
    SELECT %(tenant)s, message_id, now(), now() FROM input
    ON CONFLICT (tenant_id, message_id) DO NOTHING
    RETURNING message_id
), changed AS (
    INSERT INTO health_usageevent (
        tenant_id, account_id, account_external_id, user_id, event, occurred_at,
        properties, message_id)
    SELECT %(tenant)s, a.id, i.account_external_id, i.user_id, i.event, i.occurred_at,
           i.properties, i.message_id
    FROM input i
    JOIN fresh f USING (message_id)
    LEFT JOIN lifecycle_account a
           ON a.tenant_id = %(tenant)s AND a.external_id = i.account_external_id
    RETURNING account_id, event, user_id, (occurred_at AT TIME ZONE 'UTC')::date AS day
), catalogued AS (
    -- The feature catalogue lists every event name seen; DO NOTHING, so hot
    -- names are never row-locked by every batch.
    INSERT INTO health_eventname (tenant_id, name, display_name, created_at, updated_at)
    SELECT DISTINCT %(tenant)s, event, '', now(), now() FROM changed ORDER BY 2
    ON CONFLICT (tenant_id, name) DO NOTHING
),
"""
    + ROLLUP_CTES
)

ATTACH_SQL = (
    """
WITH changed AS (
    UPDATE health_usageevent SET account_id = %(account)s, updated_at = now()
    WHERE tenant_id = %(tenant)s AND account_external_id = %(external_id)s
      AND account_id IS NULL
    RETURNING account_id, event, user_id, (occurred_at AT TIME ZONE 'UTC')::date AS day
),
"""
    + ROLLUP_CTES
)
