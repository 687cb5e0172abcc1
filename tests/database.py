"""The test database as its owner, on a connection of its own: for the few
tests that inject a real fault into the schema for themselves (and undo it)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import psycopg
from django.conf import settings
from django.db import connection


@contextlib.contextmanager
def owner_cursor() -> Iterator[psycopg.Cursor]:
    """An autocommit cursor on this test process's database, as the owner."""
    db, owner = connection.settings_dict, settings.DATABASE_OWNER
    with psycopg.connect(
        dbname=db["NAME"],
        user=owner["USER"],
        password=owner["PASSWORD"],
        host=db["HOST"],
        port=db["PORT"] or None,
        autocommit=True,
    ) as conn:
        yield conn.cursor()
