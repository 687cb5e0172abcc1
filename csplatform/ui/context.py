"""Context for the shared layout: the tenant in view, the role, the switcher."""

from csplatform.tenancy.models import Role, role_at_least


def shell(request):
    role = getattr(request, "tenant_role", None)
    return {
        "tenant": getattr(request, "tenant", None),
        "role": role,
        "can_edit": role_at_least(role, Role.CSM),
        "is_leader": role_at_least(role, Role.LEADER),
        "is_admin": role_at_least(role, Role.ADMIN),
    }
