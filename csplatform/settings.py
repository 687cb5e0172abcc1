"""Settings, all read from the environment through csplatform.env."""

import sys
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from celery.schedules import crontab

from csplatform.embedded import data_dir
from csplatform.env import PRODUCTION, env, env_bool, env_list, required

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = data_dir()

# PostgreSQL and Redis are named by DATABASE_URL / REDIS_URL. Importing
# settings starts no server: the entry points (manage.py, runall, the celery
# command, the test setup) call csplatform.embedded.ensure_env() first, which
# starts the embedded ones and exports their URLs when these are missing.

SECRET_KEY = required("DJANGO_SECRET_KEY", "dev-only-insecure-secret-key-change-me")
DEBUG = env_bool("DJANGO_DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,testserver"
)
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")
CSRF_FAILURE_VIEW = "csplatform.ui.errors.csrf_failure"  # JSON under /api/

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "csplatform.tenancy",
    "csplatform.events",
    "csplatform.ui",
    "lifecycle",
    "health",
    "advocacy",
    "work",
    "campaigns",
]

MIDDLEWARE = [
    # First: every request gets an id that its log lines and 5xx bodies carry.
    "csplatform.ui.errors.RequestIdMiddleware",
    # Outside the tenant middleware and its transaction: a request that fails
    # because PostgreSQL is gone (restart, dropped connection, failed commit)
    # answers 503 with Retry-After, and the dead connection is discarded.
    "csplatform.api.unavailable.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Resolves the tenant (URL slug, API key or session) and runs the rest of
    # the request inside its transaction-scoped row-level-security context.
    "csplatform.tenancy.middleware.TenantContextMiddleware",
    # Inside the tenant's transaction: refuses NUL in query strings, paths and
    # form posts, and maps domain errors that escape a page view (422/409).
    "csplatform.ui.errors.InputGuardMiddleware",
]

ROOT_URLCONF = "csplatform.urls"
WSGI_APPLICATION = "csplatform.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csplatform.ui.context.shell",
                "work.context.work_nav",
            ],
        },
    }
]


def _database(url: str) -> dict:
    parsed = urlparse(url)
    query = parse_qs(parsed.query)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parsed.path.lstrip("/")),
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": query.get("host", [parsed.hostname or ""])[0],
        "PORT": str(parsed.port or ""),
        "CONN_MAX_AGE": int(env("DATABASE_CONN_MAX_AGE", "60")),
        # A kept connection is checked before its first use in each request or
        # task, so one the server dropped is replaced, not used.
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {
            # A server that is down answers at once; one that is unreachable
            # must not hold a web worker past gunicorn's timeout.
            "connect_timeout": int(env("DATABASE_CONNECT_TIMEOUT", "5")),
            # TCP connections (not unix sockets): find a peer that vanished
            # without closing, instead of waiting on it for hours.
            "keepalives": 1,
            "keepalives_idle": 30,
            "keepalives_interval": 10,
            "keepalives_count": 3,
        },
    }


# Two roles: the application role (no superuser, no BYPASSRLS, owns nothing)
# serves requests and tasks; the owner role runs migrations. manage.py picks
# the owner for `migrate`; CSP_DB_ROLE=owner picks it explicitly.
DATABASE_APP = _database(required("DATABASE_URL", ""))
DATABASE_OWNER = _database(env("DATABASE_OWNER_URL") or env("DATABASE_URL"))
DB_ROLE = env("CSP_DB_ROLE", "app")
DATABASES = {"default": dict(DATABASE_OWNER if DB_ROLE == "owner" else DATABASE_APP)}
APP_DB_ROLE = DATABASE_APP["USER"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = required("REDIS_URL", "")


def _celery_redis(url: str) -> str:
    # kombu spells a unix-socket Redis as redis+socket://
    return "redis+socket://" + url.removeprefix("unix://") if url.startswith("unix://") else url


CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env("CSP_CACHE_PREFIX", "csp"),
    }
}

