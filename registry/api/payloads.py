"""marshmallow schemas: query arguments, small request bodies, and every response the API documents.

The test-report document itself is validated by the published JSON Schema (`schemas/test-report/v1.json`),
not here: one source of truth per rule.
"""

from __future__ import annotations

from marshmallow import Schema, fields, pre_load, validate

STATUSES = ["valid", "suspended", "withdrawn", "cancelled", "expired", "superseded"]


class Bilingual(Schema):
    en = fields.String(metadata={"description": "English"})
    zh = fields.String(allow_none=True, metadata={"description": "Simplified Chinese, where the source gives it"})


# ---------------------------------------------------------------------------------------------------- inputs


class QueryArgs(Schema):
    """Query arguments: an empty value means "not given" (what an HTML form sends for a blank field)."""

    @pre_load
    def drop_empty(self, data, **_kwargs):
        return {k: v for k, v in data.items() if v != ""} if hasattr(data, "items") else data


class PageArgs(QueryArgs):
    limit = fields.Integer(
        validate=validate.Range(min=1, max=200),
        metadata={"description": "Items per page: default 50, at most 200 (more is refused, not capped)."},
    )
    cursor = fields.String(metadata={"description": "The `next_cursor` of the previous page; opaque."})


class ReportListArgs(PageArgs):
    manufacturer = fields.String(metadata={"description": "Manufacturer registry id, or part of its name."})
    model = fields.String(metadata={"description": "Part of the model name (case-insensitive)."})
    standard = fields.String(metadata={"description": "Catalogue standard id with its edition; reports whose current revision has a result to it."})
    lab = fields.String(metadata={"description": "Registry id of the lab."})
    status = fields.String(validate=validate.OneOf(STATUSES), metadata={"description": "Report status."})
    product = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1),
                             metadata={"description": "Registry id of the product."})
    issued_from = fields.Date(metadata={"description": "Issued on or after this date (YYYY-MM-DD)."})
    issued_to = fields.Date(metadata={"description": "Issued on or before this date (YYYY-MM-DD)."})
    changed_since = fields.AwareDateTime(
        default_timezone=None,
        metadata={"description": "Only reports submitted, revised or withdrawn after this instant (RFC 3339 with offset)."},
    )


class AsOfArgs(QueryArgs):
    as_of = fields.Date(metadata={"description": "The date to answer for (default: today)."})


class LabListArgs(AsOfArgs):
    country = fields.String(validate=validate.Regexp(r"^[A-Za-z]{2}$"), metadata={"description": "ISO country code"})


class StandardListArgs(QueryArgs):
    region = fields.String(metadata={"description": "CN, EU, SG, ... or INT for IEC/ISO."})
    body = fields.String(metadata={"description": "Publishing body, e.g. IEC, SAC."})
    test_item = fields.String(metadata={"description": "Only standards defining this test item."})


class RevisionArgs(QueryArgs):
    revision = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1),
                              metadata={"description": "A past revision number."})


class WithdrawalIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=3, max=2000),
                           metadata={"description": "Why the report is withdrawn; shown publicly."})
    effective_on = fields.Date(metadata={"description": "From when the withdrawal applies (default: today)."})


class AccreditationEventIn(Schema):
    accreditation_id = fields.Integer(required=True, validate=validate.Range(min=1, max=2**31 - 1),
                                      metadata={"description": "Which of the lab's accreditations."})
    action = fields.String(required=True, validate=validate.OneOf(["suspend", "restore", "withdraw", "expire", "rescope"]))
    effective_on = fields.Date(required=True, metadata={"description": "The date the change takes effect."})
    reason = fields.String(required=True, validate=validate.Length(min=3, max=2000))
    scope = fields.List(fields.String(), metadata={"description": "For rescope: the complete new scope (standard ids)."})


# ---------------------------------------------------------------------------------------------------- outputs


class Links(Schema):
    self = fields.String()
    revisions = fields.String()


class SubmissionReceipt(Schema):
    id = fields.Integer(metadata={"description": "Registry id of the report."})
    report_number = fields.String()
    lab = fields.String()
    status = fields.String()
    revision = fields.Integer()
    product = fields.Dict(metadata={"description": "{id, manufacturer, model}: the product the report was filed under."})
    links = fields.Nested(Links)


class ResultSummary(Schema):
    standard = fields.String()
    clause = fields.String(allow_none=True)
    test_item = fields.String()
    verdict = fields.String()
    performed_on = fields.String()
    accredited = fields.Boolean(metadata={"description": "The lab was accredited for this standard on the test date."})
    clause_verified = fields.Boolean(metadata={"description": "The clause was checked against the catalogue."})


class Withdrawal(Schema):
    reason = fields.String()
    effective_on = fields.Date()
    recorded_at = fields.DateTime()


