from csplatform.errors import Conflict


class TransitionRejected(Conflict):
    """A stage move that cannot happen now: 409, or 403 when the actor's role
    may not make it (`forbidden`). `missing` lists the achievements still open."""

    def __init__(self, message: str, *, code: str, missing: list[str] | None = None):
        super().__init__(message, code=code, missing=missing or [])

    @property
    def http_status(self) -> int:  # type: ignore[override]
        return 403 if self.code == "forbidden" else 409
