"""Serializer fields built from model fields, as ModelSerializer builds them:
max_length, min/max (from the model's validators), choices and the other
validators come from the model, so the API checks and documents in the
OpenAPI schema the limits written once on the model (work.models.limits)."""

from __future__ import annotations

from django.db import models
from rest_framework import serializers


def model_field(model: type[models.Model], name: str, **overrides) -> serializers.Field:
    """The serializer field for `model.<name>`; `overrides` are DRF field
    arguments (required, default, help_text...)."""
    field_class, kwargs = serializers.ModelSerializer().build_standard_field(
        name, model._meta.get_field(name)
    )
    if "default" in overrides:
        kwargs.pop("required", None)
    kwargs.update(overrides)
    return field_class(**kwargs)


# An id is a positive bigint: a larger number names nothing (a 400 by field,
# never a number the database refuses).
ID_BOUNDS = {"min_value": 1, "max_value": 2**63 - 1}
