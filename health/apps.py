from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "health"
    verbose_name = "Health"

    def ready(self):
        from health import handlers  # noqa: F401  (subscribes to domain events)
