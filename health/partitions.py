"""SQL for the monthly-partitioned raw usage table.

Partitions are created ahead by a beat task through a SECURITY DEFINER
function owned by the table owner, because the app role may not create
tables. Each partition gets the same forced row-level security as its
parent, so reading a partition by name leaks nothing either.
"""

CREATE_TABLE_SQL = """
CREATE TABLE health_usageevent (
    id bigint GENERATED ALWAYS AS IDENTITY,
    tenant_id bigint NOT NULL REFERENCES tenancy_tenant (id) ON DELETE CASCADE,
    account_id bigint NULL REFERENCES lifecycle_account (id) ON DELETE SET NULL,
    account_external_id varchar(100) NOT NULL,
    user_id varchar(200) NOT NULL DEFAULT '',
    event varchar(200) NOT NULL,
    occurred_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    properties jsonb NOT NULL DEFAULT '{}'::jsonb,
    message_id varchar(200) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (occurred_at, id)
) PARTITION BY RANGE (occurred_at);
CREATE INDEX usage_account_time ON health_usageevent (tenant_id, account_id, occurred_at);
CREATE INDEX usage_unattached ON health_usageevent (tenant_id, account_external_id)
    WHERE account_id IS NULL;

CREATE OR REPLACE FUNCTION csp_secure_usage_partition(part regclass) RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', part);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', part);
    EXECUTE format(
        'CREATE POLICY tenant_isolation ON %s USING (tenant_id = csp_current_tenant()) '
        'WITH CHECK (tenant_id = csp_current_tenant())', part);
END $$;

CREATE OR REPLACE FUNCTION csp_usage_partitions_ensure(first_month date, last_month date)
    RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    m date := date_trunc('month', first_month)::date;
    made integer := 0;
    part text;
BEGIN
    WHILE m <= last_month LOOP
        part := format('health_usageevent_%s', to_char(m, 'YYYY_MM'));
        IF to_regclass(part) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF health_usageevent FOR VALUES FROM (%L) TO (%L)',
                part,
                (m::timestamp AT TIME ZONE 'UTC'),
                ((m + interval '1 month')::timestamp AT TIME ZONE 'UTC'));
            PERFORM csp_secure_usage_partition(part::regclass);
            made := made + 1;
        END IF;
        m := (m + interval '1 month')::date;
    END LOOP;
    RETURN made;
END $$;

-- Anything outside the monthly partitions still lands somewhere: nothing
-- accepted is lost while the beat task catches up.
CREATE TABLE health_usageevent_default PARTITION OF health_usageevent DEFAULT;
SELECT csp_secure_usage_partition('health_usageevent_default'::regclass);
SELECT csp_usage_partitions_ensure(
    (now() - interval '13 months')::date, (now() + interval '3 months')::date);
"""

DROP_TABLE_SQL = """
DROP TABLE IF EXISTS health_usageevent CASCADE;
DROP FUNCTION IF EXISTS csp_usage_partitions_ensure(date, date);
DROP FUNCTION IF EXISTS csp_secure_usage_partition(regclass);
"""
