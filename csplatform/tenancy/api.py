"""The base every API viewset builds on: always scoped to the tenant in context."""

from __future__ import annotations

from rest_framework.viewsets import GenericViewSet

from csplatform.tenancy.drf import Conflict
from csplatform.tenancy.models import Role

__all__ = ["Conflict", "TenantScopedViewSet"]


class TenantScopedViewSet(GenericViewSet):
    """Always scoped: the queryset comes from the model's fail-closed tenant
    manager, never from a class attribute evaluated without a tenant."""

    model = None  # set by subclasses
    read_role = Role.VIEWER
    write_role = Role.CSM

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation, no tenant
            return self.model.all_tenants.none()
        return self.scope(self.model.objects.all())

    def scope(self, queryset):
        """Hook for select_related/prefetch and per-view narrowing."""
        return queryset

    @property
    def actor(self):
        """The user behind the call, or None for an API key."""
        user = self.request.user
        return user if getattr(user, "pk", None) else None
