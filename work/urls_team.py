"""The team page (profiles, time out of office, skills, groups, settings),
under /t/<tenant>/team/."""

from django.urls import path

from work.views import team

urlpatterns = [
    path("", team.team, name="work_team"),
    path("profiles/<int:pk>/", team.profile_update, name="work_profile_update"),
    path("profiles/<int:pk>/absences/", team.absence_add, name="work_absence_add"),
    path("absences/<int:pk>/delete/", team.absence_remove, name="work_absence_remove"),
    path("skills/", team.skill_add, name="work_skill_add"),
    path("skills/<int:pk>/delete/", team.skill_remove, name="work_skill_remove"),
    path("groups/", team.group_create, name="work_group_create"),
    path("groups/<int:pk>/", team.group_update, name="work_group_update"),
    path("groups/<int:pk>/delete/", team.group_delete, name="work_group_delete"),
    path("settings/", team.settings_update, name="work_settings_update"),
]
