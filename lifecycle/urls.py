"""Lifecycle pages under /t/<tenant_slug>/."""

from django.urls import path

from lifecycle.views import account_page, accounts, actions, stage_settings

account = "accounts/<int:pk>/"

urlpatterns = [
    path("", accounts.workspace_home, name="workspace_home"),
    path("accounts/", accounts.account_list, name="accounts"),
    path("accounts/new/", accounts.account_new, name="account_new"),
    path(account, account_page.account_detail, name="account"),
    path(account + "edit/", accounts.account_edit, name="account_edit"),
    path(account + "timeline/", account_page.account_timeline, name="account_timeline"),
    path(account + "transition/", actions.account_transition, name="account_transition"),
    path(
        account + "achievements/<int:achievement_id>/",
        actions.achievement_toggle,
        name="account_achievement",
    ),
    path(account + "notes/", actions.note_add, name="account_note"),
    path(account + "contacts/", actions.contact_add, name="account_contact"),
    path(account + "contracts/", actions.contract_add, name="account_contract"),
    path(account + "escalations/", actions.escalation_open, name="escalation_open"),
    path(
        account + "escalations/<int:escalation_id>/resolve/",
        actions.escalation_resolve,
        name="escalation_resolve",
    ),
    path("stage-settings/", stage_settings.stage_settings, name="stage_settings"),
    path(
        "stage-settings/<int:pk>/",
        stage_settings.stage_achievement_edit,
        name="stage_achievement_edit",
    ),
    path(
        "stage-settings/<int:pk>/delete/",
        stage_settings.stage_achievement_delete,
        name="stage_achievement_delete",
    ),
]
