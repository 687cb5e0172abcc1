"""Forms of the feature catalogue page. They check the shape of input; the
services check the rules (a unique feature name)."""

from __future__ import annotations

from django import forms

from health.models import Feature, HealthProfile, Measure
from health.scoring import MEASURE_DEFAULTS
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


class HealthProfileForm(forms.Form):
    """A health profile with a row per measure (include, weight, bad, good).
    The measure fields are named `<measure>_include`, `<measure>_weight`,
    `<measure>_bad` and `<measure>_good`; `measure_rows()` groups them for
    the template."""

    name = forms.CharField(max_length=100)
    stage = forms.ChoiceField(required=False, label="Stage")
    segment = forms.ModelChoiceField(
        queryset=Segment.all_tenants.none(), required=False, empty_label="Any segment"
    )
    position = forms.IntegerField(
        min_value=0,
        max_value=32767,
        initial=100,
        help_text="Profiles are tried lowest position first; the first that matches wins.",
    )
    is_default = forms.BooleanField(
        required=False,
        label="Default profile",
        help_text="Judges every account no other profile matches (any stage and segment).",
    )
    red_below = forms.IntegerField(min_value=0, max_value=100, initial=40, label="Red below")
    green_from = forms.IntegerField(min_value=0, max_value=100, initial=70, label="Green from")
    drop_alert_points = forms.IntegerField(
        min_value=0,
        max_value=100,
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
        for measure, label in Measure.choices:
            default = MEASURE_DEFAULTS[measure]
            self.fields[f"{measure}_include"] = forms.BooleanField(
                required=False, label=f"Include {label}"
            )
            self.fields[f"{measure}_weight"] = forms.IntegerField(
                required=False,
                min_value=1,
                max_value=100,
                initial=10,
                label=f"{label} weight",
                widget=forms.NumberInput(attrs={"style": NARROW}),
            )
            self.fields[f"{measure}_bad"] = forms.FloatField(
                required=False,
                initial=default.bad,
                label=f"{label} bad",
                widget=forms.NumberInput(attrs={"style": NARROW, "step": "any"}),
            )
            self.fields[f"{measure}_good"] = forms.FloatField(
                required=False,
                initial=default.good,
                label=f"{label} good",
                widget=forms.NumberInput(attrs={"style": NARROW, "step": "any"}),
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
                "measure": measure,
                "label": label,
                "unit": MEASURE_DEFAULTS[measure].unit,
                "include": self[f"{measure}_include"],
                "weight": self[f"{measure}_weight"],
                "bad": self[f"{measure}_bad"],
                "good": self[f"{measure}_good"],
                "cells": [self[f"{measure}_{part}"] for part in ("weight", "bad", "good")],
            }
            for measure, label in Measure.choices
        ]

    def clean(self):
        data = super().clean()
        chosen = 0
        for measure, _label in Measure.choices:
            if not data.get(f"{measure}_include"):
                continue
            chosen += 1
            for part in ("weight", "bad", "good"):
                key = f"{measure}_{part}"
                if data.get(key) is None and key not in self.errors:
                    self.add_error(key, "Needed for an included measure.")
            bad, good = data.get(f"{measure}_bad"), data.get(f"{measure}_good")
            if bad is not None and good is not None and bad == good:
                self.add_error(f"{measure}_good", "Bad and good must differ.")
        if not chosen:
            self.add_error(None, "Include at least one measure.")
        red, green = data.get("red_below"), data.get("green_from")
        if red is not None and green is not None and red > green:
            self.add_error("green_from", "Green from must be at least red below.")
        if data.get("is_default") and data.get("stage"):
            self.add_error("stage", "The default profile applies to every stage.")
        if data.get("is_default") and data.get("segment"):
            self.add_error("segment", "The default profile applies to every segment.")
        return data

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
                measure: {
                    "weight": data[f"{measure}_weight"],
                    "bad": data[f"{measure}_bad"],
                    "good": data[f"{measure}_good"],
                }
                for measure, _label in Measure.choices
                if data.get(f"{measure}_include")
            },
        }
