"""Read a JSON request body ourselves, so every failure is a precise problem and the parse is fast (orjson)."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from flask import request

from registry.errors import BadRequest, UnsupportedMediaType, Violation


def json_body() -> tuple[Any, bytes]:
    """Return the parsed body and its raw bytes; 415 unless the media type is JSON, 400 unless it parses."""
    mimetype = request.mimetype or ""
    if not (mimetype == "application/json" or mimetype.endswith("+json")):
        raise UnsupportedMediaType(f"Send the body as application/json (got '{mimetype or 'none'}').")
    raw = request.get_data(cache=True)  # raises 413 past MAX_CONTENT_LENGTH
    try:
        return orjson.loads(raw), raw
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"The body is not valid JSON: {exc}", [Violation("", str(exc))]) from exc


def request_fingerprint(raw: bytes) -> str:
    return hashlib.sha256(request.method.encode() + b" " + request.path.encode() + b"\n" + raw).hexdigest()