CELERY_BROKER_URL = env("CELERY_BROKER_URL", _celery_redis(REDIS_URL))
CELERY_RESULT_BACKEND = None
# A task is acknowledged once it has run, and each worker process reserves
# one message at a time, so the next one it takes is always chosen by the
# priorities below, never by what it prefetched.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
# Three queues, every worker consumes all of them (runall.py, docker-compose.yml):
# - urgent: domain events people and rules wait on (every kind the catalogue
#   does not mark bulk), sent at priority 0;
# - default: beat's sweeps, rule-action retries, anything else;
# - bulk: usage folds, re-scores and the bulk event kinds (usage_recorded).
# With Redis a priority is a list of its own per queue, and a worker polls
# every queue's priority-0 list before any other: an urgent event is the next
# task a free worker process takes, whatever backlog the other queues hold.
# Default and bulk share priority 5 and take turns (round robin), so neither
# starves the other. Redis priorities count down: 0 is the highest.
CELERY_URGENT_PRIORITY = 0
CELERY_TASK_DEFAULT_PRIORITY = 5
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "priority_steps": [CELERY_URGENT_PRIORITY, CELERY_TASK_DEFAULT_PRIORITY],
    # Redelivery of a message whose worker died. Kept at an hour so that no
    # long task (the nightly re-score, a big fold) is delivered twice while
    # it runs; nothing waits for it: every job's state is in the database and
    # beat's sweeps resume it within a minute (README, "Domain events and
    # background work").
    "visibility_timeout": 3600,
}
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_URGENT_QUEUE = "csp-urgent"
CELERY_BULK_QUEUE = "csp-bulk"
_BULK_TASKS = [
    "health.tasks.fold_usage_rollups",
    "health.tasks.fold_all_usage_rollups",
    "health.tasks.rescore_requested",
    "health.tasks.rescore_sweep",
    "health.tasks.rescore_nightly",
]
# csplatform.events routes dispatch_event itself, by the event's kind.
CELERY_TASK_ROUTES = {name: {"queue": CELERY_BULK_QUEUE} for name in _BULK_TASKS}
# Seconds a re-score waits so that a burst of signals for an account costs one.
HEALTH_RESCORE_DELAY_SECONDS = int(env("CSP_HEALTH_RESCORE_DELAY_SECONDS", "5"))
# A tenant's usage is folded into the rollups at most once per this many
# seconds: the first batch after a quiet spell at once, later ones together
# at the end of the window.
USAGE_FOLD_WINDOW_SECONDS = max(1, int(env("CSP_USAGE_FOLD_WINDOW_SECONDS", "10")))
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
# How often beat re-sends domain events whose delivery is overdue.
EVENT_SWEEP_SECONDS = max(1, int(env("CSP_EVENT_SWEEP_SECONDS", "15")))
# An event not handled this long after it was sent is sent again, then after
# twice as long, four times, ... up to 16 times as long.
EVENT_REDISPATCH_SECONDS = max(1, int(env("CSP_EVENT_REDISPATCH_SECONDS", "30")))
# Coalesced kinds (usage_recorded) are summed per account over this window,
# and beat records the due ones this often.
EVENT_COALESCE_SECONDS = max(1, int(env("CSP_EVENT_COALESCE_SECONDS", "10")))
CELERY_BEAT_SCHEDULE = {
    "redispatch-overdue-domain-events": {
        "task": "csplatform.events.tasks.sweep_undispatched_events",
        "schedule": float(EVENT_SWEEP_SECONDS),
    },
    "record-coalesced-domain-events": {
        "task": "csplatform.events.tasks.record_coalesced_events",
        "schedule": float(EVENT_COALESCE_SECONDS),
    },
    "prune-usage-message-ids": {
        "task": "health.tasks.prune_usage_message_ids",
        "schedule": 3600.0,
    },
    "fold-usage-into-rollups": {
        "task": "health.tasks.fold_all_usage_rollups",
        "schedule": float(env("CSP_USAGE_FOLD_SWEEP_SECONDS", "30")),
    },
    "rescore-requested-health": {
        "task": "health.tasks.rescore_sweep",
        "schedule": 30.0,
    },
    "rescore-all-health-nightly": {
        "task": "health.tasks.rescore_nightly",
        "schedule": crontab(hour=int(env("CSP_HEALTH_NIGHTLY_HOUR", "2")), minute=0),
    },
    "create-usage-partitions-ahead": {
        "task": "health.tasks.ensure_usage_partitions",
        "schedule": 6 * 3600.0,
    },
    "fire-time-based-rules": {
        "task": "work.tasks.rules_sweep",
        "schedule": float(env("CSP_RULES_SWEEP_SECONDS", "300")),
    },
    "retry-due-rule-actions": {
        "task": "work.tasks.rule_actions_retry_due",
        "schedule": 20.0,
    },
}

