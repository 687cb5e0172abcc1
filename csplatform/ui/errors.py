"""Request-wide error plumbing for pages and the API alike.

- RequestIdMiddleware gives every request an id (or keeps a sane
  `X-Request-ID`), returns it in the response header, and puts it in 5xx
  bodies and the log line of the traceback.
- InputGuardMiddleware refuses NUL characters in the path, the query string
  and form posts before anything can pass them to PostgreSQL (400 naming the
  parameter), and maps domain errors that escape a page view once: 422 with
  the field messages, 409 with the reason, 403, 404.
- The handler400/403/404/500 views answer JSON under the API prefixes, so
  `/api/` never answers HTML, in DEBUG or production.
"""

from __future__ import annotations

import logging
import re
import uuid

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.views import defaults

from csplatform.api.exceptions import body_for, error_body, json_error
from csplatform.api.parsers import text_problem
from csplatform.errors import DomainError

logger = logging.getLogger("csplatform.request")

API_PREFIXES = ("/api/", "/v1/")
_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def is_api(request) -> bool:
    return request.path_info.startswith(API_PREFIXES)


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get("X-Request-ID", "")
        request.request_id = given if _SANE_ID.match(given) else uuid.uuid4().hex
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response


def _bad_item(items) -> tuple[str, str] | None:
    for key, values in items:
        for value in [key, *values]:
            problem = text_problem(value)
            if problem:
                return (key if value is not key else "query"), problem
    return None


def _path_part(path: str) -> str:
    """The URL parameter a bad character sits in, e.g. `external_id`."""
    try:
        match = resolve(path)
    except Resolver404:
        return "path"
    for name, value in match.kwargs.items():
        if isinstance(value, str) and text_problem(value):
            return name
    return "path"


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _input_problem(request) -> tuple[int, str, str] | None:
    """(status, field, message) of the first string that cannot be stored."""
    problem = text_problem(request.path_info)
    if problem:
        return 400, _path_part(request.path_info), problem
    found = _bad_item(request.GET.lists())
    if found:
        return 400, *found
    form_post = request.method == "POST" and (request.content_type or "").startswith(FORM_TYPES)
    if form_post and not is_api(request):
        found = _bad_item(request.POST.lists())
        if found:
            # A form post: the pages' form-error status, with the field named.
            return 422, found[0], "Remove the NUL character."
    return None


class InputGuardMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            problem = _input_problem(request)
        except RequestDataTooBig:
            problem = None  # the view's own read answers 413
        if problem is not None:
            status, field, message = problem
            body = error_body(f"{field}: {message}", "invalid", {field: [message]})
            return _page_or_json(request, status, body)
        return self.get_response(request)

    def process_exception(self, request, exception):
        if is_api(request) or not isinstance(
            exception, DomainError | DjangoValidationError | PermissionDenied | Http404
        ):
            return None  # DRF answers the API; Django's handlers the rest
        mapped = body_for(exception)
        if mapped is None:
            return None
        status, body, _ = mapped
        if isinstance(exception, DjangoValidationError):
            status = 422  # the pages' form-error status (csplatform.ui.access)
        return _page_or_json(request, status, body)


def _page_or_json(request, status: int, body: dict):
    if is_api(request):
        return JsonResponse(body, status=status)
    template = "ui/_error.html" if request.headers.get("HX-Request") else "error.html"
    return render(request, template, {"error": body, "status": status}, status=status)


# handler400/403/404/500 (csplatform.urls): JSON under the API, pages elsewhere.


def bad_request(request, exception=None):
    if isinstance(exception, RequestDataTooBig):
        if is_api(request):
            return json_error(request, 413, "The request body is too large.", "too_large")
        return render(request, "error.html", _ctx(413, "The request is too large."), status=413)
    if is_api(request):
        return json_error(request, 400, "Bad request.", "bad_request")
    return defaults.bad_request(request, exception)


def permission_denied(request, exception=None):
    if is_api(request):
        return json_error(request, 403, str(exception or "") or "Forbidden.", "forbidden")
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception=None):
    if is_api(request):
        detail = "No such route or object."
        if not request.path_info.endswith("/"):
            detail += " API routes end with a slash."
        return json_error(request, 404, detail, "not_found")
    return defaults.page_not_found(request, exception)


def server_error(request):
    logger.error("Server error [request %s]", getattr(request, "request_id", "-"))
    if is_api(request):
        return json_error(request, 500, "", "server_error")
    # Django's plain page: rendering the shell could query a broken transaction.
    return defaults.server_error(request)


def _ctx(status: int, detail: str) -> dict:
    return {"error": error_body(detail, "error"), "status": status}
