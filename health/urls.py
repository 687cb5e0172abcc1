"""health's pages, mounted under /t/<tenant>/usage/."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
