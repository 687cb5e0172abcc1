"""One place that reads the environment.

Every setting comes from an environment variable with a default that runs on
a laptop. `required()` refuses to start production without a value, so a
secret never silently falls back to a development default.
"""

import os

from django.core.exceptions import ImproperlyConfigured

PRODUCTION = os.environ.get("CSP_ENV", "development") == "production"


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


def required(name: str, dev_default: str) -> str:
    """A value production must set explicitly; development gets `dev_default`."""
    value = os.environ.get(name)
    if value:
        return value
    if PRODUCTION:
        raise ImproperlyConfigured(f"{name} must be set when CSP_ENV=production")
    return dev_default
