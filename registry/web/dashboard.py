"""Manufacturer dashboards (log-in): products x markets, tests owed, savings, what expires; CSV exports."""

from __future__ import annotations

import csv
import io
from typing import Any, Iterable

from flask import Response, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from registry.db import get_session
from registry.errors import Forbidden, Unauthenticated
from registry.services import dashboard as dashboard_service
from registry.web import LABELS, bp, charts


@bp.get("/dashboard")
def dashboard():
    """Each person's way in: a maker to its own dashboard, a regulator to the list of makers."""
    account = g.account
    if account is None:
        raise Unauthenticated("Log in to see a dashboard.")
    if account.kind == "manufacturer":
        return redirect(url_for("web.maker_dashboard", manufacturer_id=account.org_id))
    if account.kind in ("regulator", "admin"):
        return redirect(url_for("web.manufacturers"))
    raise Forbidden("Dashboards are for manufacturers and regulators.")


@bp.get("/manufacturers")
def manufacturers():
    return render_template("manufacturers.html", makers=dashboard_service.manufacturers(get_session(), g.principal))


@bp.get("/manufacturers/<manufacturer_id>/dashboard")
def maker_dashboard(manufacturer_id: str):
    page = request.args.get("page", "1")
    view = dashboard_service.dashboard_for(get_session(), g.principal, manufacturer_id,
                                           page=int(page) if page.isdigit() else 1)
    codes = [m["market"]["code"] for m in view["per_market"]]
    wanted = (request.args.get("market") or "").upper()
    # One market's test list at a time (a GET parameter, so it is a permalink): the page stays small on slow links.
    view["selected_market"] = wanted if wanted in codes else max(
        view["per_market"], key=lambda m: m["tests"], default={"market": {"code": None}})["market"]["code"]
    # Links of the matrix cells, built once per product rather than per cell (a page has hundreds).
    for row in view["rows"]:
        row["href"] = url_for("web.product", product_id=row["id"])
        plan = url_for("web.plan_csv", manufacturer_id=manufacturer_id, product_id=row["id"], market="M")
        row["plans"] = plan.removesuffix("M.csv")
    chart_labels: dict[str, Any] = dict(LABELS, low=_("low estimate"), high=_("high estimate"),
                                        range=_("up to the high estimate"))
    view["verdict_chart"] = charts.verdict_chart(view["per_market"], chart_labels)
    view["cost_chart"] = charts.cost_chart(view["per_market"], view["currency"], chart_labels)
    return render_template("dashboard.html", view=view)


def _csv(rows: Iterable[list[Any]], filename: str) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    # A byte-order mark so spreadsheet programs read the Chinese test-item names as UTF-8.
    response = Response("\ufeff" + buffer.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/manufacturers/<manufacturer_id>/matrix.csv")
def matrix_csv(manufacturer_id: str):
    rows = list(dashboard_service.matrix_rows(get_session(), g.principal, manufacturer_id))
    return _csv(rows, f"{manufacturer_id}-recognition-matrix.csv")


@bp.get("/manufacturers/<manufacturer_id>/products/<int:product_id>/plans/<market>.csv")
def plan_csv(manufacturer_id: str, product_id: int, market: str):
    rows = list(dashboard_service.plan_rows(get_session(), g.principal, manufacturer_id, product_id, market))
    return _csv(rows, f"{manufacturer_id}-{product_id}-{market.upper()}-delta-test-plan.csv")