class ReportOut(Schema):
    id = fields.Integer()
    report_number = fields.String()
    lab = fields.Dict()
    status = fields.String()
    revision = fields.Integer(metadata={"description": "The revision shown."})
    current_revision = fields.Integer()
    issued_on = fields.String()
    test_period = fields.Dict()
    submitted_at = fields.DateTime()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    product = fields.Dict()
    standards = fields.List(fields.String())
    results = fields.List(fields.Nested(ResultSummary))
    withdrawal = fields.Nested(Withdrawal, allow_none=True)
    details_included = fields.Boolean(
        metadata={"description": "True when `document` (measurements, conditions, attachments) is included."}
    )
    document = fields.Dict(metadata={"description": "The revision's full document; lab, manufacturer, regulators only."})
    document_sha256 = fields.String()


class ReportListItem(Schema):
    id = fields.Integer()
    report_number = fields.String()
    lab = fields.String()
    status = fields.String()
    current_revision = fields.Integer()
    issued_on = fields.Date()
    updated_at = fields.DateTime()
    product = fields.Dict()


class ReportPage(Schema):
    items = fields.List(fields.Nested(ReportListItem))
    next_cursor = fields.String(allow_none=True, metadata={"description": "Pass as `cursor` for the next page; null at the end."})
    limit = fields.Integer()


class RevisionOut(Schema):
    revision = fields.Integer()
    submitted_at = fields.DateTime()
    submitted_by = fields.String()
    reason = fields.String(allow_none=True)
    document_sha256 = fields.String()


class ReportEventOut(Schema):
    kind = fields.String()
    revision = fields.Integer()
    reason = fields.String(allow_none=True)
    actor = fields.String()
    effective_on = fields.Date()
    recorded_at = fields.DateTime()


class RevisionHistory(Schema):
    report_id = fields.Integer()
    current_revision = fields.Integer()
    status = fields.String()
    revisions = fields.List(fields.Nested(RevisionOut))
    events = fields.List(fields.Nested(ReportEventOut))


class AccreditationEventOut(Schema):
    action = fields.String()
    status = fields.String()
    effective_on = fields.Date()
    reason = fields.String()
    acting_org = fields.String()
    scope = fields.List(fields.String(), allow_none=True)
    recorded_at = fields.DateTime()


class AccreditationOut(Schema):
    id = fields.Integer()
    body = fields.String()
    number = fields.String()
    basis = fields.String()
    valid_from = fields.Date()
    valid_until = fields.Date(allow_none=True)
    status = fields.String(allow_none=True, metadata={"description": "Status on `as_of`; null before the grant."})
    scope = fields.List(fields.String(), metadata={"description": "Standards in scope on `as_of`."})
    events = fields.List(fields.Nested(AccreditationEventOut))


class LabOut(Schema):
    id = fields.String()
    name = fields.Nested(Bilingual)
    country = fields.String()
    demo = fields.Boolean()
    active = fields.Boolean(metadata={"description": "Holds at least one valid accreditation on `as_of`."})
    as_of = fields.Date()
    accreditations = fields.List(fields.Nested(AccreditationOut))


class ClauseOut(Schema):
    clause = fields.String(allow_none=True, metadata={"description": "As published; null where the sources give none."})
    clause_known = fields.Boolean()
    title = fields.Nested(Bilingual)
    test_items = fields.List(fields.String())
    note = fields.String(allow_none=True)
    verified = fields.Boolean()
    source = fields.String()


class StatusEventOut(Schema):
    status = fields.String()
    effective_on = fields.Date()
    reason = fields.String(allow_none=True)
    acting_org = fields.String(allow_none=True)
    superseded_by = fields.String(allow_none=True)
    transition_ends_on = fields.Date(allow_none=True)
    source = fields.String()


class AdoptionOut(Schema):
    of = fields.String()
    degree = fields.String(metadata={"description": "IDT, MOD, NEQ, EQV or unknown"})
    verified = fields.Boolean(allow_none=True)
    source = fields.String(allow_none=True)


class StandardOut(Schema):
    id = fields.String()
    body = fields.String()
    number = fields.String()
    edition = fields.String(allow_none=True)
    title = fields.Nested(Bilingual)
    region = fields.String()
    mandatory = fields.Boolean()
    issued_on = fields.Date(allow_none=True)
    effective_from = fields.Date(allow_none=True)
    status = fields.String(allow_none=True, metadata={"description": "Status on `as_of`."})
    adoption = fields.Nested(AdoptionOut, allow_none=True)
    adopted_by = fields.List(fields.String())
    status_events = fields.List(fields.Nested(StatusEventOut))
    clauses = fields.List(fields.Nested(ClauseOut))
    verified = fields.Boolean()
    source = fields.String()


class TestItemOut(Schema):
    __test__ = False
    id = fields.String()
    name = fields.Nested(Bilingual)
    category = fields.String()
    interface_bound = fields.Boolean(
        metadata={"description": "True when the result depends on the connector/protocol family (GB/T, CCS, CHAdeMO)."}
    )
    description = fields.String(allow_none=True)
    standards = fields.List(fields.String(), metadata={"description": "Standards that define this test item."})
    source = fields.String()


class MarketOut(Schema):
    code = fields.String()
    kind = fields.String()
    name = fields.Nested(Bilingual)
    bloc = fields.String(allow_none=True)
    members = fields.List(fields.String())
    grid = fields.Dict()
    regulator = fields.String(allow_none=True)
    researched = fields.Boolean()
    source = fields.String()


