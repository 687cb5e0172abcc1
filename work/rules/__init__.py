"""Automation rules: trigger -> conditions -> actions.

- `triggers`: the trigger kinds, their config and occurrence keys
- `conditions`: checks on the account, as SQL over accounts
- `actions`: the action registry (`register_action`) and work's built-ins
- `engine`: which rules fire for an event or a sweep, once per occurrence
- `runner`: running actions, retries with backoff

Writes from pages and the API go through `work.services.rules`.
"""
