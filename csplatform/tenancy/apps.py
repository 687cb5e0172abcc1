from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _grant_app_role(sender, using, **kwargs):
    """After migrating (as the owner), give the app role data access, no more.

    The app role owns nothing and so can neither alter tables nor escape
    forced row-level security.
    """
    from django.conf import settings
    from django.db import connections

    conn = connections[using]
    role = settings.APP_DB_ROLE
    if not role or conn.settings_dict["USER"] == role:
        return
    with conn.cursor() as cursor:
        q = conn.ops.quote_name(role)
        cursor.execute(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {q}"
        )
        cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {q}")
        cursor.execute(f"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO {q}")


class TenancyConfig(AppConfig):
    name = "csplatform.tenancy"
    label = "tenancy"
    verbose_name = "Tenancy"

    def ready(self):
        post_migrate.connect(_grant_app_role, sender=self)
        from csplatform.tenancy import schema  # noqa: F401  (documents the authenticators)
