"""OPTIONS answers: what a route is and what it accepts, without DRF's form
introspection (which loads the object a PUT would change and assumes the
URL names it `pk`). The OpenAPI schema at /api/schema/ describes the bodies."""

from __future__ import annotations

from rest_framework.metadata import SimpleMetadata


class RouteMetadata(SimpleMetadata):
    def determine_actions(self, request, view):
        return {}

    def determine_metadata(self, request, view):
        metadata = super().determine_metadata(request, view)
        metadata.pop("actions", None)
        metadata["allowed_methods"] = sorted(view.allowed_methods)
        return metadata
