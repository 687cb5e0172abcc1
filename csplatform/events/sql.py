"""The event bus's set-based statements (run inside a tenant context)."""

# The overdue undispatched events, oldest due first, sent again: the attempt
# counted and the next due time pushed back exponentially (2, 4, 8, then 16
# times the normal delay). An event whose handler runs right now holds its
# row lock (event_deliver), so SKIP LOCKED leaves it alone.
REDISPATCH_SQL = """
UPDATE events_domainevent e
SET attempts = e.attempts + 1,
    next_attempt_at = %(now)s
        + make_interval(secs => %(delay)s * power(2, least(e.attempts + 1, %(doublings)s))),
    updated_at = %(now)s
WHERE e.id IN (
    SELECT id FROM events_domainevent
    WHERE tenant_id = %(tenant)s AND dispatched_at IS NULL AND next_attempt_at < %(now)s
    ORDER BY next_attempt_at, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED)
RETURNING e.id, e.kind
"""

# Add counts to each account's pending row of a coalesced kind, or start one
# due a window from now. Payload values are counts (summed) or objects of
# counts (summed key by key). Rows are taken in account order, so concurrent
# writers lock them in the same order and never deadlock.
COALESCE_SQL = """
INSERT INTO events_coalescedevent AS c
    (tenant_id, kind, account_id, payload, due_at, created_at, updated_at)
SELECT %(tenant)s, %(kind)s, i.account_id, i.payload,
       %(now)s + make_interval(secs => %(window)s), %(now)s, %(now)s
FROM jsonb_to_recordset(%(items)s::jsonb) AS i(account_id bigint, payload jsonb)
ORDER BY i.account_id
ON CONFLICT (tenant_id, kind, account_id) DO UPDATE SET
    payload = (
        SELECT coalesce(jsonb_object_agg(key, CASE
            WHEN jsonb_typeof(a.value) = 'object' OR jsonb_typeof(b.value) = 'object' THEN (
                SELECT coalesce(jsonb_object_agg(k, n), '{}'::jsonb) FROM (
                    SELECT k, sum(v::numeric) AS n FROM (
                        SELECT * FROM jsonb_each_text(coalesce(a.value, '{}'::jsonb))
                        UNION ALL
                        SELECT * FROM jsonb_each_text(coalesce(b.value, '{}'::jsonb))
                    ) AS parts(k, v) GROUP BY k
                ) AS sums)
            ELSE to_jsonb(coalesce((a.value #>> '{}')::numeric, 0)
                          + coalesce((b.value #>> '{}')::numeric, 0))
            END), '{}'::jsonb)
        FROM jsonb_each(c.payload) AS a FULL JOIN jsonb_each(EXCLUDED.payload) AS b USING (key)
    ),
    updated_at = EXCLUDED.updated_at
"""

# The pending rows whose window has passed, taken (deleted) to be recorded as
# events in the same transaction.
COALESCED_DUE_SQL = """
DELETE FROM events_coalescedevent WHERE id IN (
    SELECT id FROM events_coalescedevent
    WHERE tenant_id = %(tenant)s AND due_at <= %(now)s
    ORDER BY due_at, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED)
RETURNING kind, account_id, payload
"""
