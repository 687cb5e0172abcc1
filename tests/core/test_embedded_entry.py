"""Importing settings starts no server; the entry points start the embedded
PostgreSQL and Redis explicitly (csplatform.embedded.ensure_env).

The subprocess tests replace `ensure_services` before anything can call it,
so a regression fails the test instead of starting a stray PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from csplatform import embedded

ROOT = Path(__file__).resolve().parents[2]
URLS = ("DATABASE_URL", "DATABASE_OWNER_URL", "REDIS_URL")

# Runs before the code under test: ensure_services only records that it ran,
# in a marker file, and hands back this test run's real URLs.
PATCH = textwrap.dedent(
    """
    import json, os, sys
    import csplatform.embedded as embedded

    def ensure_services(data_dir):
        with open(os.environ["MARKER"], "a") as marker:
            marker.write(str(data_dir) + "\\n")
        return json.loads(os.environ["REAL_URLS"])

    embedded.ensure_services = ensure_services
    """
)


def run(code: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess, list[str]]:
    import json

    marker = tmp_path / "ensure_services-calls"
    env = {k: v for k, v in os.environ.items() if k not in (*URLS, "DJANGO_SETTINGS_MODULE")}
    env |= {
        "CSP_DATA_DIR": str(tmp_path / "data"),
        "MARKER": str(marker),
        "REAL_URLS": json.dumps({k: os.environ[k] for k in URLS if k in os.environ}),
    }
    result = subprocess.run(
        [sys.executable, "-c", PATCH + textwrap.dedent(code)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    calls = marker.read_text().splitlines() if marker.exists() else []
    return result, calls


def test_importing_settings_without_database_url_starts_nothing(tmp_path):
    result, calls = run(
        """
        import csplatform.settings as settings
        print("NAME=" + settings.DATABASES["default"]["NAME"])
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert calls == []  # ensure_services never ran
    assert "NAME=\n" in result.stdout  # no URL was made up either
    assert not (tmp_path / "data").exists()  # and no data folder was created


def test_manage_py_starts_the_embedded_servers_before_django_reads_settings(tmp_path):
    result, calls = run(
        """
        import runpy
        sys.argv = ["manage.py", "check"]
        runpy.run_path("manage.py", run_name="__main__")
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert calls == [str(tmp_path / "data")]


def test_the_celery_command_starts_them_when_it_reads_its_configuration(tmp_path):
    result, calls = run(
        """
        from celery.__main__ import main
        sys.argv = ["celery", "-A", "csplatform", "report"]
        try:
            main()
        except SystemExit as exit:
            assert not exit.code, exit.code
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert calls == [str(tmp_path / "data")]
    assert "CELERY_BROKER_URL" in result.stdout


@pytest.fixture
def no_urls(monkeypatch, tmp_path):
    for name in URLS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CSP_DATA_DIR", str(tmp_path))
    calls: list[Path] = []

    def fake(data_dir):
        calls.append(data_dir)
        return {"DATABASE_URL": "postgresql://app@/db", "REDIS_URL": "unix:///r.sock"}

    monkeypatch.setattr(embedded, "ensure_services", fake)
    return calls


def test_ensure_env_starts_what_is_missing_and_exports_the_urls(no_urls, tmp_path):
    assert embedded.ensure_env()["DATABASE_URL"] == "postgresql://app@/db"
    assert no_urls == [tmp_path]
    assert os.environ["DATABASE_URL"] == "postgresql://app@/db"  # children inherit it
    assert embedded.ensure_env() == {}  # now both are set: nothing to start
    assert no_urls == [tmp_path]


def test_ensure_env_starts_nothing_in_production(no_urls, monkeypatch):
    monkeypatch.setattr("csplatform.env.PRODUCTION", True)
    assert embedded.ensure_env() == {}
    assert no_urls == []
