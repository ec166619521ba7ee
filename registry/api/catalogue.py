"""Public reference data: standards, test items, markets, labs; and accreditation changes by regulators."""

from __future__ import annotations

from datetime import date

from flask import g, url_for

from registry.api import bp
from registry.api.payloads import (
    AccreditationEventIn,
    AccreditationEventOut,
    AsOfArgs,
    LabListArgs,
    LabOut,
    MarketOut,
    StandardListArgs,
    StandardOut,
    TestItemOut,
)
from registry.db import get_session
from registry.services import accreditation, reference


@bp.route("/standards", methods=["GET"])
@bp.arguments(StandardListArgs, location="query", as_kwargs=True)
@bp.response(200, StandardOut(many=True))
@bp.doc(summary="The standards catalogue", description="Every standard edition with status history, adoption link and clauses.")
def list_standards(**filters):
    return reference.list_standards(get_session(), date.today(), **filters)


@bp.route("/standards/<path:standard_id>", methods=["GET"])
@bp.arguments(AsOfArgs, location="query", as_kwargs=True)
@bp.response(200, StandardOut)
@bp.doc(summary="One standard edition", description="The id contains '/' and spaces: URL-encode it (GB%2FT%2018487.1-2023).")
def get_standard(standard_id: str, as_of: date | None = None):
    return reference.get_standard(get_session(), standard_id, as_of or date.today())


@bp.route("/test-items", methods=["GET"])
@bp.response(200, TestItemOut(many=True))
@bp.doc(summary="Canonical test items", description="With the standards that define each.")
def list_test_items():
    return reference.list_test_items(get_session())


@bp.route("/markets", methods=["GET"])
@bp.response(200, MarketOut(many=True))
@bp.doc(summary="Markets", description="CN, the EU, the ASEAN bloc and its member states (which inherit bloc rules).")
def list_markets():
    return reference.list_markets(get_session())


@bp.route("/labs", methods=["GET"])
@bp.arguments(LabListArgs, location="query", as_kwargs=True)
@bp.response(200, LabOut(many=True))
@bp.doc(summary="Test labs", description="Each lab's accreditations with their status and scope on `as_of`, and history.")
def list_labs(as_of: date | None = None, country: str | None = None):
    return accreditation.list_labs(get_session(), as_of or date.today(), country)


@bp.route("/labs/<lab_id>", methods=["GET"], endpoint="lab")
@bp.arguments(AsOfArgs, location="query", as_kwargs=True)
@bp.response(200, LabOut)
@bp.doc(summary="One lab")
def get_lab(lab_id: str, as_of: date | None = None):
    return accreditation.lab_view(get_session(), lab_id, as_of or date.today())


@bp.route("/labs/<lab_id>/accreditation-events", methods=["POST"])
@bp.arguments(AccreditationEventIn)
@bp.response(201, AccreditationEventOut)

@bp.doc(
    summary="Suspend, restore, withdraw, expire or rescope a lab's accreditation",
    description="Regulators and admins. An event with its effective date and reason; reports are judged by the "
    "status on their test dates, and the lab's history stays readable.",
    security=[{"bearerAuth": []}],
)
def record_accreditation_event(change, lab_id: str):
    event = accreditation.record_accreditation_event(get_session(), g.principal, lab_id, change)
    return event, 201, {"Location": url_for("api.lab", lab_id=lab_id)}
