"""A URLconf for the database-outage tests: the real API plus endpoints whose
own connection the server drops, at a chosen moment of the request."""

from django.db import connection, connections
from django.urls import include, path
from rest_framework.response import Response

from csplatform.api.base import TenantAPIView
from health.services import usage_batch_record


def drop_my_connection() -> None:
    """Have another session end this one's backend, and wait until it is gone
    (the server's own word: pg_terminate_backend with a timeout waits)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s, 10000)", [pid])
            assert cursor.fetchone()[0], "the backend did not end"
    finally:
        other.close()


class DroppedMidRequest(TenantAPIView):
    """The connection goes away between two statements of the view."""

    def post(self, request):
        drop_my_connection()
        usage_batch_record(events=request.data)
        return Response({"stored": True})


class DroppedBeforeCommit(TenantAPIView):
    """The view has stored the batch and answers 200; the commit that the
    tenant middleware runs afterwards finds the connection gone."""

    def post(self, request):
        result = usage_batch_record(events=request.data)
        drop_my_connection()
        return Response(result.as_dict())


urlpatterns = [
    path("api/v1/dbgone/mid-request/", DroppedMidRequest.as_view()),
    path("api/v1/dbgone/before-commit/", DroppedBeforeCommit.as_view()),
    path("", include("csplatform.urls")),
]
