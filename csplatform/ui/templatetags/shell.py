"""Template helpers for the shared layout."""

from django import template

from csplatform.ui.access import request_memberships

register = template.Library()


@register.simple_tag(takes_context=True)
def user_memberships(context):
    """`{% user_memberships as memberships %}`: the tenants the user can switch to."""
    request = context.get("request")
    return request_memberships(request) if request is not None else []


@register.filter
def days(duration) -> str:
    """A timedelta as a short human duration: 3 h, 12 d."""
    if duration is None:
        return ""
    seconds = duration.total_seconds()
    if seconds < 3600:
        return f"{max(1, int(seconds // 60))} min"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} d"


@register.simple_tag(takes_context=True)
def query_with(context, **changes) -> str:
    """The current query string with some parameters replaced (for paging links)."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = value
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"
