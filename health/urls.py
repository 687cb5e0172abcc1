"""health's pages, mounted under /t/<tenant>/usage/."""

from django.urls import path

from health.views import account_usage, catalogue, ingestion

urlpatterns = [
    path("accounts/<int:pk>/", account_usage.account_usage, name="account_usage"),
    path("catalogue/", catalogue.catalogue, name="usage_catalogue"),
    path("catalogue/features/<int:pk>/", catalogue.feature_edit, name="usage_feature_edit"),
    path(
        "catalogue/event-names/<int:pk>/",
        catalogue.event_name_edit,
        name="usage_event_name_edit",
    ),
    path("ingestion/", ingestion.ingestion, name="usage_ingestion"),
]
