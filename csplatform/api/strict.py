"""JSON bodies are typed. DRF's fields read form input, where every value is
text, so they convert what they get: 0 or "true" for a boolean, 12 for a
text, "12" for a number, 1 for the choice "1". From a JSON body that takes
what the schema refuses. Here a field reading a body that SafeJSONParser
parsed takes only its own JSON type: a text is a string, a boolean is true
or false, a number is a number (a decimal: a number or a numeric string),
a choice is one of the listed values as listed; a text is at most its
max_length as sent (before DRF trims it). Query strings are all text and
are read as DRF reads them.

`install()` (run when the parser module loads) wraps DRF's scalar fields
once; nothing else changes how they convert."""

from __future__ import annotations

from rest_framework import fields


class JSONObject(dict):
    """A JSON body's top-level object, as SafeJSONParser returns it."""


class JSONArray(list):
    """A JSON body's top-level array, as SafeJSONParser returns it."""


def mark(data):
    """`data` (a parsed body) marked as JSON for the fields that read it."""
    if type(data) is dict:
        return JSONObject(data)
    if type(data) is list:
        return JSONArray(data)
    return data


def from_json(field: fields.Field) -> bool:
    """Whether `field` reads (part of) a JSON body."""
    return isinstance(getattr(field.root, "initial_data", None), JSONObject | JSONArray)


def _is(data, types: tuple[type, ...]) -> bool:
    # bool is an int in Python, never a number in JSON.
    return isinstance(data, types) and (bool in types or not isinstance(data, bool))


# The JSON types each field takes from a body; "invalid" is DRF's own message.
JSON_TYPES: dict[type[fields.Field], tuple[type, ...]] = {
    fields.CharField: (str,),
    fields.BooleanField: (bool,),
    fields.IntegerField: (int, float),  # 5.0 is 5; DRF refuses 5.5 itself
    fields.FloatField: (int, float),
    fields.DecimalField: (int, float, str),
}


def _typed(field_class: type[fields.Field], types: tuple[type, ...]):
    convert = field_class.to_internal_value

    def to_internal_value(self, data):
        if from_json(self):
            if not _is(data, types):
                self.fail("invalid")
            # A text's length is what was sent, before DRF trims it.
            most = getattr(self, "max_length", None)
            if isinstance(data, str) and most is not None and len(data) > most:
                self.fail("max_length", max_length=most)
        return convert(self, data)

    to_internal_value.strict_json = True
    return to_internal_value


def _typed_choice(convert):
    def to_internal_value(self, data):
        if from_json(self) and not (data == "" and self.allow_blank):
            listed = {type(value) for value in self.choices}
            if not any(_is(data, (t,)) for t in listed):
                self.fail("invalid_choice", input=data)
        return convert(self, data)

    to_internal_value.strict_json = True
    return to_internal_value


def install() -> None:
    for field_class, types in JSON_TYPES.items():
        if not getattr(field_class.to_internal_value, "strict_json", False):
            field_class.to_internal_value = _typed(field_class, types)
    choice = fields.ChoiceField
    if not getattr(choice.to_internal_value, "strict_json", False):
        choice.to_internal_value = _typed_choice(choice.to_internal_value)
