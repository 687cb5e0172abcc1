"""Health profiles: saving one (every rule of a profile and its measures is
checked here, against the model's fields and the table of measures),
previewing a save, deleting one. Each change re-scores the tenant."""

from __future__ import annotations

import math
import re

from django.core.exceptions import ValidationError
from django.db import transaction

from csplatform.api.parsers import text_problem
from csplatform.tenancy.context import current_tenant_id
from health.measures import BY_NAME
from health.models import HealthProfile, ProfileMeasure
from health.services.scores import health_rescore, segment_failure
from lifecycle.models import Segment

# What a profile is saved with when a field is left out: the model's defaults.
SETTINGS = ("stage", "position", "is_default", "red_below", "green_from", "drop_alert_points")
PROFILE_DEFAULTS = {
    "segment": None,
    **{name: HealthProfile._meta.get_field(name).get_default() for name in SETTINGS},
}
MEASURE_PARTS = ("weight", "bad", "good")
# A name that can be echoed in an error path as it was sent.
PLAIN_NAME = re.compile(r"[A-Za-z0-9_]{1,40}")


def _shown(text: str) -> str:
    """A name as it can be echoed in a message: printable, short."""
    text = text.encode("unicode_escape").decode("ascii")
    return text if len(text) <= 40 else text[:39] + "…"


def _field_errors(instance, fields: list[str], prefix: str = "") -> dict[str, list[str]]:
    """The model's own checks (type, choices, validators) of these fields."""
    exclude = [f.name for f in instance._meta.fields if f.name not in fields]
    try:
        instance.clean_fields(exclude=exclude)
    except ValidationError as error:
        return {f"{prefix}{key}": messages for key, messages in error.message_dict.items()}
    return {}


MIN_MEASURES = 1  # a profile judges by something


def _measure_errors(measures) -> tuple[dict[str, dict], dict[str, list[str]]]:
    """Each measure line ({measure: {weight, bad, good}}) checked against the
    table of measures and ProfileMeasure's fields. Returns the lines as they
    will be stored, and errors by `measures.<measure>.<part>`."""
    if not isinstance(measures, dict) or len(measures) < MIN_MEASURES:
        return {}, {"measures": ["Include at least one measure."]}
    clean: dict[str, dict] = {}
    errors: dict[str, list[str]] = {}
    for name, line in measures.items():
        if not isinstance(name, str) or name not in BY_NAME:
            shown = _shown(name) if isinstance(name, str) else repr(name)
            # Echo the name in the path only when it is a plain one.
            plain = isinstance(name, str) and PLAIN_NAME.fullmatch(name)
            key = f"measures.{name}.measure" if plain else "measures"
            errors.setdefault(key, []).append(
                f"Unknown measure “{shown}”; choose from {', '.join(BY_NAME)}."
            )
            continue
        path = f"measures.{name}"
        if not isinstance(line, dict):
            errors[path] = ["Give the measure's weight, bad and good."]
            continue
        values = {}
        for part in MEASURE_PARTS:
            value = line.get(part)
            if value is None:
                errors[f"{path}.{part}"] = ["Needed for an included measure."]
            elif isinstance(value, bool) or not isinstance(value, (int, float)):
                errors[f"{path}.{part}"] = ["A number is required."]
            elif not math.isfinite(value):
                errors[f"{path}.{part}"] = ["A finite number is required."]
            elif part == "weight" and value != int(value):
                errors[f"{path}.{part}"] = ["A whole number is required."]
            else:
                values[part] = int(value) if part == "weight" else float(value)
        if len(values) < len(MEASURE_PARTS):
            continue
        errors.update(
            _field_errors(ProfileMeasure(measure=name, **values), list(MEASURE_PARTS), f"{path}.")
        )
        if values["bad"] == values["good"]:
            errors.setdefault(f"{path}.good", []).append("Bad and good must differ.")
        clean[name] = values
    return clean, errors


def _segment_of_tenant(segment) -> Segment | None:
    """The segment by instance or id; None when it is not one of the tenant's."""
    if isinstance(segment, Segment):
        return segment if segment.tenant_id == current_tenant_id() else None
    if isinstance(segment, int) and not isinstance(segment, bool):
        return Segment.objects.filter(pk=segment).first()
    return None


