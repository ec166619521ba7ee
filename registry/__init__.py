"""The registry's application factory: configuration, database, blueprints, error handlers, CLI. Wiring only."""

from __future__ import annotations

import copy
import gzip
import os
from pathlib import Path
from typing import Any, Mapping

import orjson
from flask import Flask, g, redirect, request, url_for
from flask.json.provider import JSONProvider
from flask.sessions import SecureCookieSessionInterface
from flask_babel import Babel
from flask_smorest import Api
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import BadRequest as HTTPBadRequest, HTTPException

from registry import collector, contracts, db
from registry.config import Defaults, from_environment


class ORJSONProvider(JSONProvider):
    """Flask's JSON through orjson: several times faster to serialize, dates as ISO 8601."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return orjson.loads(s)


# The largest registry id: ids are 32-bit integers on PostgreSQL.
MAX_ID = 2**31 - 1


def _wants_problem() -> bool:
    return request.path.startswith(("/api/", "/schemas"))


class RegistryApi(Api):
    """flask-smorest's Api with RFC 9457 problem+json in place of its default error body."""

    def handle_http_exception(self, error: HTTPException):
        from registry.api import problems
        from registry.web import html_error

        return problems.from_http_exception(error) if _wants_problem() else html_error(error.code or 500, error.description)

    def _register_responses(self):
        """Document every error response as what it is: application/problem+json with the Problem schema."""
        from registry.api.problems import register_problem_responses

        register_problem_responses(self.spec)


