"""Automation rule pages under /t/<tenant_slug>/rules/."""

from django.urls import path

from work.views import rules

urlpatterns = [
    path("", rules.rule_list, name="rules"),
    path("new/", rules.rule_new, name="rule_new"),
    path("<int:pk>/", rules.rule_edit, name="rule_edit"),
    path("<int:pk>/toggle/", rules.rule_toggle, name="rule_toggle"),
    path("<int:pk>/delete/", rules.rule_delete, name="rule_delete"),
    path("<int:pk>/log/", rules.rule_log, name="rule_log"),
    path("<int:pk>/log/runs/<int:run_id>/retry/", rules.action_run_retry, name="rule_action_retry"),
]
