"""Report endpoints: submit, read, list, revise, withdraw."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import orjson
from flask import current_app, g, request, url_for
from flask import Response

from registry.api import bp
from registry.api.json_body import json_body, request_fingerprint
from registry.api.payloads import (
    ReportListArgs,
    ReportOut,
    ReportPage,
    RevisionArgs,
    RevisionHistory,
    SubmissionReceipt,
    WithdrawalIn,
)
from registry.db import get_session
from registry.errors import BadRequest, SemanticViolation, Violation
from registry.services import idempotency
from registry.services import reports as service

REPORT_SCHEMA_REF = {"$ref": "#/components/schemas/TestReportV1"}
PROBLEM = {"description": "RFC 9457 problem details", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}


_RECEIPT = SubmissionReceipt()  # built once: a schema's constructor deep-copies its fields


def _receipt(report) -> dict[str, Any]:
    return _RECEIPT.dump({
        "id": report.id, "report_number": report.report_number, "lab": report.lab_id, "status": report.status,
        "revision": report.current_revision,
        "product": {"id": report.product_id, "manufacturer": report.manufacturer_id, "model": report.model},
        "links": {"self": url_for("api.report", report_id=report.id),
                  "revisions": url_for("api.report_revisions", report_id=report.id)},
    })


def _write(run, status: int) -> Response:
    """Run a write service with Idempotency-Key replay; the stored answer commits with the write itself."""
    session = get_session()
    document, raw = json_body()
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 1 <= len(key) <= 255:
        raise BadRequest("Idempotency-Key must be 1 to 255 characters.")
    fingerprint = request_fingerprint(raw) if key is not None else None
    ttl = current_app.config["IDEMPOTENCY_TTL_HOURS"]
    if key is not None and g.principal.authenticated:
        stored = idempotency.recall(session, g.principal.org_id, key, fingerprint, ttl)
        if stored is not None:
            response = Response(stored.body, status=stored.status, mimetype="application/json")
            if stored.location:
                response.headers["Location"] = stored.location
            response.headers["Idempotent-Replayed"] = "true"
            return response

    if key is None:
        # Nothing to store with the write: the receipt is rendered after the commit, not under SQLite's write lock.
        body, location = _rendered(run(session, document, None))
    else:
        rendered: dict[str, str] = {}

        def stage(session_, report) -> None:
            rendered["body"], rendered["location"] = _rendered(report)
            idempotency.remember(session_, g.principal.org_id, key, fingerprint, request.method, request.path,
                                 status, rendered["body"], rendered["location"], ttl)

        run(session, document, stage)
        body, location = rendered["body"], rendered["location"]
    response = Response(body, status=status, mimetype="application/json")
    response.headers["Location"] = location
    return response


def _rendered(report) -> tuple[str, str]:
    receipt = _receipt(report)
    return orjson.dumps(receipt).decode(), receipt["links"]["self"]


@bp.route("/reports", methods=["POST"])
@bp.doc(
    summary="Submit a test report",
    description=(
        "Body: a test-report document conforming to `/schemas/test-report/v1.json`. Validated against the schema, "
        "then against the catalogue (standards, clauses, test items, units), the lab's accreditation and itself "
        "(dates, verdicts against limits). Stored with its results in one transaction. Send `Idempotency-Key` to "
        "make retries safe. Needs the lab's API key."
    ),
    requestBody={"required": True, "content": {"application/json": {"schema": REPORT_SCHEMA_REF}}},
    parameters=[{"in": "header", "name": "Idempotency-Key", "schema": {"type": "string", "maxLength": 255}}],
    responses={
        "201": {"description": "Accepted; `Location` names the report.",
                "content": {"application/json": {"schema": SubmissionReceipt}}},
        "400": PROBLEM, "401": PROBLEM, "403": PROBLEM, "409": PROBLEM, "413": PROBLEM, "415": PROBLEM, "422": PROBLEM,
    },
    security=[{"bearerAuth": []}],
)
def submit_report():
    skew = current_app.config["CLOCK_SKEW_DAYS"]

    def run(session, document, stage):
        return service.submit_report(session, g.principal, document, skew_days=skew, before_commit=stage)

    return _write(run, 201)


@bp.route("/reports", methods=["GET"])
@bp.arguments(ReportListArgs, location="query", as_kwargs=True)
@bp.response(200, ReportPage)
@bp.doc(summary="List reports", description="Ascending registry id (stable for crawling); cursor pagination.")
def list_reports(limit: int | None = None, cursor: str | None = None, **filters):
    limit = limit or current_app.config["PAGE_SIZE_DEFAULT"]
    after = _decode_cursor(cursor)
    items, next_id = service.list_reports(get_session(), g.principal, service.ReportFilter(**filters), after, limit)
    return {"items": items, "next_cursor": _encode_cursor(next_id), "limit": limit}


def _encode_cursor(after_id: int | None) -> str | None:
    if after_id is None:
        return None
    return base64.urlsafe_b64encode(orjson.dumps({"after": after_id})).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        decoded = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        after = decoded["after"]
        if not isinstance(after, int) or after < 0:
            raise ValueError(after)
        return after
    except Exception as exc:
        raise BadRequest("The cursor is not one this API issued.", [Violation("", "invalid cursor")]) from exc


@bp.route("/reports/<int:report_id>", methods=["GET"], endpoint="report")
@bp.arguments(RevisionArgs, location="query", as_kwargs=True)
@bp.response(200, ReportOut)
@bp.doc(summary="Read a report", description=(
    "The public summary for everyone; the full document (measurements, conditions, attachments) for the "
    "submitting lab, the product's manufacturer and regulators. `?revision=N` shows a past revision. "
    "Sends an `ETag`; `If-None-Match` answers 304."))
def get_report(report_id: int, revision: int | None = None):
    view = service.get_report(get_session(), g.principal, report_id, revision)
    body = ReportOut().dump(view)
    payload = orjson.dumps(body)
    etag = hashlib.sha256(payload).hexdigest()[:32]
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        response = Response(payload, status=200, mimetype="application/json")
    response.set_etag(etag)
    response.headers["Vary"] = "Authorization"
    return response


@bp.route("/reports/<int:report_id>/revisions", methods=["GET"], endpoint="report_revisions")
@bp.response(200, RevisionHistory)
@bp.doc(summary="A report's revisions and events")
def list_revisions(report_id: int):
    return service.list_revisions(get_session(), g.principal, report_id)


@bp.route("/reports/<int:report_id>/revisions", methods=["POST"])
@bp.doc(
    summary="Correct a report by a new revision",
    description="Body: `{reason, document}`; `document` is the full corrected test-report document. Same number and lab.",
    requestBody={"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["reason", "document"], "additionalProperties": False,
        "properties": {"reason": {"type": "string", "minLength": 3, "maxLength": 2000}, "document": REPORT_SCHEMA_REF}}}}},
    responses={"201": {"description": "Revision stored.", "content": {"application/json": {"schema": SubmissionReceipt}}},
               "400": PROBLEM, "401": PROBLEM, "403": PROBLEM, "404": PROBLEM, "409": PROBLEM, "422": PROBLEM},
    security=[{"bearerAuth": []}],
)
def revise_report(report_id: int):
    skew = current_app.config["CLOCK_SKEW_DAYS"]

    def run(session, envelope, stage):
        problems = _envelope_problems(envelope)
        if problems:
            raise SemanticViolation("A revision is {reason, document}.", problems)
        return service.revise_report(session, g.principal, report_id, envelope["document"], envelope["reason"],
                              skew_days=skew, before_commit=stage)

    return _write(run, 201)


def _envelope_problems(envelope: Any) -> list[Violation]:
    if not isinstance(envelope, dict):
        return [Violation("", "expected an object {reason, document}")]
    problems = [Violation(f"/{k}", "unexpected member") for k in envelope if k not in ("reason", "document")]
    reason = envelope.get("reason")
    if not isinstance(reason, str) or not 3 <= len(reason.strip()) <= 2000:
        problems.append(Violation("/reason", "required: why the report is corrected (3 to 2000 characters)"))
    if not isinstance(envelope.get("document"), dict):
        problems.append(Violation("/document", "required: the full corrected test-report document"))
    return problems


@bp.route("/reports/<int:report_id>/withdrawal", methods=["POST"])
@bp.doc(
    summary="Withdraw a report",
    description="Records a withdrawal event with its reason; the report and its revisions stay readable.",
    requestBody={"required": True, "content": {"application/json": {"schema": WithdrawalIn}}},
    responses={"201": {"description": "Withdrawn.", "content": {"application/json": {"schema": SubmissionReceipt}}},
               "400": PROBLEM, "401": PROBLEM, "403": PROBLEM, "404": PROBLEM, "409": PROBLEM, "422": PROBLEM},
    security=[{"bearerAuth": []}],
)
def withdraw_report(report_id: int):
    def run(session, body, stage):
        errors = WithdrawalIn().validate(body) if isinstance(body, dict) else {"": ["expected an object"]}
        if errors:
            raise SemanticViolation(
                "Invalid withdrawal.", [Violation(f"/{k}" if k else "", "; ".join(v)) for k, v in errors.items()]
            )
        loaded = WithdrawalIn().load(body)
        return service.withdraw_report(session, g.principal, report_id, loaded["reason"], loaded.get("effective_on"),
                                before_commit=stage)

    return _write(run, 201)
