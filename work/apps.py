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
            ("playbook_cancelled", "Playbook cancelled"),
            ("playbook_completed", "Playbook completed"),
            ("playbook_resumed", "Playbook resumed"),
        ]:
            register_kind(kind, label)
        self._ready_playbooks()

    def _ready_playbooks(self) -> None:
        # Defaults for new tenants, and the "Work" panel of the account page.
        from csplatform.tenancy.signals import tenant_created
        from lifecycle.panels import register_account_panel
        from work.handlers_defaults import work_defaults_on_tenant_created
        from work.views.playbooks import work_panel_context

        tenant_created.connect(work_defaults_on_tenant_created, dispatch_uid="work-defaults")
        register_account_panel(
            "work",
            title="Work",
            order=20,
            template="work/playbooks/_account_work_placeholder.html",
            context=work_panel_context,
        )
