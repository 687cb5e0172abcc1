"""The input layer for JSON bodies: parsed once, with limits a hostile body
cannot get past. Every string (keys and values, at any depth) is free of NUL
and lone surrogates, numbers are finite and fit a bigint, nesting is at most
MAX_DEPTH, and the body is at most API_MAX_BODY_BYTES (413 above). A refusal
names the field by its dotted path."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from django.conf import settings
from django.http import UnreadablePostError
from rest_framework import exceptions
from rest_framework.parsers import JSONParser

from csplatform.api import strict
from csplatform.api.exceptions import PayloadTooLarge

MAX_DEPTH = 32
BIGINT = 2**63 - 1
_BAD_CHARS = re.compile("[\x00\ud800-\udfff]")


class UnsafeValue(ValueError):
    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.path = path
        self.message = message


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows.")


def text_problem(value: str) -> str | None:
    """Why a string cannot be stored, or None."""
    found = _BAD_CHARS.search(value)
    if found is None:
        return None
    return "Contains a NUL character." if found.group() == "\x00" else "Contains invalid text."


def check_value(data: Any, path: str = "", *, max_depth: int = MAX_DEPTH) -> None:
    """Walk `data` (without recursion) and raise UnsafeValue at the first bad spot."""
    stack: list[tuple[Any, str, int]] = [(data, path, 0)]
    while stack:
        value, at, depth = stack.pop()
        if isinstance(value, str):
            problem = text_problem(value)
            if problem:
                raise UnsafeValue(at, problem)
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int):
            if not -BIGINT <= value <= BIGINT:
                raise UnsafeValue(at, "The number is out of range.")
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise UnsafeValue(at, "The number must be finite.")
        elif isinstance(value, dict | list):
            if depth >= max_depth:
                raise UnsafeValue(at, f"Nested more than {max_depth} levels deep.")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                # An empty key is named "" (the empty path is the body itself).
                key_text = str(key) or '""'
                child = f"{at}.{key_text}" if at else key_text
                if isinstance(key, str):
                    problem = text_problem(key)
                    if problem:
                        raise UnsafeValue(at or "body", f"A key {problem[0].lower()}{problem[1:]}")
                stack.append((item, child, depth + 1))


def loads(raw: bytes | str, *, max_depth: int = MAX_DEPTH, check: bool = True) -> Any:
    """json.loads with the limits above; ValueError / UnsafeValue on refusal.

    With `check=False` (ingestion, which refuses bad events one by one rather
    than the whole batch) NaN and Infinity parse as floats and nothing is
    walked: the caller runs `check_value` on each item."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    constant = _refuse_constant if check else float
    try:
        # 1e999999 parses to inf, which check_value then refuses by its path.
        data = json.loads(raw, parse_constant=constant)
    except RecursionError as exc:
        raise UnsafeValue("", f"Nested more than {max_depth} levels deep.") from exc
    if check:
        check_value(data, max_depth=max_depth)
    return data


def read_limited(stream, limit: int) -> bytes:
    """Read at most `limit` bytes from `stream`; PayloadTooLarge beyond."""
    if stream is None:
        return b""
    raw = stream.read(limit + 1)
    if len(raw) > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    return raw


def _read_to_end(stream, limit: int) -> bytes:
    """Read until the stream ends, but never more than limit + 1 bytes."""
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = stream.read(min(64 * 1024, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    return b"".join(chunks)


def read_body(request, limit: int) -> bytes:
    """The raw body of a Django request, at most `limit` bytes (PayloadTooLarge
    beyond), read once and never more than limit + 1 bytes into memory.

    Django reads CONTENT_LENGTH bytes, and none without it, so a body sent
    with `Transfer-Encoding: chunked` would read as empty (DRF's stream too:
    it is None without a length). A server that decodes chunked bodies and
    ends the input by itself says so with `wsgi.input_terminated` (gunicorn
    does); then the body is read from the input to its end. A declared
    length over the limit is refused before anything is read."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    if length:
        return _read_to_end(request, limit)  # Django's stream stops at the length
    if request.META.get("wsgi.input_terminated") and "wsgi.input" in request.META:
        try:
            return _read_to_end(request.META["wsgi.input"], limit)
        except PayloadTooLarge:
            raise
        except Exception as exc:
            # A malformed chunked body: the server raises its own parse
            # errors (gunicorn's are not OSErrors). The client's fault.
            raise UnreadablePostError(f"The chunked body could not be read: {exc}") from exc
    return b""


# What this parser returns is read by the fields strictly (csplatform.api.strict).
strict.install()


class SafeJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        raw = read_limited(stream, settings.API_MAX_BODY_BYTES)
        if not raw.strip():
            return strict.mark({})
        try:
            return strict.mark(loads(raw))
        except UnsafeValue as exc:
            if exc.path:
                raise exceptions.ValidationError({exc.path: [exc.message]}) from exc
            raise exceptions.ParseError(exc.message) from exc
        except (ValueError, UnicodeDecodeError) as exc:
            raise exceptions.ParseError(f"The body is not valid JSON: {exc}") from exc
