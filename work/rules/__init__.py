"""Automation rules: trigger -> conditions -> actions.

- `forms`: `ConfigForm`, the one declaration of a kind's settings (it draws
  the editor and checks the config), the bounds every rule part keeps, and
  `RuleBroken` for a stored rule that no longer passes them
- `triggers`: the trigger kinds, their settings forms and occurrence keys
- `conditions`: the condition grammar, one declaration per field, as SQL
  over accounts
- `actions`: the action registry (`register_action`) and work's built-ins
- `engine`: which rules fire for an event or a sweep, once per occurrence
- `runner`: running actions, retries with backoff

Writes from pages and the API go through `work.services.rules`.
"""
