"""Forms of the feature catalogue page. They check the shape of input; the
services check the rules (a unique feature name)."""

from __future__ import annotations

from django import forms

from health.models import Feature


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
