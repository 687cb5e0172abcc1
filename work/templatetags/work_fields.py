"""`{% field_bound "work.TimeEntry" "minutes" "max" %}`: a bound of a model
field (min, max, maxlength) for a hand-written input, read from the field
itself (csplatform.validation.model_formfield) so a template restates no limit."""

from __future__ import annotations

from functools import cache

from django import template
from django.apps import apps

from csplatform.validation import model_formfield

register = template.Library()


@cache
def _attrs(model_label: str, field: str) -> dict:
    return dict(model_formfield(apps.get_model(model_label), field).widget.attrs)


@register.simple_tag
def field_bound(model_label: str, field: str, attr: str):
    return _attrs(model_label, field).get(attr, "")
