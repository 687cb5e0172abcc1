"""A URLconf for the error-contract tests: the real API plus endpoints that
fail the ways a bug would, so the one handler's answer can be checked."""

from django.db import connection
from django.urls import include, path
from rest_framework.response import Response

from csplatform.api.base import TenantAPIView
from csplatform.errors import Conflict


class FailedStatement(TenantAPIView):
    """A statement PostgreSQL refuses: the transaction is aborted afterwards."""

    def get(self, request):
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table_for_the_error_test")
        return Response({})


class PlainBug(TenantAPIView):
    def get(self, request):
        raise ZeroDivisionError("a bug in a view")


class Refused(TenantAPIView):
    def get(self, request):
        raise Conflict("The renewal is already closed.", code="renewal_closed", renewal_id=7)


def page_conflict(request, tenant_slug):
    raise Conflict("The renewal is already closed.", code="renewal_closed")


urlpatterns = [
    path("api/v1/boom/statement/", FailedStatement.as_view()),
    path("api/v1/boom/bug/", PlainBug.as_view()),
    path("api/v1/boom/refused/", Refused.as_view()),
    path("t/<slug:tenant_slug>/boom/conflict/", page_conflict),
    path("", include("csplatform.urls")),
]
