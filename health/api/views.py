"""POST /api/v1/events: one event, a list, or {"batch": [...]}."""

from __future__ import annotations

from django.conf import settings
from django.http import UnreadablePostError
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import UnsupportedMediaType
from rest_framework.parsers import BaseParser
from rest_framework.response import Response

from csplatform.api.base import TenantAPIView
from csplatform.api.exceptions import PayloadTooLarge, error_response
from csplatform.api.parsers import loads, read_body
from csplatform.tenancy.models import Role
from health.api.ingestion import IngestionLogged
from health.models import IngestionSource
from health.ratelimit import rate_limit_hit
from health.services import usage_batch_record
from health.services.usage import MAX_NAME


class RawJSONParser(BaseParser):
    """Declares the media type for the schema; the views read the body
    themselves (`raw_body`), as DRF's stream is empty for a chunked body."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        return stream.read() if stream is not None else b""


def raw_body(request) -> bytes | Response:
    """The request's raw body, or the 413/400 that refuses it. Read while
    counting: a chunked body (no Content-Length) stops at the limit too."""
    limit = settings.USAGE_MAX_BODY_BYTES
    try:
        raw = read_body(request._request, limit)
    except PayloadTooLarge:
        return error_response(413, f"Body larger than {limit} bytes.", "too_large")
    except UnreadablePostError:
        return error_response(400, "The body could not be read.", "parse_error")
    if raw and request.negotiator.select_parser(request, request.parsers) is None:
        raise UnsupportedMediaType(request.content_type)  # as DRF's request.data would
    return raw


def throttled(request) -> Response | None:
    """429 with Retry-After once the caller's key is over its limit."""
    django_request = request._request
    who = (
        f"key:{django_request.api_key.pk}"
        if django_request.api_key is not None
        else f"user:{request.user.pk}"
    )
    verdict = rate_limit_hit(
        key=f"ingest:{who}",
        limit=settings.USAGE_RATE_LIMIT,
        window_seconds=settings.USAGE_RATE_WINDOW_SECONDS,
    )
    if verdict.allowed:
        return None
    return error_response(
        429,
        "Too many requests; retry after the given seconds.",
        "throttled",
        headers={"Retry-After": str(verdict.retry_after)},
    )


def _wrong_envelope(body: object) -> str | None:
    """The key of a batch sent under another name (`{"events": [...]}`), which
    would otherwise read as one event without a name."""
    if not isinstance(body, dict) or "batch" in body or "event" in body:
        return None
    return next((k for k, v in body.items() if isinstance(v, list) and k != "properties"), None)


def _events_of(body: object) -> list | None:
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        if "batch" in body:
            return body["batch"] if isinstance(body["batch"], list) else None
        return [body]
    return None


def _text(most: int, *, required: bool) -> dict:
    # A text, or a number read as its digits (some trackers send numeric ids).
    text = {"type": "string", "maxLength": most, **({"minLength": 1} if required else {})}
    return {"oneOf": [text, {"type": "integer"}], **({} if required else {"nullable": True})}


# What clean_event reads; an event it cannot store is rejected by index (the
# answer is still 200 for the others).
EVENT = {
    "type": "object",
    "required": ["account_id", "event"],
    "properties": {
        "account_id": {**_text(100, required=True), "description": "The account's external id"},
        "event": _text(MAX_NAME, required=True),
        "user_id": _text(MAX_NAME, required=False),
        "timestamp": {
            # Left out, null or "": when the event arrives.
            "oneOf": [{"type": "string", "format": "date-time"}, {"type": "string", "enum": [""]}],
            "nullable": True,
        },
        "properties": {"type": "object", "nullable": True, "additionalProperties": True},
        "message_id": {**_text(MAX_NAME, required=False), "description": "Makes retries safe"},
    },
}
_BATCH = {"type": "array", "items": EVENT, "minItems": 1, "maxItems": settings.USAGE_MAX_BATCH}
EVENTS_BODY = {
    "anyOf": [
        EVENT,
        _BATCH,
        {"type": "object", "required": ["batch"], "properties": {"batch": _BATCH}},
    ]
}


class _BodyRequired(AutoSchema):
    """The body is given as a plain JSON schema, which drf-spectacular marks
    optional; there is no batch without one."""

    def _get_request_body(self, direction="request"):
        body = super()._get_request_body(direction)
        if body:
            body["required"] = True
        return body


class UsageEventIngestView(IngestionLogged, TenantAPIView):
    schema = _BodyRequired()
    parser_classes = [RawJSONParser]
    write_role = Role.CSM
    ingestion_source = IngestionSource.EVENTS

    @extend_schema(
        summary="Record usage events",
        description=(
            'One event, a list of events, or {"batch": [...]}; at most '
            f"{settings.USAGE_MAX_BATCH} events or {settings.USAGE_MAX_BODY_BYTES} bytes. "
            "Each event: account_id (the account's external id), event, user_id, "
            "timestamp (ISO 8601), properties, message_id (makes retries safe). "
            "Valid events are stored even when others in the batch are rejected; "
            "rejected ones are listed by index with the reason."
        ),
        request={"application/json": EVENTS_BODY},
        responses={
            200: inline_serializer(
                "UsageBatchResult",
                {
                    "accepted": serializers.IntegerField(),
                    "duplicates": serializers.IntegerField(),
                    "rejected": serializers.ListField(child=serializers.DictField()),
                },
            )
        },
        examples=[
            OpenApiExample(
                "One event",
                value={"account_id": "sf-001", "event": "report_exported", "user_id": "u-7"},
                request_only=True,
            )
        ],
    )
    def post(self, request):
        limited = throttled(request)
        if limited is not None:
            return limited
        raw = raw_body(request)
        if isinstance(raw, Response):
            return raw
        try:
            body = loads(raw or b"null", check=False)
        except (ValueError, UnicodeDecodeError):
            return error_response(400, "The body is not valid JSON.", "parse_error")
        envelope = _wrong_envelope(body)
        if envelope is not None:
            message = f'Unknown envelope key "{envelope}": send a batch as {{"batch": [...]}}.'
            return error_response(400, message, "invalid", {envelope: [message]})
        events = _events_of(body)
        if events is None or not events:
            message = 'Send an event object, a list of events, or {"batch": [...]}.'
            return error_response(400, message, "invalid", {"batch": [message]})
        if len(events) > settings.USAGE_MAX_BATCH:
            message = f"At most {settings.USAGE_MAX_BATCH} events per request."
            return error_response(413, message, "too_large", {"batch": [message]})
        result = usage_batch_record(events=events)
        return Response(result.as_dict(), status=200)
