"""The navigation's "My work (N)": the signed-in member's open tasks that are
overdue or due today. Lazy, so the one query runs only when a page's layout
shows the count (tenant pages, csm and up), never for partials or the API."""

from __future__ import annotations

from django.utils.functional import SimpleLazyObject

from csplatform.tenancy.models import Role, role_at_least


def work_nav(request):
    if getattr(request, "tenant", None) is None or not role_at_least(
        getattr(request, "tenant_role", None), Role.CSM
    ):
        return {}

    def counts():
        from work.selectors import nav_counts

        return nav_counts(user_id=request.user.pk)

    slug = request.tenant.slug
    return {
        "work_nav": SimpleLazyObject(counts),
        # Prefixes for links in long lists (the queue's rows), so each row
        # does not reverse URLs; tests check them against `reverse`.
        "work_base": f"/t/{slug}/work/",
        "accounts_base": f"/t/{slug}/accounts/",
    }
