"""OpenAPI descriptions of the tenancy core's DRF authenticators, registered
by TenancyConfig.ready() so every app's endpoints are documented alike."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "csplatform.tenancy.drf.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A tenant API key: `Authorization: Bearer <key>` "
            "(or the `X-Api-Key` header). The key's role limits what it may write.",
        }


class TenantSessionAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "csplatform.tenancy.drf.TenantSessionAuthentication"
    name = "session"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": "sessionid",
            "description": "A signed-in browser session; choose the tenant with the "
            "`X-Tenant` header (its slug). Writes need the CSRF token.",
        }
