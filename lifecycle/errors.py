class TransitionRejected(Exception):
    """A stage move that cannot happen now; the API answers 409 (403 for `forbidden`)."""

    def __init__(self, message: str, *, code: str, missing: list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.code = code  # not_allowed | guard | stale | forbidden | reason_required
        self.missing = missing or []
