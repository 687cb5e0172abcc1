#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csplatform.settings")
    # Migrations run as the table owner; everything else as the app role,
    # which row-level security applies to.
    if len(sys.argv) > 1 and sys.argv[1] == "migrate":
        os.environ.setdefault("CSP_DB_ROLE", "owner")
    from csplatform.embedded import ensure_env

    ensure_env()  # the embedded PostgreSQL/Redis, unless DATABASE_URL/REDIS_URL name servers
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
