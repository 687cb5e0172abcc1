"""Input checked by the model's own fields, so that a limit (a length, a
range, the choices, the day bounds of csplatform.dates) is written once,
on the model, and every caller reports it with the model's message:

- services: `fields_clean(Task, title=..., estimated_minutes=...)` runs each
  value through its model field (type, blank, choices, validators) and
  raises one ValidationError by field;
- forms: `model_formfield(Task, "estimated_minutes")` is the model field's
  form field carrying the model's validators (and min/max on the widget).

The API derives its serializer fields the same way (csplatform.api.model_fields).
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


def fields_check(
    model: type[models.Model], *, _instance: models.Model | None = None, **values
) -> tuple[dict, dict[str, list[str]]]:
    """Each value cleaned by the model field of the same name: (the clean
    values, the errors by field) for a service that adds errors of its own."""
    errors: dict[str, list[str]] = {}
    clean = {}
    for name, value in values.items():
        try:
            clean[name] = model._meta.get_field(name).clean(value, _instance)
        except ValidationError as error:
            errors[name] = error.messages
    return clean, errors


def fields_clean(
    model: type[models.Model],
    *,
    _instance: models.Model | None = None,
    _names: dict[str, str] | None = None,
    **values,
) -> dict:
    """`fields_check`, raising one ValidationError with every error, keyed by
    field (or by `_names[field]`, the caller's name for it)."""
    clean, errors = fields_check(model, _instance=_instance, **values)
    if errors:
        raise ValidationError({(_names or {}).get(k, k): v for k, v in errors.items()})
    return clean


def model_formfield(model: type[models.Model], name: str, **kwargs) -> forms.Field:
    """The model field's form field, with the model's validators (so the form
    says what the model says) and its bounds as the widget's min/max."""
    model_field = model._meta.get_field(name)
    field = model_field.formfield(**kwargs)
    if isinstance(field, forms.ChoiceField):
        return field  # the choices are the rule (validators would see the raw text)
    for kind, attr in ((MinValueValidator, "min"), (MaxValueValidator, "max")):
        bounds = [v for v in model_field.validators if isinstance(v, kind)]
        if not bounds:
            continue
        # The model's bound replaces the form field's own (a positive
        # integer's min 0), so one message is given, the model's.
        field.validators = [v for v in field.validators if not isinstance(v, kind)]
        limit = (max if kind is MinValueValidator else min)(v.limit_value for v in bounds)
        setattr(field, f"{attr}_value", limit)
        if isinstance(field.widget, forms.NumberInput):
            field.widget.attrs[attr] = limit
    for validator in model_field.validators:
        if validator not in field.validators:
            field.validators.append(validator)
    return field
