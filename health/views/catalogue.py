"""The feature catalogue: every event name seen, grouped into features.
Every role reads it; admins edit it (event names in place, through htmx)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from csplatform.tenancy.models import Role, role_at_least
from csplatform.ui.access import FORM_ERRORS, requires_role
from health import selectors, services
from health.forms import EventNameForm, FeatureForm
from health.models import EventName, Feature
from lifecycle.forms import apply_errors

COUNT_DAYS = 30


def _since():
    return timezone.now().date() - timedelta(days=COUNT_DAYS - 1)


def _event_form(event_name, features, data=None) -> EventNameForm:
    initial = {"display_name": event_name.display_name, "feature": event_name.feature_id}
    return EventNameForm(
        data, initial=initial, features=features, auto_id=f"event{event_name.pk}_%s"
    )


def _feature_form(feature=None, data=None) -> FeatureForm:
    if feature is None:
        return FeatureForm(data, auto_id="new_feature_%s")
    initial = {f: getattr(feature, f) for f in ("name", "description", "counts_for_adoption")}
    return FeatureForm(data, initial=initial, auto_id=f"feature{feature.pk}_%s")


def _event_row(request, event_name, features, events, form=None) -> dict:
    if form is None and role_at_least(request.tenant_role, Role.ADMIN):
        form = _event_form(event_name, features)
    return {
        "event_name": event_name,
        "events": events,
        "form": form,
    }


def render_catalogue(request, *, status=200, event_forms=None, feature_forms=None):
    """The whole page; the `*_forms` dicts (by pk, None for a new feature)
    replace blank forms with bound, errored ones."""
    event_forms, feature_forms = event_forms or {}, feature_forms or {}
    is_admin = role_at_least(request.tenant_role, Role.ADMIN)
    features = list(Feature.objects.order_by("name"))
    event_names = list(EventName.objects.select_related("feature").order_by("name"))
    counts = selectors.event_counts_since(_since())
    mapped: dict[int, int] = {}
    for event_name in event_names:
        mapped[event_name.feature_id] = mapped.get(event_name.feature_id, 0) + 1
    context = {
        "count_days": COUNT_DAYS,
        "event_rows": [
            _event_row(request, e, features, counts.get(e.name, 0), event_forms.get(e.pk))
            for e in event_names
        ],
        "feature_rows": [
            {
                "feature": feature,
                "event_names": mapped.get(feature.pk, 0),
                "form": feature_forms.get(feature.pk) or (is_admin and _feature_form(feature)),
            }
            for feature in features
        ],
        "unmapped": mapped.get(None, 0),
        "new_feature_form": feature_forms.get(None) or (is_admin and _feature_form()),
    }
    return render(request, "health/catalogue.html", context, status=status)


def _save_feature(form: FeatureForm, feature=None):
    """Save through the service; None when the form (now with errors) is invalid."""
    if not form.is_valid():
        return None
    try:
        return services.feature_save(feature=feature, **form.cleaned_data)
    except ValidationError as error:
        apply_errors(form, error)
        return None


@require_http_methods(["GET", "POST"])
@requires_role(Role.VIEWER, write=Role.ADMIN)
def catalogue(request, tenant_slug):
    """The page; a POST creates a feature."""
    if request.method == "POST":
        form = _feature_form(data=request.POST)
        saved = _save_feature(form)
        if saved is None:
            return render_catalogue(request, status=FORM_ERRORS, feature_forms={None: form})
        messages.success(request, f"Added the feature “{saved.name}”.")
        return redirect("usage_catalogue", tenant_slug=tenant_slug)
    return render_catalogue(request)


@require_POST
@requires_role(Role.ADMIN)
def feature_edit(request, tenant_slug, pk):
    feature = get_object_or_404(Feature.objects.all(), pk=pk)
    form = _feature_form(feature, data=request.POST)
    saved = _save_feature(form, feature)
    if saved is None:
        return render_catalogue(request, status=FORM_ERRORS, feature_forms={feature.pk: form})
    messages.success(request, f"Saved the feature “{saved.name}”.")
    return redirect("usage_catalogue", tenant_slug=tenant_slug)


@require_POST
@requires_role(Role.ADMIN)
def event_name_edit(request, tenant_slug, pk):
    """Answers htmx with the row alone (swapped in place), a plain form post
    with a redirect, or with the page when the input is bad."""
    event_name = get_object_or_404(EventName.objects.select_related("feature"), pk=pk)
    features = list(Feature.objects.order_by("name"))
    form = _event_form(event_name, features, data=request.POST)
    valid = form.is_valid()
    if valid:
        services.event_name_update(event_name=event_name, **form.cleaned_data)
        form = None
    status = 200 if valid else FORM_ERRORS
    if not request.htmx:
        if valid:
            messages.success(request, f"Saved “{event_name.name}”.")
            return redirect("usage_catalogue", tenant_slug=tenant_slug)
        return render_catalogue(request, status=status, event_forms={event_name.pk: form})
    events = selectors.event_counts_since(_since(), names=[event_name.name])
    row = _event_row(request, event_name, features, events.get(event_name.name, 0), form)
    row["saved"] = valid
    return render(request, "health/_event_name_row.html", {"row": row}, status=status)
