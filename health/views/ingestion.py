"""The ingestion page: what each API key sent in the last 24 hours, what was
accepted and what was rejected, and why."""

from django.conf import settings
from django.shortcuts import render
from django.views.decorators.http import require_GET

from csplatform.tenancy.models import Role
from csplatform.ui.access import requires_role
from health.selectors import ingestion_recent_errors, ingestion_summary


@require_GET
@requires_role(Role.LEADER)
def ingestion(request, tenant_slug):
    context = {
        "summary": ingestion_summary(),
        "errors": ingestion_recent_errors(limit=50),
        "log_days": settings.INGESTION_LOG_DAYS,
    }
    return render(request, "health/ingestion.html", context)
