"""Composition root: every app's pages and API under one URL map."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("", include("csplatform.ui.urls")),
    path("t/<slug:tenant_slug>/", include("lifecycle.urls")),
    path("t/<slug:tenant_slug>/settings/", include("csplatform.tenancy.urls")),
    path("t/<slug:tenant_slug>/usage/", include("health.urls")),
    path("t/<slug:tenant_slug>/health/", include("health.urls_scores")),
    path("t/<slug:tenant_slug>/playbooks/", include("work.urls_playbooks")),
    path("t/<slug:tenant_slug>/team/", include("work.urls_team")),
    path("t/<slug:tenant_slug>/rules/", include("work.urls_rules")),
    path("t/<slug:tenant_slug>/capacity/", include("work.urls_capacity")),
    path("t/<slug:tenant_slug>/work/", include("work.urls_queue")),
    path("api/v1/", include("lifecycle.api.urls")),
    path("api/v1/", include("health.api.urls")),
    path("api/v1/", include("work.api.urls_playbooks")),
    path("api/v1/", include("work.api.urls_rules")),
    path("api/v1/", include("work.api.urls_capacity")),
    path("api/v1/", include("work.api.urls_tasks")),
    path("v1/", include("health.api.segment_urls")),  # Segment-compatible ingestion
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
