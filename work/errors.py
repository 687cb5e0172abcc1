from csplatform.errors import Conflict


class TaskTransitionRejected(Conflict):
    """A task status change that cannot happen from the task's status (409);
    `extra` carries the task's `status` and the refused `action`."""

    default_code = "task_transition"

    def __init__(self, message: str, *, status: str, action: str):
        super().__init__(message, status=status, action=action)
