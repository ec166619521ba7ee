"""RFC 9457 problem details: one table maps the registry's exceptions to HTTP statuses."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from flask import Response, request
from werkzeug.exceptions import HTTPException

from registry import errors

log = logging.getLogger(__name__)

PROBLEM_TYPES: dict[type[errors.RegistryError], tuple[int, str]] = {
    errors.BadRequest: (400, "bad-request"),
    errors.Unauthenticated: (401, "unauthenticated"),
    errors.Forbidden: (403, "forbidden"),
    errors.NotFound: (404, "not-found"),
    errors.Conflict: (409, "conflict"),
    errors.PayloadTooLarge: (413, "payload-too-large"),
    errors.UnsupportedMediaType: (415, "unsupported-media-type"),
    errors.ContractViolation: (422, "contract-violation"),
    errors.SemanticViolation: (422, "semantic-violation"),
}

MEDIA_TYPE = "application/problem+json"


def problem_response(
    status: int, type_: str, title: str, detail: str, errors_: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": f"/problems/{type_}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.path,
    }
    if errors_:
        body["errors"] = errors_
    response = Response(orjson.dumps(body), status=status, mimetype=MEDIA_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="registry"'
    return response


def from_registry_error(exc: errors.RegistryError) -> Response:
    for cls in type(exc).__mro__:
        if cls in PROBLEM_TYPES:
            status, type_ = PROBLEM_TYPES[cls]
            break
    else:
        status, type_ = 500, "internal"
    return problem_response(
        status, type_, exc.title, exc.detail, [{"pointer": v.pointer, "message": v.message} for v in exc.violations]
    )


def _flatten(messages: Any, path: str = "") -> list[tuple[str, str]]:
    if isinstance(messages, dict):
        out = []
        for key, value in messages.items():
            out.extend(_flatten(value, f"{path}/{str(key).replace('~', '~0').replace('/', '~1')}"))
        return out
    if isinstance(messages, list) and messages and all(isinstance(m, str) for m in messages):
        return [(path, m) for m in messages]
    if isinstance(messages, list):
        return [pair for m in messages for pair in _flatten(m, path)]
    return [(path, str(messages))]


def from_http_exception(exc: HTTPException) -> Response:
    """Werkzeug and webargs errors (404 routes, 405, 413, unparsable bodies, argument validation) as problems."""
    status = exc.code or 500
    found: list[dict[str, Any]] = []
    messages = (getattr(exc, "data", None) or {}).get("messages")
    if messages:
        for location, fields in messages.items():
            for path, message in _flatten(fields):
                if location == "json":
                    found.append({"pointer": path, "message": message})
                else:  # query string, headers: name the parameter, a pointer would point into no document
                    found.append({"parameter": path.lstrip("/").split("/")[0], "in": location, "message": message})
    headers = {}
    if status == 405 and getattr(exc, "valid_methods", None):
        headers["Allow"] = ", ".join(exc.valid_methods)  # flask-smorest's own handler drops it
    names = {400: "bad-request", 404: "not-found", 405: "method-not-allowed", 413: "payload-too-large",
             415: "unsupported-media-type", 422: "invalid-parameters", 429: "too-many-requests"}
    detail = exc.description or exc.name
    if status == 413:
        detail = "The request body is larger than the registry accepts."
    return problem_response(status, names.get(status, f"http-{status}"), exc.name, detail, found, headers)


def from_unexpected(exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.path, exc_info=exc)
    return problem_response(500, "internal", "Internal server error",
                            "The registry failed to handle this request; nothing was changed. It has been logged.")


def register_problem_responses(spec) -> None:
    """OpenAPI response components for every HTTP status and the default error, as RFC 9457 problems."""
    import http

    problem = {"$ref": "#/components/schemas/Problem"}
    for status in http.HTTPStatus:
        response: dict = {"description": status.phrase}
        if not (100 <= status < 200) and status not in (204, 304):
            response["content"] = {MEDIA_TYPE: {"schema": problem}}
        spec.components.response(status.name, response, lazy=True)
    spec.components.response(
        "DEFAULT_ERROR", {"description": "An RFC 9457 problem", "content": {MEDIA_TYPE: {"schema": problem}}}, lazy=True
    )
