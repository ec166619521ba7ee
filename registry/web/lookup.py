"""Public pages (no log-in): search, product with its recognition matrix, explanations, reports, labs, verification."""

from __future__ import annotations

import io

import segno
from flask import Response, current_app, g, redirect, render_template, request, url_for

from registry.db import get_session
from registry.services import lookup
from registry.web import bp, charts, current_url


def _int_arg(name: str, default: int | None = None) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() else default


@bp.get("/")
def index():
    return render_template("index.html")


@bp.get("/search")
def search():
    session = get_session()
    facet = lookup.recognize(session, g.principal, request.args.get("q", "")[:200])
    if facet:  # an exact standard edition or lab: its facet's permalink
        return redirect(current_url(q=None, page=None, **facet))
    filters = lookup.parse_filters(session, request.args)
    view = lookup.search_page(session, g.principal, request.args.get("q", "")[:200], filters,
                              page=_int_arg("page", 1) or 1)
    return render_template("search.html", view=view)


@bp.get("/products/<int:product_id>")
def product(product_id: int):
    view = lookup.product_page(get_session(), g.principal, product_id)
    view["bars"] = charts.requirement_bars(view["recognition"]["markets"])
    return render_template("product.html", view=view)


@bp.get("/products/<int:product_id>/markets/<market>")
def explanation(product_id: int, market: str):
    view = lookup.explanation(get_session(), g.principal, product_id, market, request.args.get("status") or None)
    return render_template("explanation.html", view=view)


@bp.get("/reports/<int:report_id>")
def report(report_id: int):
    view = lookup.report_page(get_session(), g.principal, report_id, _int_arg("revision"))
    return render_template("report.html", view=view, verify_url=_verify_url(view))


def _verify_url(view) -> str:
    """What the QR code on a printed report resolves to: the verification page pinned to this document."""
    base = current_app.config.get("PUBLIC_URL")
    path = url_for("web.verify", number=view["report_number"], lab=view["lab"]["id"], rev=view["revision"],
                   sha=(view["document_sha256"] or "")[:16])
    return (base.rstrip("/") + path) if base else url_for("web.verify", _external=True, number=view["report_number"],
                                                          lab=view["lab"]["id"], rev=view["revision"],
                                                          sha=(view["document_sha256"] or "")[:16])


@bp.get("/reports/<int:report_id>/qr.svg")
def report_qr(report_id: int):
    view = lookup.report_page(get_session(), g.principal, report_id, _int_arg("revision"))
    buffer = io.BytesIO()
    segno.make(_verify_url(view), error="m").save(buffer, kind="svg", scale=4, border=2, dark="#000", light="#fff",
                                                  title="QR code: verify this report")
    response = Response(buffer.getvalue(), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.get("/labs")
def labs():
    return render_template("labs.html", view=lookup.labs_page(get_session(), g.principal))


@bp.get("/labs/<lab_id>")
def lab(lab_id: str):
    return render_template("lab.html", view=lookup.lab_page(get_session(), g.principal, lab_id))


@bp.get("/verify")
def verify():
    number = request.args.get("number", "")[:64]
    view = lookup.verify(get_session(), g.principal, number, request.args.get("lab") or None, _int_arg("rev"),
                         (request.args.get("sha") or "")[:64] or None)
    return render_template("verify.html", view=view)
