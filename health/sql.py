"""Set-based SQL of the usage hot path.

The request path runs one statement per batch: dedupe, store the raw events,
list new event names, and queue the batch for the rollups (one row, arrays
grouped by account x event x user x day). The fold, run by a worker right
after commit, drains that queue into the daily rollups. Keeping the rollup
upserts out of the request path is what lets ingestion keep up with bulk
loads; the queue row is written in the same transaction as the events, so
the rollups can lag by seconds but can never miss or double-count an event.
"""

# Rows are upserted in key order so that concurrent folds take their row
# locks in the same order and do not deadlock one another. `changed` is
# (account_id, event, user_id, day, n); the *_user tables remember who was
# already counted, so distinct users stay exact under increments and races.
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
    FROM (SELECT account_id, event, day, sum(n) AS n FROM attached GROUP BY 1, 2, 3) a
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
    FROM (SELECT account_id, day, sum(n) AS n FROM attached GROUP BY 1, 2) a
    LEFT JOIN (SELECT account_id, day, count(*) AS n FROM new_account_users GROUP BY 1, 2) u
        USING (account_id, day)
    ORDER BY 2, 3
    ON CONFLICT (account_id, day) DO UPDATE SET
        events = health_usagedailyaccount.events + EXCLUDED.events,
        active_users = health_usagedailyaccount.active_users + EXCLUDED.active_users,
        updated_at = now()
)
"""

# Queues the attached rows of `stored` (account_id, event, user_id, day) for
# the fold: one row per statement, grouped by account x event x user x day.
QUEUE_CTES = """
grouped AS (
    SELECT account_id, event, user_id, day, count(*) AS n
    FROM stored WHERE account_id IS NOT NULL GROUP BY 1, 2, 3, 4
), queued AS (
    INSERT INTO health_usagepending
        (tenant_id, account_ids, events, user_ids, days, counts, created_at, updated_at)
    SELECT %(tenant)s, array_agg(account_id), array_agg(event), array_agg(user_id),
           array_agg(day), array_agg(n), now(), now()
    FROM grouped HAVING count(*) > 0
)
"""

# Dedupe first (the unique index serialises racing retries), then insert only
# the fresh events, attached to their account when it already exists.
# Data-modifying CTEs always run to completion, read or not.
INGEST_SQL = (
    """
WITH input AS (
    SELECT * FROM jsonb_to_recordset(%(rows)s::jsonb) AS x(
        message_id text, account_external_id text, user_id text, event text,
        occurred_at timestamptz, properties jsonb)
), fresh AS (
    -- In message-id order: concurrent batches with the same ids (retries in
    -- another order) then lock them in one order and never deadlock.
    -- PostgreSQL inserts the rows of INSERT ... SELECT ... ORDER BY in order.
    INSERT INTO health_usagemessage (tenant_id, message_id, created_at, updated_at)
    SELECT %(tenant)s, message_id, now(), now() FROM input ORDER BY message_id
    ON CONFLICT (tenant_id, message_id) DO NOTHING
    RETURNING message_id
), known AS (
    -- One lookup per distinct account in the batch, not one per event.
    SELECT id, external_id FROM lifecycle_account
    WHERE tenant_id = %(tenant)s
      AND external_id IN (SELECT DISTINCT account_external_id FROM input)
), stored AS (
    INSERT INTO health_usageevent (
        tenant_id, account_id, account_external_id, user_id, event, occurred_at,
        properties, message_id)
    SELECT %(tenant)s, a.id, i.account_external_id, i.user_id, i.event, i.occurred_at,
           i.properties, i.message_id
    FROM input i
    JOIN fresh f USING (message_id)
    LEFT JOIN known a ON a.external_id = i.account_external_id
    RETURNING account_id, account_external_id, event, user_id,
              (occurred_at AT TIME ZONE 'UTC')::date AS day
), unattached AS (
    -- An account created while this statement runs is not in its snapshot,
    -- and its `account_identified` handler cannot see these rows before they
    -- commit: the fold looks the ids up again (LATE_ATTACH_SQL).
    INSERT INTO health_usageunattached (tenant_id, external_ids, created_at, updated_at)
    SELECT %(tenant)s, array_agg(DISTINCT account_external_id), now(), now()
    FROM stored WHERE account_id IS NULL AND account_external_id <> ''
    HAVING count(*) > 0
), catalogued AS (
    -- The feature catalogue lists every event name seen; DO NOTHING, so hot
    -- names are never row-locked by every batch.
    INSERT INTO health_eventname (tenant_id, name, display_name, created_at, updated_at)
    SELECT DISTINCT %(tenant)s, event, '', now(), now() FROM stored ORDER BY 2
    ON CONFLICT (tenant_id, name) DO NOTHING
),
"""
    + QUEUE_CTES
    + """
SELECT count(*), count(account_id),
       count(*) FILTER (WHERE account_id IS NULL AND account_external_id <> '')
FROM stored
"""
)

# Takes the oldest queued batches of the tenant (SKIP LOCKED: concurrent
# folds split the queue instead of waiting), deletes them and counts them in
# the same transaction. Accounts deleted since are skipped.
FOLD_SQL = (
    """
