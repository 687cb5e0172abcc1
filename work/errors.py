class TaskTransitionRejected(Exception):
    """A task status change that cannot happen from the task's status; pages
    and the API answer 409."""

    def __init__(self, message: str, *, status: str, action: str):
        super().__init__(message)
        self.message = message
        self.status = status
        self.action = action
