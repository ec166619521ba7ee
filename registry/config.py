"""Configuration defaults. Read by `create_app`; never read at import time."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent


class Defaults:
    """Defaults for every key; the environment (`REGISTRY_*`, `DATABASE_URL`) and the factory's overrides win."""

    DATABASE_URL: str | None = None
    """SQLAlchemy URL. None means a SQLite file `registry.sqlite3` under the instance folder.
    PostgreSQL: `postgresql+psycopg://postgres@127.0.0.1:5432/DBNAME`."""

    SECRET_KEY: str | None = None
    """Signs sessions and cursors. Required outside TESTING/DEBUG; `make run` generates one under instance/."""

    MAX_CONTENT_LENGTH: int = 2 * 1024 * 1024
    """Largest request body accepted, in bytes; larger bodies get 413 problem+json."""

    PAGE_SIZE_DEFAULT: int = 50
    """Items per page when a list request gives no `limit`."""

    PAGE_SIZE_MAX: int = 200
    """Largest `limit` a list request may ask for; more is refused with 400, not silently capped."""

    CATALOGUE_PATH: str = str(PACKAGE_DIR / "catalogue")
    """Folder of the catalogue YAML files loaded by `registry init`."""

    CLOCK_SKEW_DAYS: int = 1
    """How far in the future an `issued_on` date may lie (time zones), in days."""

    IDEMPOTENCY_TTL_HOURS: int = 24 * 7
    """How long a stored Idempotency-Key answer is replayed."""

    SQL_ECHO: bool = False
    """Log every SQL statement (debugging only)."""

    PUBLIC_URL: str | None = None
    """The registry's public address (e.g. `https://registry.example.org`), printed in the QR codes of report pages;
    None: the address the request came to."""

    SESSION_COOKIE_SECURE: bool = False
    """Send the log-in cookie over HTTPS only. Set `REGISTRY_SESSION_COOKIE_SECURE=true` behind TLS."""

    SESSION_COOKIE_NAME = "registry_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    PERMANENT_SESSION_LIFETIME: int = 8 * 3600
    """How long a log-in lasts, in seconds (a working day)."""

    WTF_CSRF_TIME_LIMIT: int = 8 * 3600
    """How long a form's CSRF token stays valid, in seconds."""

    BABEL_DEFAULT_LOCALE = "en"
    BABEL_DEFAULT_TIMEZONE = "UTC"

    CONTENT_SECURITY_POLICY: str = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
    """The pages' Content-Security-Policy: no inline script or style, nothing from other hosts."""

    API_DOCS_CONTENT_SECURITY_POLICY: str = (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
    """The API reference page's policy: Redoc injects styles and runs a worker from a blob."""

    API_TITLE = "Charging-certification mutual-recognition registry"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.1.0"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_REDOC_PATH = "/docs"
    OPENAPI_REDOC_URL = "/static/vendor/redoc.standalone.js"
    OPENAPI_SWAGGER_UI_PATH = None
    JSON_SORT_KEYS = False


def from_environment(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Collect settings from the environment: `DATABASE_URL`, `SECRET_KEY` and any `REGISTRY_<KEY>`."""
    environ = os.environ if environ is None else environ
    found: dict[str, Any] = {}
    for key in ("DATABASE_URL", "SECRET_KEY"):
        if environ.get(key):
            found[key] = environ[key]
    return found
