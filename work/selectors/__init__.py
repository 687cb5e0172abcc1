"""Reads that work's pages and API share."""

from work.selectors.rules import rule_firings, rule_list, rule_names, rule_summary  # noqa: F401
