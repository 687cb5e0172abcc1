"""The one declaration of a trigger or action kind's settings: a Django form.
Its fields draw the rule editor's inputs (label, widget, choices, help,
min/max) and its cleaning is the check, the same for the editor's POST and
for the API's JSON `config` (`ConfigForm.check(config)`); the errors are
keyed by setting, and the rule service prefixes them
(`trigger_config.<setting>`, `actions.<i>.config.<setting>`).

Also here, the bounds every stored rule part keeps (strings of at most 200
characters without NUL or lone surrogates, lists of at most 100 items, a
bounded depth) and `RuleBroken`, what a stored rule that no longer passes
them raises when it is run.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.choices import CallableChoiceIterator

from csplatform.api.parsers import text_problem as stored_text_problem
from csplatform.errors import Conflict

Errors = dict[str, list[str]]

TEXT_MAX = 200
LIST_MAX = 100
DEPTH_MAX = 8


class RuleBroken(Conflict):
    """A stored rule part that no longer passes its own check (saved before
    the grammar was closed, or changed in the database). The engine records
    it for that rule and goes on with the next."""

    default_code = "rule_broken"

    @classmethod
    def from_errors(cls, rule, errors: dict[str, list[str]]) -> RuleBroken:
        """The first problem of a stored part's check, naming the setting."""
        where, messages = next(iter(errors.items()))
        return cls(
            f"The rule \u201c{rule.name}\u201d cannot run: {where}: {' '.join(messages)}",
            rule_id=rule.pk,
            field=where,
        )


def text_problem(value: str) -> str | None:
    """Why a text cannot be stored, or None: the core's rule
    (csplatform.api.parsers), worded as an instruction for the editor."""
    problem = stored_text_problem(value)
    if problem is None:
        return None
    if "\x00" in value:
        return "Remove the NUL character (\\x00)."
    return "Remove the unpaired surrogate character."


def unsafe_text(value: object, path: str, depth: int) -> Errors:
    """The texts (keys included) anywhere inside a JSON value that cannot be
    stored, and nesting past DEPTH_MAX, by path cut to `depth` parts below
    `path` (`conditions.0.value`): a message lands on the field, not on the
    n-th item of a list inside it."""
    errors: Errors = {}
    stack: list[tuple[object, list[str]]] = [(value, [])]
    while stack:
        node, parts = stack.pop()
        at = ".".join([path, *parts[:depth]])
        if len(parts) > DEPTH_MAX:
            errors.setdefault(at, ["Nested too deeply."])
            continue
        if isinstance(node, str):
            problem = text_problem(node)
            if problem:
                errors.setdefault(at, [problem])
        elif isinstance(node, dict):
            for key, item in node.items():
                problem = text_problem(key) if isinstance(key, str) else None
                if problem:
                    errors.setdefault(at, [problem])
                    continue
                stack.append((item, [*parts, str(key)]))
        elif isinstance(node, list | tuple):
            stack.extend((item, [*parts, str(i)]) for i, item in enumerate(node))
    return errors


def choice(
    choices, *, label: str, required: bool = True, invalid: str | None = None, **kwargs
) -> forms.ChoiceField:
    """A choice setting whose messages name the choices (or say `invalid`)."""
    field_class = forms.TypedChoiceField if "coerce" in kwargs else forms.ChoiceField
    field = field_class(choices=choices, label=label, required=required, **kwargs)
    field.error_messages["required"] = "Choose one."
    if invalid is None and not callable(choices):
        invalid = f"Choose one of: {', '.join(str(name) for _value, name in field.choices)}."
    if invalid:
        field.error_messages["invalid_choice"] = invalid
    return field


def text(*, label: str, max_length: int = TEXT_MAX, **kwargs) -> forms.CharField:
    return forms.CharField(label=label, max_length=max_length, **kwargs)


