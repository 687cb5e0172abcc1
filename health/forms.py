"""Forms of the feature catalogue and the health profile editor. They check
the shape of input; the services check the rules (a unique feature name,
every rule of a profile), and the limits shown come from the models."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator

from health.measures import MEASURES
from health.models import Feature, HealthProfile, ProfileMeasure
from lifecycle.models import Segment, Stage


class FeatureForm(forms.Form):
    name = forms.CharField(max_length=100)
    description = forms.CharField(max_length=300, required=False)
    counts_for_adoption = forms.BooleanField(
        required=False,
        label="Key feature",
        help_text="Counts for adoption: the account page reports how many key features are used.",
    )


class EventNameForm(forms.Form):
    display_name = forms.CharField(max_length=200, required=False, label="Display name")
    feature = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)

    def __init__(self, *args, features: list[Feature], **kwargs):
        # Choices from a list read once per page, not a queryset per row.
        super().__init__(*args, **kwargs)
        self.features = {feature.pk: feature for feature in features}
        self.fields["feature"].choices = [("", "No feature")] + [
            (feature.pk, feature.name) for feature in features
        ]

    def clean_feature(self):
        feature_id = self.cleaned_data["feature"]
        return None if feature_id is None else self.features[feature_id]


NARROW = "width: 6.5rem"
MEASURE_PARTS = ("weight", "bad", "good")


def _number(model, name: str, form_class=forms.IntegerField, **kwargs) -> forms.Field:
    """A form field for a model's number, with the model's limits (its
    validators) as min and max: declared in the HTML, enforced once more
    by the service."""
    validators = model._meta.get_field(name).validators
    limits = {
        "min_value": next(
            (v.limit_value for v in validators if isinstance(v, MinValueValidator)), None
        ),
        "max_value": next(
            (v.limit_value for v in validators if isinstance(v, MaxValueValidator)), None
        ),
    }
    return form_class(**limits, **kwargs)


class HealthProfileForm(forms.Form):
    """A health profile with a row per measure (include, weight, bad, good).
    The measure fields are named `<measure>_include`, `<measure>_weight`,
    `<measure>_bad` and `<measure>_good`; `measure_rows()` groups them for
    the template. The rules are the service's (health_profile_save):
    `add_service_errors` puts its messages on these fields."""

    name = forms.CharField(max_length=HealthProfile._meta.get_field("name").max_length)
    stage = forms.ChoiceField(required=False, label="Stage")
    segment = forms.ModelChoiceField(
        queryset=Segment.all_tenants.none(), required=False, empty_label="Any segment"
    )
    position = _number(
        HealthProfile,
        "position",
        initial=100,
        help_text="Profiles are tried lowest position first; the first that matches wins.",
    )
    is_default = forms.BooleanField(
        required=False,
        label="Default profile",
        help_text="Judges every account no other profile matches (any stage and segment).",
    )
    red_below = _number(HealthProfile, "red_below", initial=40, label="Red below")
    green_from = _number(HealthProfile, "green_from", initial=70, label="Green from")
    drop_alert_points = _number(
        HealthProfile,
        "drop_alert_points",
        initial=15,
        label="Drop alert (points in 7 days)",
        help_text="A fall of this many points within 7 days alerts even without a band change; "
        "0 turns it off.",
    )

    def __init__(self, *args, segments, profile: HealthProfile | None = None, **kwargs):
        if profile is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_for(profile)
        super().__init__(*args, **kwargs)
        self.fields["stage"].choices = [("", "Any stage"), *Stage.choices]
        self.fields["segment"].queryset = segments
        narrow = {"style": NARROW}
        for spec in MEASURES:
            m, label = spec.name, spec.label
            self.fields[f"{m}_include"] = forms.BooleanField(
                required=False, label=f"Include {label}"
            )
            self.fields[f"{m}_weight"] = _number(
                ProfileMeasure,
                "weight",
                required=False,
                initial=10,
                label=f"{label} weight",
                widget=forms.NumberInput(attrs=narrow),
            )
            for part, initial in (("bad", spec.bad), ("good", spec.good)):
                self.fields[f"{m}_{part}"] = _number(
                    ProfileMeasure,
                    part,
                    forms.FloatField,
                    required=False,
                    initial=initial,
                    label=f"{label} {part}",
                    widget=forms.NumberInput(attrs={**narrow, "step": "any"}),
                )

    @staticmethod
    def initial_for(profile: HealthProfile) -> dict:
        initial = {
            "name": profile.name,
            "stage": profile.stage,
            "segment": profile.segment_id,
            "position": profile.position,
            "is_default": profile.is_default,
            "red_below": profile.red_below,
            "green_from": profile.green_from,
            "drop_alert_points": profile.drop_alert_points,
        }
        for pm in profile.measures.all():
            initial[f"{pm.measure}_include"] = True
            initial[f"{pm.measure}_weight"] = pm.weight
            initial[f"{pm.measure}_bad"] = pm.bad
            initial[f"{pm.measure}_good"] = pm.good
        return initial

    def measure_rows(self) -> list[dict]:
        return [
            {
                "measure": spec.name,
                "label": spec.label,
                "unit": spec.unit,
                "include": self[f"{spec.name}_include"],
                "cells": [self[f"{spec.name}_{part}"] for part in MEASURE_PARTS],
            }
            for spec in MEASURES
        ]

    def service_kwargs(self) -> dict:
        """Arguments of services.health_profile_save (and the preview)."""
        data = self.cleaned_data
        return {
            "name": data["name"],
            "stage": data.get("stage") or "",
            "segment": data.get("segment"),
            "position": data["position"],
            "is_default": bool(data.get("is_default")),
            "red_below": data["red_below"],
            "green_from": data["green_from"],
            "drop_alert_points": data["drop_alert_points"],
            "measures": {
                spec.name: {part: data.get(f"{spec.name}_{part}") for part in MEASURE_PARTS}
                for spec in MEASURES
                if data.get(f"{spec.name}_include")
            },
        }

    def add_service_errors(self, error: ValidationError) -> None:
        """The service's messages on the fields they name: `measures.nps.good`
        is `nps_good`; what names no field goes on the form."""
        for path, messages in getattr(error, "message_dict", {"": error.messages}).items():
            parts = path.split(".")
            if parts[0] == "measures" and len(parts) == 3:
                field = f"{parts[1]}_{parts[2]}"
            elif parts[0] == "measures" and len(parts) == 2:
                field = f"{parts[1]}_include"
            else:
                field = path
            self.add_error(field if field in self.fields else None, messages)
