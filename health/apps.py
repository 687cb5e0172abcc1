from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "health"
    verbose_name = "Health"

    def ready(self):
        from csplatform.tenancy.signals import tenant_created
        from health import handlers  # noqa: F401  (subscribes to domain events)
        from health.services import health_defaults_on_tenant_created
        from lifecycle.timeline import register_kind

        tenant_created.connect(health_defaults_on_tenant_created, dispatch_uid="health-defaults")
        register_kind("health_changed", "Health changed")
        register_kind("nps_received", "NPS response")
        register_kind("sentiment_set", "CSM sentiment")
        from health.views import account_health
        from health.views.account_usage import panel_context
        from lifecycle.panels import register_account_panel

        register_account_panel(
            "health",
            title="Health",
            order=5,
            template="health/_account_health_placeholder.html",
            context=account_health.panel_context,
        )
        register_account_panel(
            "usage",
            title="Usage",
            order=10,
            template="health/_account_usage_placeholder.html",
            context=panel_context,
        )