# Usage ingestion limits (health.ingest, health.api).
USAGE_MAX_BATCH = int(env("CSP_USAGE_MAX_BATCH", "1000"))
USAGE_MAX_BODY_BYTES = int(env("CSP_USAGE_MAX_BODY_BYTES", str(1024 * 1024)))
USAGE_FUTURE_SKEW_SECONDS = int(env("CSP_USAGE_FUTURE_SKEW_SECONDS", "300"))
USAGE_HORIZON_DAYS = int(env("CSP_USAGE_HORIZON_DAYS", "90"))
# How long a message id stays known, so its retries are recognised (>= 1 day).
USAGE_DEDUPE_DAYS = max(1, int(env("CSP_USAGE_DEDUPE_DAYS", "7")))
# Requests per API key per window on the ingestion endpoints (0 = no limit).
USAGE_RATE_LIMIT = int(env("CSP_USAGE_RATE_LIMIT", "1200"))
USAGE_RATE_WINDOW_SECONDS = int(env("CSP_USAGE_RATE_WINDOW_SECONDS", "60"))
# How long the per-request ingestion log (the "Ingestion" page) is kept.
INGESTION_LOG_DAYS = max(1, int(env("CSP_INGESTION_LOG_DAYS", "14")))
# The largest JSON body of any other API endpoint (413 above).
API_MAX_BODY_BYTES = int(env("CSP_API_MAX_BODY_BYTES", str(1024 * 1024)))
# Django refuses bodies above this before we can answer 413 ourselves.
DATA_UPLOAD_MAX_MEMORY_SIZE = max(USAGE_MAX_BODY_BYTES * 2, 2_621_440)

# Rule notifications ("notify by email"); the console backend prints them locally.
# Rule webhooks may post to private addresses only when this is set.
WEBHOOK_ALLOW_PRIVATE = env_bool("CSP_WEBHOOK_ALLOW_PRIVATE")

EMAIL_BACKEND = env("CSP_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("CSP_DEFAULT_FROM_EMAIL", "csplatform <noreply@localhost>")

AUTH_USER_MODEL = "tenancy.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if PRODUCTION else None

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env("DJANGO_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
# Outside production whitenoise serves straight from the app folders, so
# `make run` needs no collectstatic; an empty STATIC_ROOT keeps it quiet.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG
if not PRODUCTION:
    STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "csplatform.tenancy.drf.ApiKeyAuthentication",
        "csplatform.tenancy.drf.TenantSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["csplatform.tenancy.drf.HasTenantRole"],
    "DEFAULT_PAGINATION_CLASS": "csplatform.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    # Lists filter through their own filter serializers (one style), not a backend.
    "DEFAULT_FILTER_BACKENDS": [],
    # The API takes JSON only (form bodies would skip the parser's checks).
    "DEFAULT_PARSER_CLASSES": ["csplatform.api.parsers.SafeJSONParser"],
    "DEFAULT_METADATA_CLASS": "csplatform.api.metadata.RouteMetadata",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "csplatform.api.exceptions.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "csplatform API",
    "DESCRIPTION": "Accounts, lifecycle, contracts and timelines for one tenant. "
    "Authenticate with `Authorization: Bearer <api key>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from the drf-spectacular-sidecar package, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "csplatform.api.schema.document_errors",
    ],
    # One enum component for stages, whatever the field is called (to_stage, ...).
    "ENUM_NAME_OVERRIDES": {
        "StageEnum": "lifecycle.models.Stage",
        # "status" names several choice sets; each gets its own name.
        "ContractStatusEnum": "lifecycle.models.ContractStatus",
        "RuleFiringStatusEnum": "work.models.FiringStatus",
        "RuleActionRunStatusEnum": "work.models.ActionStatus",
        "TaskStatusEnum": "work.models.TaskStatus",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("CSP_LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's own console handler would print every line a second time.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.db.backends": {"level": "INFO"},
    },
}
# Celery logs through the root handler above instead of adding its own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

if "pytest" in sys.modules:
    # Hashing with the default PBKDF2 rounds dominates test time.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # A `make run` worker on the same Redis must never take the tests' tasks,
    # and under pytest-xdist each process ("gw0", ...) has its own database,
    # so its Redis keys (counters and flags keyed by ids) and its Celery queues
    # are its own too.
    _xdist = env("PYTEST_XDIST_WORKER")
    _test_name = f"csp-test-{_xdist}" if _xdist else "csp-test"
    CELERY_TASK_DEFAULT_QUEUE = _test_name
    CELERY_URGENT_QUEUE = f"{_test_name}-urgent"
    CELERY_BULK_QUEUE = f"{_test_name}-bulk"
    CELERY_TASK_ROUTES = {name: {"queue": CELERY_BULK_QUEUE} for name in _BULK_TASKS}
    CACHES["default"]["KEY_PREFIX"] = _test_name

# Every worker consumes all three (set after the test names above).
WORKER_QUEUES = [CELERY_URGENT_QUEUE, CELERY_TASK_DEFAULT_QUEUE, CELERY_BULK_QUEUE]
