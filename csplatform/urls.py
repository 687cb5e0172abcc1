"""Composition root: every app's pages and API under one URL map."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from csplatform.api.ping import PingView
from csplatform.ui import errors

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
    path("api/v1/ping/", PingView.as_view(), name="api-ping"),
    path("api/v1/", include("lifecycle.api.urls")),
    path("api/v1/", include("health.api.urls")),
    path("api/v1/", include("work.api.urls_playbooks")),
    path("api/v1/", include("work.api.urls_rules")),
    path("api/v1/", include("work.api.urls_capacity")),
    path("api/v1/", include("work.api.urls_tasks")),
    path("v1/", include("health.api.segment_urls")),  # Segment-compatible ingestion
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # Anything else under the API prefixes is a JSON 404, never an HTML page.
    re_path(r"^(?:api|v1)/", errors.page_not_found),
]

handler400 = "csplatform.ui.errors.bad_request"
handler403 = "csplatform.ui.errors.permission_denied"
handler404 = "csplatform.ui.errors.page_not_found"
handler500 = "csplatform.ui.errors.server_error"
