"""Config fields of triggers and actions: what the rule editor draws for a
kind, and small helpers that clean one value into a field-level error."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Errors = dict[str, list[str]]


@dataclass(frozen=True)
class ConfigField:
    """One setting of a trigger or action kind, as the editor shows it."""

    name: str
    label: str
    # text | int | choice | textarea | url | secret
    kind: str = "text"
    required: bool = False
    # Choices are read when the editor is drawn (stages, playbooks of the tenant...).
    choices: Callable[[], list[tuple[str, str]]] | None = None
    help: str = ""

    def choice_list(self) -> list[tuple[str, str]]:
        return list(self.choices()) if self.choices else []


def clean_int(
    config: dict,
    name: str,
    errors: Errors,
    *,
    lo: int,
    hi: int,
    required: bool = True,
    default: int | None = None,
) -> int | None:
    value = config.get(name)
    if value in (None, ""):
        if required and default is None:
            errors[name] = ["Enter a whole number."]
        return default
    if isinstance(value, bool):
        errors[name] = ["Enter a whole number."]
        return None
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        errors[name] = ["Enter a whole number."]
        return None
    if not lo <= number <= hi:
        errors[name] = [f"Enter a number from {lo:,} to {hi:,}."]
        return None
    return number


def clean_choice(
    config: dict,
    name: str,
    errors: Errors,
    choices: list[str],
    *,
    required: bool = True,
    labels: dict[str, str] | None = None,
) -> str:
    value = config.get(name)
    value = "" if value is None else str(value).strip()
    if not value:
        if required:
            errors[name] = ["Choose one."]
        return ""
    if value not in choices:
        names = ", ".join(labels[c] if labels else c for c in choices)
        errors[name] = [f"Choose one of: {names}."]
        return ""
    return value


def clean_text(
    config: dict, name: str, errors: Errors, *, required: bool = True, max_length: int = 200
) -> str:
    value = config.get(name)
    value = "" if value is None else str(value).strip()
    if required and not value:
        errors[name] = ["This field is required."]
    elif len(value) > max_length:
        errors[name] = [f"At most {max_length:,} characters."]
    elif "\x00" in value:
        errors[name] = ["Null characters are not allowed."]
    return value


def unknown_keys(config: dict, allowed: set[str], errors: Errors) -> None:
    for key in config:
        if key not in allowed:
            errors[str(key)] = ["Unknown setting."]
