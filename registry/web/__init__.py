"""People-facing pages, server-rendered: public lookup, verification, manufacturer dashboards, regulator views.

The pages call the same services as the API with the logged-in person's organization as the principal; every
permission is decided there. No JavaScript: lookups are GET forms, changes are POST forms with a CSRF token.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, current_app, g, render_template, request, session, url_for
from babel.numbers import parse_pattern
from flask_babel import (
    format_date,
    format_datetime,
    format_decimal,
    format_percent,
    get_locale,
    refresh,
)
from flask_babel import lazy_gettext as _l

from registry.db import get_session
from registry.services import accounts

bp = Blueprint("web", __name__, template_folder="templates")

LANGUAGES = {"en": "English", "zh": "简体中文"}
HTML_LANG = {"en": "en", "zh": "zh-Hans"}
LANGUAGE_COOKIE = "registry_lang"

# One vocabulary for every badge: the code (for the CSS class) and its label in the reader's language.
LABELS = {
    "valid": _l("valid"), "revised": _l("revised"), "withdrawn": _l("withdrawn"), "outdated": _l("superseded edition"),
    "suspended": _l("suspended"), "cancelled": _l("cancelled"), "expired": _l("expired"), "superseded": _l("superseded"),
    "accessible": _l("accessible"), "accessible_with_conditions": _l("accessible with conditions"),
    "blocked": _l("blocked"), "recognized": _l("recognized"), "conditional": _l("conditional"),
    "retest": _l("retest"), "missing": _l("missing"), "owed": _l("still owed"), "draft": _l("draft"),
    "published": _l("published"), "submitted": _l("submitted"), "pass": _l("pass"), "fail": _l("fail"),
    "not_applicable": _l("not applicable"), "inconclusive": _l("inconclusive"), "acceptance": _l("acceptance rule"),
    "exclusion": _l("exclusion rule"), "full": _l("in full"), "lab": _l("lab"), "manufacturer": _l("manufacturer"),
    "regulator": _l("regulator"), "admin": _l("administrator"), "dc_charger": _l("DC charger"),
    "power_cabinet": _l("power cabinet"), "dispenser": _l("dispenser"), "liquid": _l("liquid"),
    "forced_air": _l("forced air"), "natural": _l("natural convection"), "certificate": _l("certificate expires"),
    "standard_superseded": _l("standard edition superseded"), "standard_withdrawn": _l("standard withdrawn"),
    "transition_ends": _l("transition period ends"), "acceptance_ends": _l("market stops accepting the edition"),
    "accreditation_expires": _l("lab accreditation expires"), "accreditation_suspended": _l("lab accreditation suspended"),
    "accreditation_withdrawn": _l("lab accreditation withdrawn"), "accreditation_expired": _l("lab accreditation expires"),
    "grant": _l("granted"), "suspend": _l("suspended"), "restore": _l("restored"), "withdraw": _l("withdrawn"),
    "expire": _l("expired"), "rescope": _l("scope changed"), "revised_event": _l("revised"),
}


def html_error(status: int, detail: str | None):
    return render_template("error.html", status=status, detail=detail), status


def language() -> str:
    """The reader's language: ?lang= on the URL, else the remembered choice, else the browser's preference."""
    wanted = request.args.get("lang") or request.cookies.get(LANGUAGE_COOKIE)
    if wanted in LANGUAGES:
        return wanted
    return request.accept_languages.best_match(list(LANGUAGES)) or "en"


@bp.before_app_request
def load_account() -> None:
    """Who is logged in (a signed session cookie), as an account and the services' principal."""
    # `g` outlives a request when an app context was already pushed (CLI, tests): never reuse another request's
    # CSRF token or language, which Flask-WTF and Flask-Babel cache there.
    g.pop("csrf_token", None)
    g.pop("_labels", None)
    refresh()
    g.account = None
    if "uid" in session and not request.path.startswith(("/api/", "/static/")):
        g.account = accounts.account_for_session(get_session(), session.get("uid"), session.get("tok"))
        if g.account is None:
            session.clear()
    g.principal = accounts.principal_of(g.account)


def current_url(**changes: Any) -> str:
    """This page's URL with some query parameters replaced (None removes one); facets and pages use it."""
    args = {k: v for k, v in request.args.items(multi=False)}
    for key, value in changes.items():
        if value is None or value == "":
            args.pop(key, None)
        else:
            args[key] = value
    query = urlencode(args)
    return request.path + (f"?{query}" if query else "")


def pick(value: Any) -> Any:
    """The reader's language from a {"en": ..., "zh": ...} text (English when the catalogue has no translation)."""
    if not isinstance(value, dict):
        return value
    lang = str(get_locale() or "en").split("_")[0]
    return value.get(lang) or value.get("en") or next((v for v in value.values() if v), "")


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def fmt_date(value: Any) -> str:
    day = _as_date(value)
    return format_date(day, "medium") if day else "—"


def fmt_datetime(value: Any) -> str:
    if not isinstance(value, datetime):
        return fmt_date(value)
    return format_datetime(value, "medium") + " UTC"


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def fmt_number(value: Any, digits: int = 0) -> str:
    if not _numeric(value):
        return "—"
    return format_decimal(value, format="#,##0" + ("." + "0" * digits if digits else ""))


_MONEY = parse_pattern("¤#,##0")


def fmt_money(value: Any, currency: str | None = "EUR") -> str:
    """An amount in whole currency units (the estimates are not precise to the cent), in the reader's locale."""
    if not _numeric(value):
        return "—"
    return _MONEY.apply(value, get_locale(), currency=currency or "EUR", currency_digits=False)


def fmt_percent(value: Any) -> str:
    return format_percent(value or 0, format="#,##0%")


@lru_cache(maxsize=64)
def _asset_version(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:10]


def asset(filename: str) -> str:
    """A static file's URL carrying a content hash, so it can be cached for a year."""
    return url_for("static", filename=filename, v=_asset_version(str(Path(current_app.static_folder) / filename)))


@bp.app_context_processor
def page_globals() -> dict[str, Any]:
    lang = str(get_locale() or "en").split("_")[0]
    return {
        "account": g.get("account"), "lang": lang, "html_lang": HTML_LANG.get(lang, "en"), "languages": LANGUAGES,
        "current_url": current_url, "labels": LABELS, "asset": asset,
    }


@bp.app_template_filter("loc")
def _loc(value: Any) -> Any:
    return pick(value)


for _name, _fn in {"date": fmt_date, "datetime": fmt_datetime, "number": fmt_number, "money": fmt_money,
                   "percent": fmt_percent}.items():
    bp.add_app_template_filter(_fn, _name)


@bp.app_template_filter("label")
def _label(code: Any) -> str:
    # Translated once per request: a dashboard shows hundreds of badges.
    labels = g.get("_labels")
    if labels is None:
        labels = g._labels = {key: str(text) for key, text in LABELS.items()}
    return labels.get(code, str(code) if code is not None else "—")


from registry.web import auth, dashboard, lookup, regulator  # noqa: E402,F401  (route modules register on bp)
