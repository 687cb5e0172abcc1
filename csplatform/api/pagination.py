from __future__ import annotations

from rest_framework import exceptions
from rest_framework.pagination import PageNumberPagination

from csplatform.api.parsers import BIGINT


class Pagination(PageNumberPagination):
    """Page numbers from 1 and page sizes from 1 to max_page_size. DRF would
    quietly read a bad value as the default; here it is a 400 naming the
    parameter, as the schema says. A page past the last is a 404."""

    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        return _whole(raw, self.page_size_query_param, self.max_page_size)

    def get_page_number(self, request, paginator):
        raw = request.query_params.get(self.page_query_param)
        return 1 if raw is None else _whole(raw, self.page_query_param, BIGINT)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            limits = {"minimum": 1, "maximum": BIGINT}
            if parameter["name"] == self.page_size_query_param:
                limits = {"minimum": 1, "maximum": self.max_page_size}
            parameter["schema"].update(limits)
        return parameters


def _whole(raw: str, name: str, most: int) -> int:
    try:
        value = int(raw) if raw.strip().isdigit() else None
    except ValueError:
        value = None
    if value is None or not 1 <= value <= most:
        raise exceptions.ValidationError({name: [f"A whole number from 1 to {most}."]})
    return value
