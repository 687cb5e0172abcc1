"""The domain's few exceptions. Services raise these (and Django's
`ValidationError` with field messages); the API's one exception handler
(csplatform.api.exceptions) and the pages' middleware (csplatform.ui.errors)
map them to one body and status, so no view translates them by hand.

| exception                         | API status | page status |
| --------------------------------- | ---------- | ----------- |
| django ValidationError            | 400        | 422         |
| Conflict (and its subclasses)     | 409        | 409         |
| Forbidden                         | 403        | 403         |
| NotFound                          | 404        | 404         |

Each carries a human `message`, a machine `code` and `extra`: data the
client needs to act on (the achievements still missing, the task's status).
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    http_status = 400
    default_code = "error"

    def __init__(self, message: str, *, code: str | None = None, **extra: Any):
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.extra = extra

    def __getattr__(self, name: str) -> Any:
        # `rejected.missing` reads the extra data the raiser attached.
        extra = self.__dict__.get("extra", {})
        if name in extra:
            return extra[name]
        raise AttributeError(name)


class Conflict(DomainError):
    """The change cannot happen in the object's current state (409)."""

    http_status = 409
    default_code = "conflict"


class Forbidden(DomainError):
    """The actor may not do this (403)."""

    http_status = 403
    default_code = "forbidden"


class NotFound(DomainError):
    """No such object for this tenant (404): another tenant's reads the same."""

    http_status = 404
    default_code = "not_found"
