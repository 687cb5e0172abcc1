"""health's pages, mounted under /t/<tenant>/usage/."""

from django.urls import path

from health.views import ingestion

urlpatterns: list = [
    path("ingestion/", ingestion.ingestion, name="usage_ingestion"),
]