WITH batches AS (
    DELETE FROM health_usagepending WHERE id IN (
        SELECT id FROM health_usagepending WHERE tenant_id = %(tenant)s
        ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
    RETURNING account_ids, events, user_ids, days, counts
), changed AS (
    SELECT u.account_id, u.event, u.user_id, u.day, u.n
    FROM batches b,
         unnest(b.account_ids, b.events, b.user_ids, b.days, b.counts)
             AS u(account_id, event, user_id, day, n)
    WHERE EXISTS (SELECT 1 FROM lifecycle_account a WHERE a.id = u.account_id)
),
"""
    + ROLLUP_CTES
    + """
-- Per account: events counted and the count per event name; the row with a
-- NULL account: batches taken.
SELECT account_id, sum(n)::int, jsonb_object_agg(event, n)
FROM (SELECT account_id, event, sum(n)::int AS n FROM changed GROUP BY 1, 2) per_event
GROUP BY 1
UNION ALL SELECT NULL, count(*)::int, NULL FROM batches
"""
)

# Events that arrived before their account are attached and counted at once
# (this runs in a worker, off the request path).
ATTACH_SQL = (
    """
WITH changed AS (
    UPDATE health_usageevent SET account_id = %(account)s, updated_at = now()
    WHERE tenant_id = %(tenant)s AND account_external_id = %(external_id)s
      AND account_id IS NULL
    RETURNING account_id, event, user_id, (occurred_at AT TIME ZONE 'UTC')::date AS day, 1 AS n
),
"""
    + ROLLUP_CTES
    + """
SELECT account_id FROM changed
"""
)

# The fold's first step: the external ids that batches stored without an
# account are looked up again, oldest first (SKIP LOCKED: concurrent folds
# split them); events of those that now name an account are attached and
# queued for the rollups. Event rows another transaction holds are skipped:
# only an attacher locks them (the `account_identified` handler), and it
# attaches them itself. The deleted ids were committed with their events,
# so this snapshot sees the events; an account it cannot see yet commits
# later, and its handler then sees the events.
LATE_ATTACH_SQL = (
    """
WITH taken AS (
    DELETE FROM health_usageunattached WHERE id IN (
        SELECT id FROM health_usageunattached WHERE tenant_id = %(tenant)s
        ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
    RETURNING external_ids
), known AS (
    -- An array, so the lookup is one probe of the unique index per id.
    SELECT id, external_id FROM lifecycle_account
    WHERE tenant_id = %(tenant)s AND external_id <> ''
      AND external_id = ANY (ARRAY(SELECT DISTINCT unnest(external_ids) FROM taken))
), picked AS (
    -- The partial index on unattached events serves this lookup.
    SELECT e.occurred_at, e.id, k.id AS account_id
    FROM health_usageevent e JOIN known k ON k.external_id = e.account_external_id
    WHERE e.tenant_id = %(tenant)s AND e.account_id IS NULL
    FOR UPDATE OF e SKIP LOCKED
), stored AS (
    UPDATE health_usageevent e SET account_id = p.account_id, updated_at = now()
    FROM picked p
    WHERE e.tenant_id = %(tenant)s AND e.occurred_at = p.occurred_at AND e.id = p.id
    RETURNING e.account_id, e.event, e.user_id, (e.occurred_at AT TIME ZONE 'UTC')::date AS day
),
"""
    + QUEUE_CTES
    + """
SELECT (SELECT count(*) FROM taken), (SELECT count(*) FROM stored)
"""
)

# The hourly backstop for events that missed both the handler and the fold
# (stored before LATE_ATTACH_SQL existed, or by hand): queue, for the next
# fold, every external id of the tenant's unattached events that names an
# account. One probe of the partial index per account.
UNATTACHED_REQUEUE_SQL = """
INSERT INTO health_usageunattached (tenant_id, external_ids, created_at, updated_at)
SELECT %(tenant)s, array_agg(a.external_id ORDER BY a.external_id), now(), now()
FROM lifecycle_account a
WHERE a.tenant_id = %(tenant)s AND a.external_id <> ''
  AND EXISTS (
      SELECT 1 FROM health_usageevent e
      WHERE e.tenant_id = %(tenant)s AND e.account_id IS NULL
        AND e.account_external_id = a.external_id)
HAVING count(*) > 0
RETURNING cardinality(external_ids)
"""

# Segment tracks sent before their user was put in a group are kept without
# an account; once the user's group is known they move to that account and
# are queued for the rollups. `users` NULL means every such user. Rows
# another placement holds (a request's, or the sweep's) are skipped rather
# than waited for, so two never deadlock; the holder places them, and
# should it roll back, the next sweep does.
USER_ATTACH_SQL = (
    """
WITH linked AS (
    SELECT eu.user_id, eu.account_external_id, a.id AS account_id
    FROM health_enduser eu
    JOIN lifecycle_account a
      ON a.tenant_id = eu.tenant_id AND a.external_id = eu.account_external_id
    WHERE eu.tenant_id = %(tenant)s AND eu.account_external_id <> ''
      AND (%(users)s::text[] IS NULL OR eu.user_id = ANY(%(users)s::text[]))
), picked AS (
    SELECT e.occurred_at, e.id, l.account_id, l.account_external_id
    FROM health_usageevent e JOIN linked l ON l.user_id = e.user_id
    WHERE e.tenant_id = %(tenant)s AND e.account_id IS NULL AND e.account_external_id = ''
    FOR UPDATE OF e SKIP LOCKED
), stored AS (
    UPDATE health_usageevent e
    SET account_id = p.account_id, account_external_id = p.account_external_id,
        updated_at = now()
    FROM picked p
    WHERE e.tenant_id = %(tenant)s AND e.occurred_at = p.occurred_at AND e.id = p.id
    RETURNING e.account_id, e.event, e.user_id, (e.occurred_at AT TIME ZONE 'UTC')::date AS day
),
"""
    + QUEUE_CTES
    + """
SELECT count(*) FROM stored
"""
)
