from django.apps import AppConfig


class LifecycleConfig(AppConfig):
    name = "lifecycle"
    verbose_name = "Lifecycle"

    def ready(self):
        from csplatform.tenancy.signals import tenant_created
        from lifecycle import services

        tenant_created.connect(
            services.achievements_seed_defaults, dispatch_uid="lifecycle-achievements"
        )
