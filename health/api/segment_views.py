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
from rest_framework import status
from rest_framework.response import Response

from csplatform.api.base import TenantAPIView
from csplatform.api.parsers import loads
from csplatform.tenancy.models import Role
from health.api.ingestion import IngestionLogged
from health.api.views import RawJSONParser, throttled
from health.models import IngestionSource
from health.segment import segment_messages_record


def _body(request) -> bytes | Response:
    raw = request.data or b""
    if request.headers.get("Content-Encoding", "").lower() == "gzip":
        try:
            # Cap the inflated size as well: a small gzip can be a very large body.
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            raw = inflater.decompress(raw, settings.USAGE_MAX_BODY_BYTES + 1)
        except (zlib.error, gzip.BadGzipFile):
            return Response({"detail": "The body is not valid gzip."}, status=400)
    if len(raw) > settings.USAGE_MAX_BODY_BYTES:
        return Response(
            {"detail": f"Body larger than {settings.USAGE_MAX_BODY_BYTES} bytes."},
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
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
            return Response({"detail": "The body is not valid JSON."}, status=400)
        if not isinstance(body, dict):
            return Response({"detail": "The body must be a JSON object."}, status=400)
        if self.message_type is None:
            messages = body.get("batch")
            if not isinstance(messages, list):
                return Response({"batch": ["A list of messages is required."]}, status=400)
        else:
            messages = [{**body, "type": self.message_type}]
        if len(messages) > settings.USAGE_MAX_BATCH:
            return Response(
                {"batch": [f"At most {settings.USAGE_MAX_BATCH} messages per request."]},
                status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            )
        result = segment_messages_record(messages=messages)
        return Response({"success": True, **result.as_dict()}, status=200)
