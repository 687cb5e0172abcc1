"""The Celery app of a worker that tests/core/test_worker_killed.py runs as a
process of its own and kills with SIGKILL:

    python -m celery -A tests.core.killable_worker worker --pool solo ...

It uses the test's database (CSP_TEST_DATABASE) and, through the settings'
test block, the test's queues and Redis prefix. With CSP_TEST_BLOCK=event
its stage_changed handler blocks until the process is killed, after writing
the event id to CSP_TEST_MARKER; without it the handler only runs.
"""

import os
import threading
from pathlib import Path
from urllib.parse import urlparse, urlunparse

# Imported for the settings' `if "pytest" in sys.modules` block: this
# process's queues and Redis keys are those of the test that started it.
import pytest  # noqa: F401

_url = urlparse(os.environ["DATABASE_URL"])
os.environ["DATABASE_URL"] = urlunparse(_url._replace(path="/" + os.environ["CSP_TEST_DATABASE"]))

from csplatform.celery import app  # noqa: E402
from csplatform.events.registry import subscribe  # noqa: E402

__all__ = ["app"]


@subscribe("stage_changed", name="tests.killable")
def block_until_killed(event) -> None:
    if os.environ.get("CSP_TEST_BLOCK") == "event":
        Path(os.environ["CSP_TEST_MARKER"]).write_text(str(event.pk))
        threading.Event().wait()  # until SIGKILL
