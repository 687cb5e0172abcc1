"""When PostgreSQL restarts or drops connections: 503 with Retry-After, never
a 500 or a 4xx, and the broken connection is thrown away so the next
request connects afresh.

A connection that is gone shows up anywhere: in the tenant middleware's API
key lookup, in a view's statement, or in the commit of the request's
transaction when the tenant middleware's atomic block ends (after the view
has built its 200). Django turns an exception escaping any middleware into
a 500 right where it happens (each middleware is wrapped), so no outer
`try` can see it; instead `got_request_exception` marks the request, and
`DatabaseUnavailableMiddleware`, outside the tenant middleware, answers 503
in place of the 500 that came out. DRF views map the error themselves
(csplatform.api.exceptions). A commit that failed never answers 200: its
response is dropped with the exception. Whether that commit reached the
server is unknown, so clients retry, and message ids make the retry safe.
"""

from __future__ import annotations

import logging
import sys

from django.core.signals import got_request_exception
from django.db import connections
from django.http import HttpResponse, JsonResponse

from csplatform.api.exceptions import RETRY_AFTER_SECONDS, database_unavailable, unavailable_body

logger = logging.getLogger("csplatform.request")

_API_PREFIXES = ("/api/", "/v1/")


def unavailable_response(request) -> HttpResponse:
    """For pages and the API alike; nothing here touches the database."""
    if request.path_info.startswith(_API_PREFIXES):
        response = JsonResponse(unavailable_body(request), status=503)
    else:
        response = HttpResponse(
            "<!doctype html><title>Unavailable</title><h1>Unavailable for a moment</h1>"
            "<p>The database cannot be reached; try again in a few seconds.</p>",
            status=503,
        )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def discard_broken_connections() -> None:
    """Close every connection outside a transaction, so the next use reconnects
    instead of finding a dead one (CONN_MAX_AGE keeps them between requests)."""
    for conn in connections.all(initialized_only=True):
        if not conn.in_atomic_block:
            conn.close()


def _mark(sender, request=None, **kwargs) -> None:
    # Sent by Django inside its `except` block: the exception is the current one.
    if request is not None and database_unavailable(sys.exc_info()[1]):
        request.csp_database_unavailable = True


got_request_exception.connect(_mark, dispatch_uid="csplatform.api.unavailable")


class DatabaseUnavailableMiddleware:
    """Outside the tenant middleware: a request that failed because the
    database is gone answers 503 with Retry-After, whatever raised."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.csp_database_unavailable = False
        response = self.get_response(request)
        if request.csp_database_unavailable:
            discard_broken_connections()
            if response.status_code != 503:  # the API's handler answered it already
                logger.warning(
                    "Database unavailable [request %s]: answered 503",
                    getattr(request, "request_id", "-"),
                )
                response = unavailable_response(request)
        return response
