from django.apps import AppConfig


class WorkConfig(AppConfig):
    name = "work"

    def ready(self) -> None:
        import work.handlers  # noqa: F401  (subscribes rules to domain events)
        from lifecycle.timeline import register_kind

        for kind, label in [
            ("task_created", "Task created"),
            ("task_started", "Task started"),
            ("task_completed", "Task completed"),
            ("task_skipped", "Task skipped"),
            ("task_cancelled", "Task cancelled"),
            ("task_reopened", "Task reopened"),
            ("task_snoozed", "Task snoozed"),
            ("task_outcome", "Task outcome"),
            ("task_time_logged", "Time logged"),
            ("task_updated", "Task edited"),
            ("task_reassigned", "Task reassigned"),
            ("playbook_started", "Playbook started"),
        ]:
            register_kind(kind, label)
