from django.apps import AppConfig


class UiConfig(AppConfig):
    name = "csplatform.ui"
    label = "ui"
    verbose_name = "UI shell"
