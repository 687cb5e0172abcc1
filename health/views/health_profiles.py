"""The health profile editor (leaders and admins): the profiles in the order
they are tried, and a form per profile with a row per measure. "Preview"
counts the accounts that would change band without storing anything;
saving re-scores every account (the service does)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from csplatform.tenancy.models import Role
from csplatform.ui.access import FORM_ERRORS, requires_role
from health import services
from health.forms import HealthProfileForm
from health.models import Band, HealthProfile, HealthScore
from lifecycle.models import Segment

BAND_LABELS = {**dict(Band.choices), "": "No data"}


def _profiles():
    """In matching order: position, then the default last."""
    return (
        HealthProfile.objects.select_related("segment")
        .prefetch_related("measures")
        .order_by("is_default", "position", "id")
    )


@require_http_methods(["GET"])
@requires_role(Role.LEADER)
def profile_list(request, tenant_slug):
    profiles = list(_profiles())
    counts: dict[int, dict[str, int]] = {}
    for row in HealthScore.objects.values("profile_id", "band").annotate(n=Count("id")):
        counts.setdefault(row["profile_id"], {})[row["band"]] = row["n"]
    rows = [
        {
            "profile": profile,
            "measures": sorted(profile.measures.all(), key=lambda pm: (-pm.weight, pm.measure)),
            "bands": [
                {"band": band, "label": BAND_LABELS[band], "n": counts.get(profile.pk, {})[band]}
                for band in (*Band.values, "")
                if counts.get(profile.pk, {}).get(band)
            ],
            "accounts": sum(counts.get(profile.pk, {}).values()),
        }
        for profile in profiles
    ]
    return render(request, "health/profiles.html", {"rows": rows})


def _form(request, profile=None) -> HealthProfileForm:
    return HealthProfileForm(
        request.POST if request.method == "POST" else None,
        segments=Segment.objects.order_by("name"),
        profile=profile,
        auto_id="profile_%s",
    )


def _render_form(request, form, profile=None, status=200):
    context = {"form": form, "profile": profile}
    return render(request, "health/profile_form.html", context, status=status)


def _save(request, profile=None):
    form = _form(request, profile)
    if request.method == "POST":
        if form.is_valid():
            try:
                saved = services.health_profile_save(profile=profile, **form.service_kwargs())
            except ValidationError as error:
                form.add_service_errors(error)
            else:
                messages.success(
                    request, f"Saved the profile “{saved.name}” and re-scored every account."
                )
                return redirect("health_profiles", tenant_slug=request.tenant.slug)
        return _render_form(request, form, profile, status=FORM_ERRORS)
    return _render_form(request, form, profile)


@require_http_methods(["GET", "POST"])
@requires_role(Role.LEADER)
def profile_new(request, tenant_slug):
    return _save(request)


@require_http_methods(["GET", "POST"])
@requires_role(Role.LEADER)
def profile_edit(request, tenant_slug, pk):
    profile = get_object_or_404(HealthProfile.objects.prefetch_related("measures"), pk=pk)
    return _save(request, profile)


@require_POST
@requires_role(Role.LEADER)
def profile_preview(request, tenant_slug, pk=None):
    """How many accounts would change band if the form were saved: counted
    inside a savepoint that is rolled back, so nothing is stored."""
    profile = get_object_or_404(HealthProfile.objects.all(), pk=pk) if pk else None
    form = _form(request, profile)
    moves, errors = None, []
    if form.is_valid():
        try:
            moves = services.health_profile_preview(profile=profile, **form.service_kwargs())
        except ValidationError as error:
            form.add_service_errors(error)
    if moves is None:
        errors = [
            f"{form[field].label if field in form.fields else ''}: {message}".lstrip(": ")
            for field, messages_ in form.errors.items()
            for message in messages_
        ]
    context = {
        "moves": [
            {
                "old": old,
                "old_label": BAND_LABELS.get(old, old),
                "new": new,
                "new_label": BAND_LABELS.get(new, new),
                "n": n,
            }
            for (old, new), n in sorted((moves or {}).items(), key=lambda kv: -kv[1])
        ],
        "total": sum((moves or {}).values()),
        "errors": errors,
    }
    status = 200 if moves is not None else FORM_ERRORS
    return render(request, "health/_profile_preview.html", context, status=status)
