"""Reads that work's pages and API share; callers import from
`work.selectors`, the modules below only split it by concern."""

from work.selectors.queue import *  # noqa: F403
