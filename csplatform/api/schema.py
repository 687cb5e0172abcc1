"""OpenAPI: the error body is one component, and every operation documents
the errors it can answer with it (a drf-spectacular postprocessing hook, so
no view lists them by hand)."""

from __future__ import annotations

ERROR_SCHEMA = {
    "type": "object",
    "description": "Every API error has this shape.",
    "properties": {
        "detail": {"type": "string", "description": "What went wrong, for a person"},
        "code": {
            "type": "string",
            "description": "What went wrong, for a program (invalid, not_found, forbidden, "
            "conflict, not_authenticated, too_large, throttled, server_error, unavailable, ...)",
        },
        "fields": {
            "type": "object",
            "description": "Messages per field, keyed by dotted path (`actions.0.config.days`)",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
        "extra": {
            "type": "object",
            "description": "Data to act on, e.g. `missing` achievements of a refused move",
            "additionalProperties": True,
        },
        "request_id": {"type": "string", "description": "On 5xx: the id in the server log"},
    },
    "required": ["detail", "code", "fields"],
}

DESCRIPTIONS = {
    "400": "Invalid input; `fields` names each bad field",
    "401": "No valid credentials",
    "403": "The key's or member's role does not allow this",
    "404": "No such object in this workspace (another tenant's reads the same), or no such page",
    "405": "Method not allowed",
    "409": "The object's state does not allow this now; `extra` says why",
    "413": "The body is too large",
    "415": "Send application/json",
    "429": "Too many requests; see Retry-After",
    "500": "Server error; `request_id` names the log line",
    "503": "The database is unavailable for a moment; retry after Retry-After seconds",
}

WRITE_METHODS = {"post", "put", "patch", "delete"}


def _error_response(code: str) -> dict:
    return {
        "description": DESCRIPTIONS.get(code, "Error"),
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def document_errors(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in WRITE_METHODS | {"get", "head", "options"}:
                continue
            responses = operation.setdefault("responses", {})
            codes = {"401", "403", "405", "500", "503"}
            query = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
            if "requestBody" in operation or query or method in WRITE_METHODS:
                codes.add("400")
            if "{" in path or "page" in query:  # a page past the last is a 404 too
                codes.add("404")
            if "requestBody" in operation:
                codes |= {"413", "415"}
            if method in WRITE_METHODS:
                codes.add("409")
            for code in sorted(codes | {c for c in responses if c[0] in "45"}):
                # Errors always have the one shape, whatever a view declared.
                responses[code] = _error_response(code)
    return result
