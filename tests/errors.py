"""Reading the API's one error body in tests:
`{"detail": str, "code": str, "fields": {"dotted.path": [messages]}}`."""

from __future__ import annotations


def error_fields(response) -> dict[str, list[str]]:
    """The field messages of an error response, by dotted field path."""
    body = response.json()
    assert set(body) >= {"detail", "code", "fields"}, body
    return body["fields"]


def error_code(response) -> str:
    return response.json()["code"]


def has_field(response, field: str) -> bool:
    """Whether the error names `field` or something inside it (`field.key`)."""
    return any(name == field or name.startswith(f"{field}.") for name in error_fields(response))
