"""The test run's entry point, loaded before tests/conftest.py.

Importing settings starts no server, so the test setup starts the embedded
PostgreSQL and Redis itself (unless DATABASE_URL / REDIS_URL name real ones)
and only then sets Django up. DJANGO_SETTINGS_MODULE is deliberately not in
the pytest ini: pytest-django would import settings before any conftest, so
before the servers and their URLs exist.
"""

from __future__ import annotations

import os
import sys

import pytest

if (
    "django.conf" in sys.modules
    and sys.modules["django.conf"].settings.configured
    # pytest-xdist workers inherit the settings module with the URLs it needs
    and not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"))
):
    # DJANGO_SETTINGS_MODULE came from the shell: settings were read too early.
    raise pytest.UsageError(
        "Unset DJANGO_SETTINGS_MODULE (conftest.py sets it once the embedded servers "
        "are up) or set DATABASE_URL and REDIS_URL."
    )

from csplatform.embedded import ensure_env

ensure_env()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csplatform.settings")

import django  # noqa: E402

django.setup()
