"""Recognition endpoints: products and their market access, delta test plans, pre-checks, the matrix, rulebooks."""

from __future__ import annotations

from datetime import date

from flask import current_app, g, url_for

from registry.api import bp
from registry.api.json_body import json_body
from registry.api.payloads import (
    DeltaPlanArgs,
    DeltaPlanOut,
    ImpactOut,
    MatrixOut,
    PrecheckOut,
    ProductPage,
    PublishOut,
    RecognitionOut,
    RulebookVersionList,
    RulebookVersionOut,
    MatrixArgs,
    PrecheckIn,
    ProductListArgs,
    RecognitionArgs,
    RulebookDraftIn,
)
from registry.api.reports import PROBLEM, _decode_cursor, _encode_cursor
from registry.db import get_session
from registry.errors import SemanticViolation, Violation
from registry.services import decisions, rulebooks


@bp.route("/products", methods=["GET"])
@bp.arguments(ProductListArgs, location="query", as_kwargs=True)
@bp.response(200, ProductPage)
@bp.doc(summary="Products and their market access", description=(
    "Filter by manufacturer (id or part of the name), model, or any certificate number held elsewhere. "
    "Each product carries its stored decision per market. Ascending id; cursor pagination."))
def list_products(limit: int | None = None, cursor: str | None = None, **filters):
    limit = limit or current_app.config["PAGE_SIZE_DEFAULT"]
    items, next_id = decisions.list_products(get_session(), g.principal, after_id=_decode_cursor(cursor), limit=limit,
                                             **filters)
    return {"items": items, "next_cursor": _encode_cursor(next_id), "limit": limit}


@bp.route("/products/<int:product_id>/recognition", methods=["GET"])
@bp.arguments(RecognitionArgs, location="query", as_kwargs=True)
@bp.response(200, RecognitionOut)
@bp.doc(summary="Where a product is recognized, and why", description=(
    "All markets at a glance; `?market=` adds the per-requirement decision (status, rule, evidence cited, reasons, "
    "extra steps). `?as_of=` answers for another date (computed live; today's answer is a stored read)."))
def product_recognition(product_id: int, market: str | None = None, as_of: date | None = None):
    return decisions.recognition(get_session(), g.principal, product_id, market, as_of)


@bp.route("/products/<int:product_id>/delta-test-plan", methods=["GET"])
@bp.arguments(DeltaPlanArgs, location="query", as_kwargs=True)
@bp.response(200, DeltaPlanOut)
@bp.doc(summary="Tests still owed in a market", description="Grouped, priced and timed from the rulebook's cost "
        "table, with the labs accredited to do them; and what recognition saved.")
def product_delta_plan(product_id: int, market: str, as_of: date | None = None):
    return decisions.delta_test_plan(get_session(), g.principal, product_id, market, as_of)


@bp.route("/recognition/evaluate", methods=["POST"])
@bp.doc(
    summary="Pre-check a report before submitting it",
    description="Body `{document, markets?, as_of?}`: the test-report document is checked as a submission is, "
    "then decided for each market. Nothing is stored. Labs, manufacturers and regulators.",
    requestBody={"required": True, "content": {"application/json": {"schema": PrecheckIn}}},
    responses={"200": {"description": "Decisions per market", "content": {"application/json": {"schema": PrecheckOut}}},
               "401": PROBLEM, "403": PROBLEM, "422": PROBLEM},
    security=[{"bearerAuth": []}],
)
def precheck():
    body, _raw = json_body()
    if not isinstance(body, dict) or not isinstance(body.get("document"), dict):
        raise SemanticViolation("The body is {document, markets?, as_of?}.",
                                [Violation("/document", "required: a test-report document")])
    errors = PrecheckIn().validate({k: v for k, v in body.items() if k != "document"}, partial=("document",))
    if errors:
        raise SemanticViolation("Invalid pre-check.", [Violation(f"/{k}", "; ".join(map(str, v))) for k, v in errors.items()])
    loaded = PrecheckIn().load({k: v for k, v in body.items() if k != "document"}, partial=("document",))
    return decisions.precheck(get_session(), g.principal, body["document"], loaded.get("markets"), loaded.get("as_of"))


