"""People-facing pages (server-rendered). For now: the landing page and HTML error pages."""

from __future__ import annotations

from flask import Blueprint, render_template

from registry import contracts

bp = Blueprint("web", __name__, template_folder="templates")


def html_error(status: int, detail: str | None):
    return render_template("error.html", status=status, detail=detail), status


@bp.get("/")
def index():
    return render_template("index.html", schemas=contracts.schema_names())