class PagesSessionInterface(SecureCookieSessionInterface):
    """Signed cookie sessions for the pages' log-in only. The API authenticates by bearer key and never reads or sets
    a cookie, so its requests get Flask's null session instead of unsigning and re-serializing one."""

    def open_session(self, app: Flask, request: Any) -> Any:
        if request.path.startswith("/api/"):
            return self.make_null_session(app)
        return super().open_session(app, request)


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Create the registry app: defaults, then the environment, then `overrides`."""
    app = Flask(__name__, instance_relative_config=True)
    app.json = ORJSONProvider(app)
    app.session_interface = PagesSessionInterface()
    app.config.from_object(Defaults)
    app.config.update(from_environment())
    app.config.from_prefixed_env("REGISTRY")
    if overrides:
        app.config.update(overrides)
    if not app.config.get("DATABASE_URL"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        app.config["DATABASE_URL"] = f"sqlite:///{os.path.join(app.instance_path, 'registry.sqlite3')}"
    if not app.config.get("SECRET_KEY"):
        if not (app.config.get("TESTING") or app.debug):
            raise RuntimeError("SECRET_KEY is not set: export SECRET_KEY (or REGISTRY_SECRET_KEY); `make run` makes one.")
        app.config["SECRET_KEY"] = "insecure-test-key"

    db.init_app(app)
    # Each request runs with Python's cycle collector paused (see registry/collector.py).
    app.wsgi_app = collector.pausing_wsgi(app.wsgi_app)  # type: ignore[method-assign]

    api = RegistryApi(app, spec_kwargs=_spec_kwargs())
    from registry.api import bp as api_bp
    from registry.api import problems
    from registry.api.published_schemas import bp as schemas_bp
    from registry.errors import NotFound, RegistryError
    from registry.web import bp as web_bp
    from registry.web import html_error

    api.register_blueprint(api_bp)
    app.register_blueprint(schemas_bp)
    app.register_blueprint(web_bp)

    # Pages: English and Simplified Chinese (compiled catalogues in registry/translations), forms with CSRF tokens.
    # The API authenticates by bearer key, never by cookie, so it needs no CSRF token.
    from registry.web import language

    Babel(app, locale_selector=language)
    csrf = CSRFProtect(app)
    csrf.exempt(api_bp)
    csrf.exempt(schemas_bp)
    app.after_request(_page_headers)

    from registry.errors import BadRequest, Unauthenticated, Violation

    @app.before_request
    def _refuse_impossible_ids() -> None:
        # Registry ids are 32-bit integers on PostgreSQL: a larger one names nothing, on a page as in the API,
        # and must not reach the database (SQLite and psycopg both fail on it).
        for name, value in (request.view_args or {}).items():
            if isinstance(value, int) and not 0 < value <= MAX_ID:
                raise NotFound(f"No such {name.replace('_', ' ')}: {value}.")

    @app.before_request
    def _refuse_nul_characters() -> None:
        # PostgreSQL text and JSONB cannot hold U+0000: such input is refused up front, naming where it was, on
        # both engines alike, instead of failing in the database (a 500 on PostgreSQL only).
        mimetype = request.mimetype or ""
        sources = [("query", request.args)]
        if mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            sources.append(("form", request.form))
        for location, values in sources:
            for name, value in values.items(multi=True):
                if "\x00" in name or "\x00" in value:
                    refused = HTTPBadRequest("A parameter holds a NUL character (U+0000), which the registry "
                                             "does not accept.")
                    refused.data = {"messages": {location: {name.replace("\x00", ""): ["contains U+0000"]}}}
                    raise refused
        body = request.get_data(cache=True) if mimetype.endswith("json") else b""
        if b"\\u0000" in body:
            try:
                pointer = contracts.nul_pointer(orjson.loads(body))
            except orjson.JSONDecodeError:
                return  # the endpoint answers 400 for the unparsable body itself
            if pointer is not None:
                raise BadRequest("The body holds a NUL character (U+0000), which the registry does not accept.",
                                 [Violation(pointer, "contains U+0000")])

    @app.errorhandler(RegistryError)
    def _registry_error(exc: RegistryError):
        if _wants_problem():
            return problems.from_registry_error(exc)
        if isinstance(exc, Unauthenticated):
            return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
        return html_error(problems.PROBLEM_TYPES.get(type(exc), (500, ""))[0], exc.detail)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return api.handle_http_exception(exc)
        if _wants_problem():
            return problems.from_unexpected(exc)
        app.logger.exception("unhandled error", exc_info=exc)
        return html_error(500, "The registry failed to handle this request; nothing was changed.")

    from registry import cli

    cli.init_app(app)
    return app


COMPRESSIBLE = ("text/html", "text/csv", "text/css", "image/svg+xml")


def _page_headers(response):
    """Security headers on every response; cache rules and gzip for the pages (slow links)."""
    from flask import current_app, session

    config = current_app.config
    docs = request.path == config["OPENAPI_URL_PREFIX"] + config["OPENAPI_REDOC_PATH"]
    response.headers.setdefault(
        "Content-Security-Policy", config["API_DOCS_CONTENT_SECURITY_POLICY" if docs else "CONTENT_SECURITY_POLICY"])
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if _wants_problem():
        return response
    lang = request.args.get("lang")
    if lang in ("en", "zh") and request.cookies.get("registry_lang") != lang:
        response.set_cookie("registry_lang", lang, max_age=365 * 24 * 3600, samesite="Lax", httponly=True,
                            secure=config.get("SESSION_COOKIE_SECURE", False))
    if request.endpoint == "static":
        if request.args.get("v"):  # the URL carries the content hash: it never changes
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    elif response.mimetype in ("text/html", "text/csv"):
        response.vary.update(("Cookie", "Accept-Language"))
        private = g.get("account") is not None or session.get("uid") or response.mimetype == "text/csv"
        response.headers["Cache-Control"] = "private, no-store" if private else "public, max-age=60"
    if (response.mimetype in COMPRESSIBLE and not response.direct_passthrough and response.status_code == 200
            and "gzip" in request.headers.get("Accept-Encoding", "") and "Content-Encoding" not in response.headers):
        body = response.get_data()
        if len(body) > 1024:
            response.set_data(gzip.compress(body, compresslevel=6))
            response.headers["Content-Encoding"] = "gzip"
            response.vary.add("Accept-Encoding")
    return response


def _spec_kwargs() -> dict[str, Any]:
    """Put the published report schema and the problem shape into the OpenAPI components."""
    report = copy.deepcopy(contracts.schema_document("test-report/v1"))
    report.pop("$schema", None)
    report.pop("$id", None)
    base = "#/components/schemas/TestReportV1"
    _rebase_refs(report, base)
    problem = {
        "type": "object",
        "description": "RFC 9457 problem details. `errors` names each bad field by a JSON pointer into the body "
        "(or, for query parameters, by `parameter`).",
        "properties": {
            "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
            "detail": {"type": "string"}, "instance": {"type": "string"},
            "errors": {"type": "array", "items": {"type": "object", "properties": {
                "pointer": {"type": "string"}, "parameter": {"type": "string"}, "in": {"type": "string"},
                "message": {"type": "string"}}}},
        },
        "required": ["type", "title", "status"],
    }
    return {
        "components": {
            "schemas": {"TestReportV1": report, "Problem": problem},
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "description": "A lab's API key"}},
        },
        "info": {"description": "Labs submit EV-charger test reports; everyone reads the catalogue and report summaries."},
    }


def _rebase_refs(node: Any, base: str) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            node["$ref"] = base + ref[1:]
        for value in node.values():
            _rebase_refs(value, base)
    elif isinstance(node, list):
        for value in node:
            _rebase_refs(value, base)
