"""Segment-compatible ingestion: /v1/track, /v1/identify, /v1/group, /v1/batch.

Stock clients send the tenant API key as the Basic-auth user, may gzip the
body, drop a batch on any 4xx and retry on 429/5xx; so one bad message is a
200 with a reason, never a 4xx for the whole batch.
"""

from __future__ import annotations

import gzip
import zlib

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from csplatform.api.base import TenantAPIView
from csplatform.api.exceptions import error_response
from csplatform.api.parsers import loads
from csplatform.tenancy.models import Role
from health.api.ingestion import IngestionLogged
from health.api.views import RawJSONParser, raw_body, throttled
from health.models import IngestionSource
from health.segment import segment_messages_record


def _body(request) -> bytes | Response:
    # The compressed body is capped at the limit as well (read while
    # counting, chunked or not); a gzip body larger than the limit cannot
    # inflate to less but by gzip's few bytes of framing.
    raw = raw_body(request)
    if isinstance(raw, Response):
        return raw
    if request.headers.get("Content-Encoding", "").lower() == "gzip":
        try:
            # Cap the inflated size as well: a small gzip can be a very large body.
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            raw = inflater.decompress(raw, settings.USAGE_MAX_BODY_BYTES + 1)
        except (zlib.error, gzip.BadGzipFile):
            return error_response(400, "The body is not valid gzip.", "parse_error")
    if len(raw) > settings.USAGE_MAX_BODY_BYTES:
        return error_response(
            413, f"Body larger than {settings.USAGE_MAX_BODY_BYTES} bytes.", "too_large"
        )
    return raw


@extend_schema(exclude=True)  # Segment's own spec documents these
class SegmentView(IngestionLogged, TenantAPIView):
    parser_classes = [RawJSONParser]
    write_role = Role.CSM
    ingestion_source = IngestionSource.SEGMENT
    message_type: str | None = None  # None: a batch

    def post(self, request):
        limited = throttled(request)
        if limited is not None:
            return limited
        raw = _body(request)
        if isinstance(raw, Response):
            return raw
        try:
            body = loads(raw or b"null", check=False)
        except (ValueError, UnicodeDecodeError):
            return error_response(400, "The body is not valid JSON.", "parse_error")
        if not isinstance(body, dict):
            return error_response(400, "The body must be a JSON object.", "parse_error")
        if self.message_type is None:
            messages = body.get("batch")
            if not isinstance(messages, list):
                message = "A list of messages is required."
                return error_response(400, message, "invalid", {"batch": [message]})
        else:
            messages = [{**body, "type": self.message_type}]
        if len(messages) > settings.USAGE_MAX_BATCH:
            message = f"At most {settings.USAGE_MAX_BATCH} messages per request."
            return error_response(413, message, "too_large", {"batch": [message]})
        result = segment_messages_record(messages=messages)
        return Response({"success": True, **result.as_dict()}, status=200)
