"""Cache keys always carry the tenant, so one tenant never reads another's entry."""

from csplatform.tenancy.context import current_tenant_id


def tenant_cache_key(*parts: object) -> str:
    return ":".join(["t", str(current_tenant_id()), *map(str, parts)])