@bp.route("/recognition/matrix", methods=["GET"])
@bp.arguments(MatrixArgs, location="query", as_kwargs=True)
@bp.response(200, MatrixOut)
@bp.doc(summary="Market x market recognition shares", description=(
    "For each source market's regime and each target market: the share of the target's requirements its results "
    "can satisfy, from the rulebook (best case) and from the products actually in the registry."))
def recognition_matrix(as_of: date | None = None):
    return decisions.matrix(get_session(), g.principal, as_of)


@bp.route("/rulebook", methods=["GET"])
@bp.response(200, RulebookVersionOut)
@bp.doc(summary="The published rulebook", description="The current version with its full document.")
def rulebook_current():
    return rulebooks.version_view(rulebooks.current(get_session()), with_document=True)


@bp.route("/rulebook/versions", methods=["GET"])
@bp.response(200, RulebookVersionList)
@bp.doc(summary="Rulebook versions", description="Published (immutable) and draft versions, oldest first.")
def rulebook_versions():
    return {"versions": [rulebooks.version_view(r) for r in rulebooks.list_versions(get_session())]}


@bp.route("/rulebook/versions/<int:version>", methods=["GET"], endpoint="rulebook_version")
@bp.response(200, RulebookVersionOut)
@bp.doc(summary="One rulebook version, with its document")
def rulebook_version(version: int):
    return rulebooks.version_view(rulebooks.get_version(get_session(), version), with_document=True)


@bp.route("/rulebook/versions", methods=["POST"])
@bp.doc(
    summary="Upload a draft rulebook (regulators)",
    description="Body `{title?, document}`: a rulebook document per `/schemas/rulebook/v1.json`; validated against "
    "the schema, the rule language and the catalogue. Its `version` is assigned by the registry.",
    requestBody={"required": True, "content": {"application/json": {"schema": RulebookDraftIn}}},
    responses={"201": {"description": "Draft stored", "content": {"application/json": {"schema": RulebookVersionOut}}},
               "401": PROBLEM, "403": PROBLEM, "422": PROBLEM},
    security=[{"bearerAuth": []}],
)
def rulebook_draft():
    body, _raw = json_body()
    if not isinstance(body, dict) or not isinstance(body.get("document"), dict):
        raise SemanticViolation("The body is {title?, document}.", [Violation("/document", "required: a rulebook document")])
    title = body.get("title") if isinstance(body.get("title"), str) else None
    row = rulebooks.create_draft(get_session(), g.principal, body["document"], title)
    return rulebooks.version_view(row), 201, {"Location": url_for("api.rulebook_version", version=row.version)}


@bp.route("/rulebook/versions/<int:version>/impact", methods=["POST"])
@bp.response(200, ImpactOut)
@bp.doc(summary="What-if: what a draft would change", description=(
    "Evaluates the draft against every product and market and compares with the published version: products "
    "gaining or losing access per market, tests and cost saved or added, and example changes."),
    security=[{"bearerAuth": []}], responses={"401": PROBLEM, "403": PROBLEM, "404": PROBLEM})
def rulebook_impact(version: int):
    return decisions.impact(get_session(), g.principal, version)


@bp.route("/rulebook/versions/<int:version>/publish", methods=["POST"])
@bp.response(200, PublishOut)
@bp.doc(summary="Publish a draft (regulators)", description=(
    "The version becomes the published rulebook and is immutable from then on; every decision is recomputed."),
    security=[{"bearerAuth": []}], responses={"401": PROBLEM, "403": PROBLEM, "404": PROBLEM, "409": PROBLEM})
def rulebook_publish(version: int):
    return decisions.publish(get_session(), g.principal, version)
