"""The one exception handler: every API error is

    {"detail": str, "code": str, "fields": {"dotted.path": [messages]}}

plus `extra` (data the client acts on, e.g. the achievements still missing)
and, on 5xx, `request_id` (the id in the server's log line). Domain errors
(csplatform.errors and Django's ValidationError) map here, once."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, InterfaceError, OperationalError, transaction
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

from csplatform.errors import DomainError

logger = logging.getLogger("csplatform.api")

NON_FIELD_KEYS = {"non_field_errors", "__all__", "detail"}

# The database is gone (csplatform.api.unavailable): 503, retry after this.
RETRY_AFTER_SECONDS = 5
# SQLSTATE classes of a server that is gone or going: connection exception
# (08), operator intervention (57P01 admin shutdown, 57P02 crash, 57P03
# cannot connect now), insufficient resources (53, e.g. too many connections).
_GONE_STATES = ("08", "57P", "53")


def database_unavailable(exc: BaseException | None) -> bool:
    """Whether `exc` says the database cannot be reached, as opposed to a
    statement it refused (a bug or bad input, answered as such)."""
    if isinstance(exc, InterfaceError):
        return True  # the connection was already closed under us
    if not isinstance(exc, OperationalError):
        return False
    state = getattr(exc.__cause__, "sqlstate", None)
    # No SQLSTATE: the server never answered (connect refused, connection lost).
    return state is None or state.startswith(_GONE_STATES)


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too_large"


def _messages(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(v) for v in value if not isinstance(v, dict | list)]
    return [str(value)]


def flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Nested DRF/Django error details as {"a.0.b": [messages]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if key in NON_FIELD_KEYS and not prefix:
                path = ""
            for p, msgs in flatten(value, path).items():
                out.setdefault(p, []).extend(msgs)
    elif isinstance(detail, list | tuple) and any(isinstance(v, dict | list) for v in detail):
        for i, value in enumerate(detail):
            if isinstance(value, dict | list):
                for p, msgs in flatten(value, f"{prefix}.{i}" if prefix else str(i)).items():
                    out.setdefault(p, []).extend(msgs)
            elif value:
                out.setdefault(prefix, []).append(str(value))
    elif detail not in (None, "", []):
        out.setdefault(prefix, []).extend(_messages(detail))
    return {k: v for k, v in out.items() if v}


def _django_detail(exc: DjangoValidationError) -> Any:
    if hasattr(exc, "error_dict"):
        return {k: [m for e in v for m in e.messages] for k, v in exc.error_dict.items()}
    return {"": exc.messages}


def error_body(
    detail: str, code: str, fields: dict | None = None, extra: dict | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"detail": detail, "code": code, "fields": fields or {}}
    if extra:
        body["extra"] = extra
    return body


def _validation_body(fields: dict[str, list[str]], code: str = "invalid") -> dict:
    general = fields.pop("", [])
    if general:
        detail = " ".join(general)
    elif fields:
        name, msgs = next(iter(fields.items()))
        detail = f"{name}: {msgs[0]}" if len(fields) == 1 else "Some fields are not valid."
    else:
        detail = "The request is not valid."
    return error_body(detail, code, fields)


def body_for(exc: BaseException) -> tuple[int, dict, dict[str, str]] | None:
    """(status, body, headers) for a known exception, None for a bug."""
    if isinstance(exc, DjangoValidationError):
        return 400, _validation_body(flatten(_django_detail(exc))), {}
    if isinstance(exc, DomainError):
        return exc.http_status, error_body(exc.message, exc.code, extra=exc.extra or None), {}
    if isinstance(exc, Http404):
        return 404, error_body(str(exc) or "Not found.", "not_found"), {}
    if isinstance(exc, PermissionDenied):
        return 403, error_body(str(exc) or "Your role does not allow this.", "forbidden"), {}
    if isinstance(exc, RequestDataTooBig):
        return 413, error_body("The request body is too large.", "too_large"), {}
    if isinstance(exc, exceptions.ValidationError):
        return 400, _validation_body(flatten(exc.detail)), {}
    if isinstance(exc, exceptions.APIException):
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.default_detail)
        return exc.status_code, error_body(str(detail), str(code)), headers
    if isinstance(exc, DataError):
        # A value the input layer should have refused reached PostgreSQL; still
        # the caller's input, so a 4xx, and logged so the gap gets closed.
        logger.warning("Input reached the database unchecked: %s", exc)
        return 400, error_body("A value is out of range for its field.", "invalid"), {}
    return None


def server_error_body(request) -> dict:
    request_id = getattr(request, "request_id", "") if request is not None else ""
    body = error_body("Something went wrong on our side; it has been logged.", "server_error")
    body["request_id"] = request_id
    return body


def unavailable_body(request) -> dict:
    body = error_body(
        "The database is unavailable for a moment; retry after the given seconds.",
        "unavailable",
    )
    body["request_id"] = getattr(request, "request_id", "") if request is not None else ""
    return body


def exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: every error, known or not, answers JSON."""
    request = context.get("request")
    django_request = getattr(request, "_request", request)
    if database_unavailable(exc):
        # The middleware outside the tenant's transaction discards the connection.
        django_request.csp_database_unavailable = True
        transaction.set_rollback(True)
        return Response(
            unavailable_body(django_request),
            status=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    mapped = body_for(exc)
    if mapped is None:
        logger.error(
            "Unhandled API error [request %s]",
            getattr(django_request, "request_id", "-"),
            exc_info=exc,
        )
        transaction.set_rollback(True)
        return Response(server_error_body(django_request), status=500)
    status_code, body, headers = mapped
    if isinstance(exc, DataError):
        transaction.set_rollback(True)  # the statement aborted the transaction
    return Response(body, status=status_code, headers=headers)


def json_error(request, status_code: int, detail: str, code: str) -> JsonResponse:
    """For answers made outside DRF (unknown routes, middleware errors)."""
    body = server_error_body(request) if status_code >= 500 else error_body(detail, code)
    return JsonResponse(body, status=status_code)


def error_response(
    status_code: int, detail: str, code: str, fields: dict | None = None, headers=None
) -> Response:
    """For views that answer an error without raising (ingestion logs them)."""
    return Response(error_body(detail, code, fields), status=status_code, headers=headers)