# ---------------------------------------------------------------------------------------------------- recognition


class ProductListArgs(PageArgs):
    manufacturer = fields.String(metadata={"description": "Manufacturer registry id, or part of its name."})
    model = fields.String(metadata={"description": "Part of the model name (case-insensitive)."})
    certificate = fields.String(metadata={"description": "A certificate number the product holds (CB, CCC, LTA ...)."})


class RecognitionArgs(QueryArgs):
    market = fields.String(metadata={"description": "CN, EU or an ASEAN member state: adds the per-requirement detail."})
    as_of = fields.Date(metadata={"description": "Answer for this date (default today)."})


class DeltaPlanArgs(QueryArgs):
    market = fields.String(required=True, metadata={"description": "The target market."})
    as_of = fields.Date(metadata={"description": "Answer for this date (default today)."})


class MatrixArgs(QueryArgs):
    as_of = fields.Date(metadata={"description": "Answer for this date (default today)."})


class PrecheckIn(Schema):
    document = fields.Dict(required=True, metadata={"description": "A test-report document (schemas/test-report/v1.json)."})
    markets = fields.List(fields.String(), metadata={"description": "Markets to decide (default: all)."})
    as_of = fields.Date(metadata={"description": "Decide as of this date (default today)."})


class RulebookDraftIn(Schema):
    title = fields.String(metadata={"description": "A title for the draft."})
    document = fields.Dict(required=True, metadata={"description": "A rulebook document (schemas/rulebook/v1.json)."})


class MarketAccess(Schema):
    market = fields.String()
    verdict = fields.String(metadata={"description": "accessible, accessible_with_conditions or blocked"})
    recognized = fields.Integer()
    conditional = fields.Integer()
    owed = fields.Integer(metadata={"description": "Requirements to retest or never tested"})
    rulebook_version = fields.Integer()
    as_of = fields.Date()


class ProductOut(Schema):
    id = fields.Integer()
    model = fields.String()
    category = fields.String()
    manufacturer = fields.Dict()
    ratings = fields.Dict(allow_none=True)
    connectors = fields.List(fields.String())
    cooling = fields.String(allow_none=True)
    liquid_cooled_cable = fields.Boolean(allow_none=True)
    certificates = fields.List(fields.Dict())
    market_access = fields.List(fields.Nested(MarketAccess))


class ProductPage(Schema):
    items = fields.List(fields.Nested(ProductOut))
    next_cursor = fields.String(allow_none=True)
    limit = fields.Integer()


class MarketSummary(Schema):
    market = fields.String()
    verdict = fields.String()
    rulebook_version = fields.Integer()
    as_of = fields.String()
    recognized = fields.Integer()
    conditional = fields.Integer()
    retest = fields.Integer()
    missing = fields.Integer()


class RecognitionOut(Schema):
    product = fields.Dict()
    as_of = fields.String()
    rulebook_version = fields.Integer()
    markets = fields.List(fields.Nested(MarketSummary))
    computed = fields.String(metadata={"description": "stored (a read of the materialized decision) or live"})
    decision = fields.Dict(metadata={"description": "With ?market=: requirements (status, rule, evidence, reasons, "
                                                    "extra steps), delta test plan, savings, inputs digest."})


class DeltaPlanOut(Schema):
    product = fields.Dict()
    market = fields.String()
    as_of = fields.String()
    rulebook_version = fields.Integer()
    verdict = fields.String()
    plan = fields.Dict(metadata={"description": "items (test item, standards, cost range, lead time, labs), totals, groups"})
    savings = fields.Dict()
    conditional_savings = fields.Dict()


class PrecheckOut(Schema):
    as_of = fields.String()
    rulebook_version = fields.Integer()
    stored = fields.Boolean()
    markets = fields.List(fields.Dict())


class MatrixOut(Schema):
    as_of = fields.String()
    rulebook_version = fields.Integer()
    markets = fields.List(fields.String())
    rulebook = fields.Dict(metadata={"description": "source -> target -> shares, from the rules alone"})
    registry = fields.Dict(metadata={"description": "source -> target -> shares, from the products in the registry"})


class RulebookVersionOut(Schema):
    version = fields.Integer()
    status = fields.String(metadata={"description": "draft or published (immutable)"})
    title = fields.String()
    document_sha256 = fields.String()
    based_on = fields.Integer(allow_none=True)
    created_by = fields.String()
    created_at = fields.DateTime()
    published_by = fields.String(allow_none=True)
    published_at = fields.DateTime(allow_none=True)
    document = fields.Dict()


class RulebookVersionList(Schema):
    versions = fields.List(fields.Nested(RulebookVersionOut))


class ImpactOut(Schema):
    draft_version = fields.Integer()
    published_version = fields.Integer()
    as_of = fields.String()
    products = fields.Integer()
    markets = fields.Dict(metadata={"description": "per market: gaining, losing, unchanged, tests and cost saved/added"})
    totals = fields.Dict()
    changes = fields.List(fields.Dict())
    currency = fields.String(allow_none=True)


class PublishOut(Schema):
    published = fields.Nested(RulebookVersionOut)
    recomputed_products = fields.Integer()
