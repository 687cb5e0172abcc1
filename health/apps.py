from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "health"
    verbose_name = "Health"

    def ready(self):
        from health import handlers  # noqa: F401  (subscribes to domain events)
        from health.views.account_usage import panel_context
        from lifecycle.panels import register_account_panel

        register_account_panel(
            "usage",
            title="Usage",
            order=10,
            template="health/_account_usage_placeholder.html",
            context=panel_context,
        )
