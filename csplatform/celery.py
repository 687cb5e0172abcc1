import os
import sys
from pathlib import Path

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csplatform.settings")

app = Celery("csplatform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _celery_command() -> bool:
    # `celery ...` or `python -m celery ...`
    program = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path()
    return program.name == "celery" or program.parent.name == "celery"


@app.on_configure.connect
def _start_embedded_services(sender, **kwargs) -> None:
    """`celery -A csplatform worker|beat` is an entry point of its own: it
    starts the embedded servers (csplatform.embedded.ensure_env) before the
    app reads Django's settings. Any other process that uses the app (web,
    tests, runall's children) was given the URLs or started them itself."""
    if _celery_command():
        from csplatform.embedded import ensure_env

        ensure_env()