class ConfigForm(forms.Form):
    """The settings of one trigger or action kind.

    - In the editor it is drawn unbound (`initial` = the config shown), each
      input named `<prefix>.<setting>`.
    - `check(config)` cleans a config dict (the editor's texts or the API's
      JSON values): unknown settings are errors; a setting left out or blank
      takes the field's initial value; one with neither is dropped.
    - Subclasses validate with `clean_<setting>()` / `clean()` as any form,
      and may take keyword context in `__init__`.
    """

    def __init__(self, data=None, *, prefix: str = "", initial=None, **kwargs):
        super().__init__(data, initial=initial, prefix=prefix or None, **kwargs)

    def add_prefix(self, field_name: str) -> str:
        return f"{self.prefix}.{field_name}" if self.prefix else field_name

    @classmethod
    def check(cls, config: object, **context: Any) -> tuple[dict, Errors]:
        """(the cleaned config, errors by setting; "" for the whole config)."""
        if config is None:
            config = {}
        if not isinstance(config, dict):
            return {}, {"": ["Must be an object."]}
        errors: Errors = {}
        for key in config:
            if key not in cls.base_fields:
                errors[str(key)] = ["Unknown setting."]
        data = {}
        for name, field in cls.base_fields.items():
            value = config.get(name)
            if value is None or value == "":
                if field.initial is not None:
                    data[name] = field.initial
                continue
            if isinstance(value, list | dict) or (
                isinstance(value, bool) and not isinstance(field, forms.BooleanField)
            ):
                errors[name] = ["Enter a single value."]
                continue
            data[name] = value
        form = cls(data, **context)
        if not form.is_valid():
            for name, messages in form.errors.items():
                errors.setdefault("" if name == "__all__" else name, list(messages))
        if errors:
            return {}, errors
        return form.config(), {}

    def config(self) -> dict:
        """The config to store: every setting with a value or a default."""
        out = {}
        for name, value in self.cleaned_data.items():
            if value is None or value == "":
                default = self.fields[name].initial
                if default is None:
                    continue
                value = default
            out[name] = value
        return out

    @classmethod
    def settings_help(cls) -> str:
        """`{a, b?}`: the settings, `?` for optional ones (for the API docs)."""
        names = []
        for name, field in cls.base_fields.items():
            optional = not field.required or field.initial is not None
            item = f"{name}?" if optional else name
            # Choices read from the database (this tenant's playbooks) are not listed.
            if isinstance(field, forms.ChoiceField) and not isinstance(
                field.choices, CallableChoiceIterator
            ):
                item += ": " + "|".join(str(value) for value, _label in field.choices)
            names.append(item)
        return "{" + ", ".join(names) + "}"


def editor_fields(form: ConfigForm, errors: Errors) -> list[dict]:
    """What the editor's template draws for each setting of an unbound form."""
    out = []
    for bound in form:
        field = bound.field
        widget = field.widget
        if isinstance(widget, forms.PasswordInput):
            kind = "secret"
        elif isinstance(widget, forms.Select):
            kind = "choice"
        elif isinstance(widget, forms.Textarea):
            kind = "textarea"
        elif isinstance(widget, forms.NumberInput):
            kind = "int"
        elif isinstance(widget, forms.URLInput):
            kind = "url"
        else:
            kind = "text"
        value = form.initial.get(bound.name, "")
        name = bound.html_name
        attrs = {k: v for k, v in widget.attrs.items() if k in ("min", "max", "maxlength", "step")}
        out.append(
            {
                "name": name,
                "id": "f-" + name.replace(".", "-"),
                "label": field.label or bound.name.replace("_", " ").capitalize(),
                "required": field.required and field.initial is None,
                "kind": kind,
                "help": field.help_text,
                "attrs": attrs,
                "value": "" if kind == "secret" or value is None else str(value),
                "choices": [(str(v), label) for v, label in field.choices]
                if kind == "choice"
                else [],
                "errors": errors.get(name, []),
                "has_secret": kind == "secret" and bool(value),
            }
        )
    return out
