"""Row-level security as a migration operation.

Every tenant-owned table gets `EnableRowLevelSecurity` in the migration that
creates it: RLS enabled *and forced* (so even the owner is subject to it) and
one policy keyed on the transaction-local tenant setting. With no tenant set,
`csp_current_tenant()` is NULL and no row matches: the database fails closed.
"""

from django.db.migrations.operations.base import Operation

FUNCTIONS_SQL = """
CREATE OR REPLACE FUNCTION csp_current_tenant() RETURNS bigint
    LANGUAGE sql STABLE AS
    $$ SELECT NULLIF(current_setting('csp.tenant_id', true), '')::bigint $$;
CREATE OR REPLACE FUNCTION csp_current_user() RETURNS bigint
    LANGUAGE sql STABLE AS
    $$ SELECT NULLIF(current_setting('csp.user_id', true), '')::bigint $$;
"""


class EnableRowLevelSecurity(Operation):
    reversible = True
    reduces_to_sql = True

    def __init__(self, model_name: str, extra_using: str = ""):
        self.model_name = model_name
        # An extra OR-clause for the few tables read before a tenant is known
        # (a user's own memberships, an API key looked up by its hash).
        self.extra_using = extra_using

    def state_forwards(self, app_label, state):
        pass

    def _table(self, app_label, state):
        return state.apps.get_model(app_label, self.model_name)._meta.db_table

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        table = schema_editor.quote_name(self._table(app_label, to_state))
        check = "tenant_id = csp_current_tenant()"
        using = f"({check}) OR ({self.extra_using})" if self.extra_using else check
        schema_editor.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        schema_editor.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        schema_editor.execute(
            f"CREATE POLICY tenant_isolation ON {table} USING ({using}) WITH CHECK ({check})"
        )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        table = schema_editor.quote_name(self._table(app_label, from_state))
        schema_editor.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
        schema_editor.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        schema_editor.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")

    def describe(self):
        return f"Enable row-level security on {self.model_name}"

    def deconstruct(self):
        kwargs = {"model_name": self.model_name}
        if self.extra_using:
            kwargs["extra_using"] = self.extra_using
        return (self.__class__.__qualname__, [], kwargs)
