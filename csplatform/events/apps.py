from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "csplatform.events"
    label = "events"
    verbose_name = "Domain events"
