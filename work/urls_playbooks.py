"""Playbook pages and the account page's Work card, under /t/<tenant>/playbooks/."""

from django.urls import path

from work.views import playbooks

urlpatterns = [
    path("", playbooks.playbook_list, name="work_playbooks"),
    path("new/", playbooks.playbook_create, name="work_playbook_create"),
    path("<int:pk>/", playbooks.playbook_detail, name="work_playbook"),
    path("<int:pk>/delete/", playbooks.playbook_delete, name="work_playbook_delete"),
    path("<int:pk>/steps/", playbooks.step_create, name="work_step_create"),
    path("<int:pk>/steps/<int:step_pk>/", playbooks.step_edit, name="work_step_edit"),
    path("<int:pk>/steps/<int:step_pk>/delete/", playbooks.step_delete, name="work_step_delete"),
    path("accounts/<int:pk>/", playbooks.account_work, name="work_account"),
    path("accounts/<int:pk>/start/", playbooks.account_playbook_start, name="work_account_start"),
    path("runs/<int:pk>/cancel/", playbooks.run_cancel, name="work_run_cancel"),
]