@transaction.atomic
def health_profile_save(
    *,
    profile: HealthProfile | None = None,
    name: str,
    measures: dict[str, dict],
    segment: Segment | int | None = PROFILE_DEFAULTS["segment"],
    stage: str = PROFILE_DEFAULTS["stage"],
    position: int = PROFILE_DEFAULTS["position"],
    is_default: bool = PROFILE_DEFAULTS["is_default"],
    red_below: int = PROFILE_DEFAULTS["red_below"],
    green_from: int = PROFILE_DEFAULTS["green_from"],
    drop_alert_points: int = PROFILE_DEFAULTS["drop_alert_points"],
    rescore: bool = True,
) -> HealthProfile:
    """Create or edit a profile with its measures ({measure: {weight, bad,
    good}}), then re-score every account of the tenant: an edit can move
    accounts between profiles as well as change their scores. Bad input is
    a ValidationError by field (`measures.nps.good`), nothing stored."""
    errors: dict[str, list[str]] = {}
    name = name.strip() if isinstance(name, str) else ""
    if text_problem(name):
        errors["name"] = ["Remove the NUL or unpaired surrogate characters."]
    elif not name:
        errors["name"] = ["A profile needs a name."]
    elif HealthProfile.objects.filter(name=name).exclude(pk=getattr(profile, "pk", None)).exists():
        errors["name"] = ["A profile with this name already exists."]
    candidate = HealthProfile(
        name=name,
        stage="" if is_default else stage,
        position=position,
        is_default=is_default,
        red_below=red_below,
        green_from=green_from,
        drop_alert_points=drop_alert_points,
    )
    for key, messages in _field_errors(candidate, ["name", *SETTINGS]).items():
        errors.setdefault(key, messages)
    if not errors.keys() & {"red_below", "green_from"} and (
        candidate.red_below > candidate.green_from
    ):
        errors["green_from"] = ["Green from must be at least red below."]
    lines, measure_errors = _measure_errors(measures)
    errors.update(measure_errors)
    chosen = None
    if segment is not None:
        chosen = _segment_of_tenant(segment)
        if chosen is None:
            errors["segment"] = ["No such segment."]
        else:
            # A filter that cannot run is refused now, not left out later.
            candidate.segment = chosen
            failure = segment_failure(candidate)
            if failure is not None:
                errors["segment"] = [failure.message]
    if is_default and stage:
        errors["stage"] = ["The default profile applies to every stage."]
    if is_default and segment is not None:
        errors["segment"] = ["The default profile applies to every segment."]
    # Exactly one default, judging whatever no other profile takes; every
    # other profile says which accounts it takes, or it would take them all.
    current_default = HealthProfile.objects.filter(is_default=True).first()
    editing_default = (
        current_default is not None and profile is not None and (profile.pk == current_default.pk)
    )
    if editing_default and not is_default:
        errors["is_default"] = [
            "Every tenant needs a default profile: edit this one's measures instead."
        ]
    elif is_default and current_default is not None and not editing_default:
        errors["is_default"] = [
            f"“{current_default.name}” is the default profile: edit it instead."
        ]
    if not is_default and not stage and segment is None:
        errors.setdefault("stage", []).append(
            "Choose a stage or a segment: without either this profile would take every account."
        )
    if errors:
        raise ValidationError(errors)
    profile = profile or HealthProfile()
    for attr in ["name", *SETTINGS]:
        setattr(profile, attr, getattr(candidate, attr))
    profile.segment = chosen
    profile.save()
    profile.measures.exclude(measure__in=list(lines)).delete()
    for key, values in lines.items():
        ProfileMeasure.objects.update_or_create(profile=profile, measure=key, defaults=values)
    if rescore:
        health_rescore(account_ids=None)
    return profile


def health_profile_preview(**profile_fields) -> dict[tuple[str, str], int]:
    """What saving a profile would do, without doing it: save and re-score
    inside a savepoint, count band moves ({(old, new): accounts}), roll back."""

    class _Rollback(Exception):
        pass

    moves: dict[tuple[str, str], int] = {}
    try:
        with transaction.atomic():
            profile_fields.setdefault("rescore", False)
            health_profile_save(**profile_fields)
            for change in health_rescore(account_ids=None, record=False):
                if not change.first and change.old_band != change.band:
                    key = (change.old_band or "", change.band)
                    moves[key] = moves.get(key, 0) + 1
            raise _Rollback
    except _Rollback:
        pass
    return moves


@transaction.atomic
def health_profile_delete(*, profile: HealthProfile) -> None:
    """Delete a profile and re-score the tenant (its accounts fall through to
    the next matching profile). The default profile catches every account
    nothing else matches, so it cannot be deleted."""
    if profile.is_default:
        raise ValidationError(
            {
                "profile": [
                    "The default profile cannot be deleted: make another profile the default first."
                ]
            }
        )
    profile.delete()
    health_rescore(account_ids=None)
