"""Regulator pages (log-in): coverage heat map and blocking requirements; rulebook versions, diff, impact, publish."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from registry.db import get_session
from registry.services import coverage as coverage_service
from registry.services import rulebook_review
from registry.web import LABELS, bp, charts
from registry.web.forms import DraftForm, PublishForm


@bp.get("/coverage")
def coverage():
    view = coverage_service.heat_map(get_session(), g.principal)
    view["rulebook_map"] = charts.heat_map(view["markets"], view["rulebook"], "recognized_or_conditional")
    view["registry_map"] = charts.heat_map(view["markets"], view["registry"], "recognized_or_conditional")
    return render_template("coverage.html", view=view)


@bp.get("/coverage/<source>/<target>")
def coverage_pair(source: str, target: str):
    view = coverage_service.pair(get_session(), g.principal, source.upper(), target.upper())
    return render_template("coverage_pair.html", view=view)


@bp.get("/rulebook")
def rulebook():
    view = rulebook_review.versions(get_session(), g.principal)
    return render_template("rulebook.html", view=view, form=DraftForm())


@bp.post("/rulebook/drafts")
def rulebook_upload():
    session = get_session()
    form = DraftForm()
    if not form.validate_on_submit():
        view = rulebook_review.versions(session, g.principal)
        return render_template("rulebook.html", view=view, form=form), 400
    row = rulebook_review.upload_draft(session, g.principal, form.document.data.read(), form.title.data)
    flash(_("Draft version %(version)s stored. Review its differences and impact before publishing.",
            version=row.version))
    return redirect(url_for("web.rulebook_impact", version=row.version))


@bp.get("/rulebook/diff")
def rulebook_diff():
    old, new = request.args.get("from", ""), request.args.get("to", "")
    if not (old.isdigit() and new.isdigit()):
        abort(400, _("Choose two versions to compare."))
    view = rulebook_review.diff(get_session(), g.principal, int(old), int(new))
    return render_template("rulebook_diff.html", view=view)


@bp.get("/rulebook/<int:version>/impact")
def rulebook_impact(version: int):
    view = rulebook_review.impact(get_session(), g.principal, version)
    view["chart"] = charts.impact_chart(view["markets"], dict(LABELS, gaining=_("products gaining access"),
                                                                losing=_("products losing access")))
    return render_template("rulebook_impact.html", view=view, form=PublishForm())


@bp.post("/rulebook/<int:version>/publish")
def rulebook_publish(version: int):
    session = get_session()
    form = PublishForm()
    if not form.validate_on_submit():
        flash(_("Tick the confirmation box to publish."), "error")
        return redirect(url_for("web.rulebook_impact", version=version))
    result = rulebook_review.publish(session, g.principal, version)
    flash(_("Version %(version)s is published; %(count)s products were decided again with it.",
            version=version, count=result["recomputed_products"]))
    return redirect(url_for("web.rulebook"))
