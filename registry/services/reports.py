"""Report use cases: submit, revise, withdraw, read and list. Every write is one transaction, append-only."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Callable, Iterable, Mapping

import orjson
from sqlalchemy import bindparam, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from registry import contracts
from registry.db import Prebuilt, begin_write, bulk_insert
from registry.errors import Conflict, ContractViolation, Forbidden, NotFound, SemanticViolation, Violation
from registry.models import (
    Organization,
    Product,
    ProductIdentifier,
    Report,
    ReportEvent,
    ReportRevision,
    SearchStandard,
    TestResult,
    name_key,
    utcnow,
)
from registry.services import catalogue as catalogue_service
from registry.services.accreditation import STANDING, LabStanding, standing_of
from registry.services.permissions import Principal, can, require


@dataclass(frozen=True)
class EvidenceChange:
    """What a write did to one product's evidence, for the listeners that keep derived data in step with it.

    `created` says the write registered the product: its only evidence is then `document` (the report just filed,
    with `flags` from the checks), so a listener can work from the document in hand instead of reading it back.
    """

    product_id: int
    created: bool = False
    report_id: int | None = None
    document: dict[str, Any] | None = None
    flags: tuple[tuple[bool, bool], ...] = ()
    manufacturer_id: str | None = None
    model_key: str | None = None
    prepared: Mapping[str, Any] = field(default_factory=dict)  # what the preparers computed before the write lock


# Called with (session, change) inside the writing transaction, before commit; the recognition engine and the
# search index register here so what they derive is rewritten atomically with the evidence that changed it.
EvidenceListener = Callable[[Session, EvidenceChange], None]
evidence_listeners: list[EvidenceListener] = []

# Called with (session, change) for a submission before the write lock, with what the registry holds then:
# `change.product_id` is the known product's id, or 0 when the submission will register it (`created`), and
# `report_id` is still 0. What they return is handed to the listeners in `change.prepared`: the costly part of
# deriving data is then done outside the lock, while other submissions write. A listener must check that what was
# prepared still holds (the product may have changed, or been registered by another submission, in between).
EvidencePreparer = Callable[[Session, EvidenceChange], Mapping[str, Any]]
evidence_preparers: list[EvidencePreparer] = []

# Staged by the caller in the same transaction (e.g. the Idempotency-Key answer), after the write, before commit.
BeforeCommit = Callable[[Session, "Filed"], None]


# ---------------------------------------------------------------------------------------------------- semantics


_NAME_KEY_WIDTH = Organization.__table__.c.name_key.type.length
_MODEL_KEY_WIDTH = Product.__table__.c.model_key.type.length


def check_semantics(
    document: dict[str, Any],
    catalogue: catalogue_service.CatalogueSnapshot,
    standing: LabStanding,
    today: date,
    skew_days: int = 1,
) -> tuple[list[Violation], list[tuple[bool, bool]]]:
    """Check what the schema cannot: catalogue facts, the lab's accreditation, coherent dates and verdicts.

    Returns the violations and, per result, (clause verified against the catalogue, lab accredited for it).
    """
    v: list[Violation] = []
    issued_on = date.fromisoformat(document["issued_on"])
    start = date.fromisoformat(document["test_period"]["start"])
    end = date.fromisoformat(document["test_period"]["end"])
    if not standing.active_on(today):
        v.append(Violation("/lab", f"lab '{standing.lab_id}' holds no valid accreditation on {today.isoformat()}"))
    if start > end:
        v.append(Violation("/test_period/end", "the test period ends before it starts"))
    if end > issued_on:
        v.append(Violation("/issued_on", "the report is dated before the end of its test period"))
    if issued_on > today + timedelta(days=skew_days):
        v.append(Violation("/issued_on", f"the issue date {issued_on.isoformat()} is in the future"))
    for i, s in enumerate(document["signatories"]):
        if "signed_on" in s and date.fromisoformat(s["signed_on"]) < start:
            v.append(Violation(f"/signatories/{i}/signed_on", "signed before testing started"))
    declared, maker = document["product"], document["product"]["manufacturer"]
    for at, text, width in (("/product/manufacturer/name", maker["name"], _NAME_KEY_WIDTH),
                            ("/product/manufacturer/name_zh", maker.get("name_zh"), _NAME_KEY_WIDTH),
                            ("/product/model", declared["model"], _MODEL_KEY_WIDTH)):
        # Names are matched by their key (NFKC, spaces collapsed, case folded): a blank one would match every other
        # blank one, and NFKC expands some characters up to 18-fold ("\ufdfa"), past what the key column holds.
        key = name_key(text)
        if key == "":
            v.append(Violation(at, "is blank"))
        elif key is not None and len(key) > width:
            v.append(Violation(at, f"is {len(key)} characters long once normalised (NFKC), more than {width}"))
    for i, cert in enumerate(document["product"].get("certificates", [])):
        if "issued_on" in cert and "valid_until" in cert and cert["valid_until"] < cert["issued_on"]:
            v.append(Violation(f"/product/certificates/{i}/valid_until", "expires before it was issued"))

    flags: list[tuple[bool, bool]] = []
    accredited_on: dict[tuple[str, date], bool] = {}  # a report's ~30 results share a few standards and dates
    for i, result in enumerate(document["results"]):
        at = f"/results/{i}"
        clause_verified = accredited = False
        performed_on = date.fromisoformat(result["performed_on"])
        if not start <= performed_on <= end:
            v.append(Violation(f"{at}/performed_on", "outside the report's test period"))
        item = result["test_item"]
        if item not in catalogue.test_items:
            v.append(Violation(f"{at}/test_item", f"unknown test item '{item}'"))
        standard = catalogue.standards.get(result["standard"])
        if standard is None:
            v.append(Violation(f"{at}/standard", f"unknown standard '{result['standard']}' (use a catalogue id with its edition)"))
        else:
            published = standard.issued_on or standard.effective_from
            if published is not None and performed_on < published:
                v.append(Violation(f"{at}/performed_on", f"{standard.id} was not yet issued on {performed_on.isoformat()}"))
            clause = result["clause"]
            if clause is not None and clause in standard.clause_items:
                clause_verified = True
                if item not in standard.clause_items[clause]:
                    v.append(Violation(f"{at}/test_item", f"clause {clause} of {standard.id} does not define '{item}'"))
            elif item in standard.unnumbered_items:
                pass  # the catalogue maps the item to this standard but knows no clause number to check against
            elif clause is None and item in {i for items in standard.clause_items.values() for i in items}:
                v.append(Violation(f"{at}/clause", f"{standard.id} defines '{item}' in a known clause: cite it"))
            elif clause is not None and standard.clause_items:
                v.append(Violation(f"{at}/clause", f"{standard.id} has no clause '{clause}' defining '{item}'"))
            else:
                v.append(Violation(f"{at}/test_item", f"{standard.id} does not define '{item}' in the catalogue"))
            accredited = accredited_on.get((standard.id, performed_on))
            if accredited is None:
                accredited = accredited_on[standard.id, performed_on] = standing.accredited_for(standard.id, performed_on)
        for j, m in enumerate(result.get("measurements", [])):
            if m["unit"] not in catalogue.units:
                v.append(Violation(f"{at}/measurements/{j}/unit", f"unknown unit '{m['unit']}'"))
            limit = m.get("limit") or {}
            lo, hi = limit.get("min"), limit.get("max")
            if lo is not None and hi is not None and lo > hi:
                v.append(Violation(f"{at}/measurements/{j}/limit", "min is above max"))
            elif result["verdict"] == "pass" and ((lo is not None and m["value"] < lo) or (hi is not None and m["value"] > hi)):
                v.append(Violation(f"{at}/measurements/{j}/value", "outside its limit, yet the verdict is pass"))
        for name, bounds in (result.get("conditions") or {}).items():
            if isinstance(bounds, dict) and bounds.get("min") is not None and bounds.get("max") is not None:
                if bounds["min"] > bounds["max"]:
                    v.append(Violation(f"{at}/conditions/{name}", "min is above max"))
        flags.append((clause_verified, accredited))
    return v, flags


# ---------------------------------------------------------------------------------------------------- writes


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:40].strip("-") or "manufacturer"


# Prebuilt statements, run on the session's connection: a submission issues about ten of them, and building an
# ORM select per call cost three times what the database took to answer it.
_organizations = Organization.__table__
_products = Product.__table__
_identifiers = ProductIdentifier.__table__
_reports = Report.__table__
_revisions = ReportRevision.__table__
_results = TestResult.__table__
_events = ReportEvent.__table__

_ORG_KIND = select(_organizations.c.kind).where(_organizations.c.id == bindparam("id"))
# The first maker (by id) of the country whose English or Chinese name has this key.
_NAMED = (_organizations.c.kind == "manufacturer", _organizations.c.country == bindparam("country"),
          or_(_organizations.c.name_key == bindparam("key"), _organizations.c.name_zh_key == bindparam("key")))
_MANUFACTURER_NAMED = select(_organizations.c.id).where(*_NAMED).order_by(_organizations.c.id).limit(1)
# Which maker and product a declaration names, as columns added to the lab's standing (`_validate`): a submission
# reads all it checks before the write lock in one round trip. By registry id: the organization's kind, and the id of
# its product of this model if registered; by name: the first maker (by id) so named, and the same product id.
_PRODUCT_OF = _products.c.model_key == bindparam("model_key")
_NAMED_MAKER = _MANUFACTURER_NAMED.scalar_subquery()
_NAMED_LOOKUP = (_NAMED_MAKER, select(_products.c.id).where(_products.c.manufacturer_id == _NAMED_MAKER, _PRODUCT_OF)
                 .scalar_subquery())
_ID_LOOKUP = (select(_organizations.c.kind).where(_organizations.c.id == bindparam("id")).scalar_subquery(),
              select(_products.c.id).where(_products.c.manufacturer_id == bindparam("id"), _PRODUCT_OF)
              .scalar_subquery())


def _per_dialect(build: Callable[[Any], Any]) -> dict[str, Any]:
    """One prebuilt statement per engine, from each dialect's own INSERT (for ON CONFLICT)."""
    return {"sqlite": build(sqlite_insert), "postgresql": build(postgresql_insert)}


# On PostgreSQL, two submissions may name the same new manufacturer, product or certificate at the same moment (on
# SQLite the write lock orders them): the second insert then does nothing, and the row is read back instead.
_INSERT_ORG = _per_dialect(lambda ins: ins(_organizations).on_conflict_do_nothing().returning(_organizations.c.id))
_PRODUCT_BY_MODEL = Prebuilt(select(_products.c.id, _products.c.description).where(
    _products.c.manufacturer_id == bindparam("manufacturer_id"), _products.c.model_key == bindparam("model_key")
))
_PRODUCT_DESCRIPTION = Prebuilt(select(_products.c.description).where(_products.c.id == bindparam("product_id")))
_INSERT_PRODUCT = _per_dialect(lambda ins: Prebuilt(ins(_products).on_conflict_do_nothing().returning(_products.c.id)))
_UPDATE_PRODUCT = update(_products).where(_products.c.id == bindparam("product_id"))
_IDENTIFIERS_OF = Prebuilt(select(_identifiers.c.scheme, _identifiers.c.number).where(
    _identifiers.c.product_id == bindparam("product_id")
))
_INSERT_IDENTIFIERS = _per_dialect(lambda ins: Prebuilt(ins(_identifiers).on_conflict_do_nothing()))
_LOCK_PRODUCTS = (select(_products.c.id).where(_products.c.id.in_(bindparam("ids", expanding=True)))
                  .order_by(_products.c.id).with_for_update(key_share=True))
_INSERT_REPORT = Prebuilt(insert(_reports).returning(_reports.c.id))
_INSERT_REVISION = Prebuilt(insert(_revisions).returning(_revisions.c.id))
_INSERT_EVENT = Prebuilt(insert(_events))


def _unknown_manufacturer(registry_id: str) -> SemanticViolation:
    return SemanticViolation("Unknown manufacturer.", [
        Violation("/product/manufacturer/registry_id", f"no manufacturer '{registry_id}' in the registry")])


def _resolve_manufacturer(session: Session, declared: dict[str, Any], create: bool = True) -> str | None:
    """Find the manufacturer by registry id, else by name and country; register it when first named (or, with
    `create=False`, return None)."""
    conn = session.connection()
    if "registry_id" in declared:
        if conn.execute(_ORG_KIND, {"id": declared["registry_id"]}).scalar() != "manufacturer":
            raise _unknown_manufacturer(declared["registry_id"])
        return declared["registry_id"]
    found = conn.execute(_MANUFACTURER_NAMED, {"country": declared["country"], "key": name_key(declared["name"])}).scalar()
    if found is not None:
        return found
    if not create:
        return None
    base = f"mfr-{declared['country'].lower()}-{_slug(declared['name'])}"
    org_id, n = base, 1
    while conn.execute(_ORG_KIND, {"id": org_id}).first() is not None:
        n += 1
        org_id = f"{base}-{n}"
    inserted = conn.execute(
        _INSERT_ORG[conn.dialect.name],
        dict(id=org_id, kind="manufacturer", name_en=declared["name"], name_zh=declared.get("name_zh"),
             country=declared["country"], demo=False, source="first named in a submitted report", created_at=utcnow()),
    ).scalar()
    if inserted is None:  # registered meanwhile by a concurrent submission: find it (or the next free id) again
        return _resolve_manufacturer(session, declared, create)
    return org_id


@dataclass(frozen=True)
class ResolvedProduct:
    id: int
    manufacturer_id: str
    created: bool  # registered by this write: it holds no other evidence and no identifiers yet


@dataclass(frozen=True)
class ProductLookup:
    """What the registry held of a declared product when it was looked up (a read, before the write lock)."""

    manufacturer_id: str | None  # None: a manufacturer not registered yet
    product_id: int | None  # None: a model not registered yet


def _resolve_product(session: Session, declared: dict[str, Any], now: datetime,
                     lookup: ProductLookup | None = None) -> ResolvedProduct:
    """The product the declaration names, registered when new.

    `lookup`, made before the write lock, spares reads under it: what it found exists for good (nothing is
    deleted); what it did not find is inserted, and if a concurrent submission registered it meanwhile the insert
    does nothing and the row is read. Without one (a revision, already under the lock) the product is read here.
    """
    conn = session.connection()
    key = name_key(declared["model"])
    description = {k: v for k, v in declared.items() if k not in ("manufacturer", "certificates")}
    manufacturer_id = (lookup and lookup.manufacturer_id) or _resolve_manufacturer(session, declared["manufacturer"])
    if lookup is None:
        found = _PRODUCT_BY_MODEL.first(conn, {"manufacturer_id": manufacturer_id, "model_key": key})
    elif lookup.product_id is not None:
        # Read under the lock: a concurrent report may have changed the declaration since the lookup.
        (stored_description,) = _PRODUCT_DESCRIPTION.rows(conn, {"product_id": lookup.product_id})[0]
        found = (lookup.product_id, stored_description)
    else:
        found = None
    if found is None:
        product_id = _INSERT_PRODUCT[conn.dialect.name].scalar(
            conn, dict(manufacturer_id=manufacturer_id, model=declared["model"], model_key=key,
                       category=declared["category"], description=description, created_at=now, updated_at=now),
        )
        if product_id is not None:
            return ResolvedProduct(product_id, manufacturer_id, True)
        # Registered meanwhile by a concurrent submission: this report joins it.
        found = _PRODUCT_BY_MODEL.rows(conn, {"manufacturer_id": manufacturer_id, "model_key": key})[0]
    product_id, stored = found
    if stored != description:
        # The product row is a projection of the latest declaration; every declaration stays in its revision.
        conn.execute(_UPDATE_PRODUCT, dict(product_id=product_id, description=description,
                                           category=declared["category"], updated_at=now))
    return ResolvedProduct(product_id, manufacturer_id, False)


def _record_identifiers(session: Session, product: ResolvedProduct, certificates: list[dict[str, Any]],
                        report_id: int) -> None:
    if not certificates:
        return
    conn = session.connection()
    held = set() if product.created else {
        tuple(row) for row in _IDENTIFIERS_OF.rows(conn, {"product_id": product.id})
    }
    new = []
    for cert in certificates:
        if (cert["scheme"], cert["number"]) not in held:
            new.append(dict(product_id=product.id, scheme=cert["scheme"], number=cert["number"],
                            issuer=cert.get("issuer"), first_report_id=report_id))
            held.add((cert["scheme"], cert["number"]))
    if new:
        _INSERT_IDENTIFIERS[conn.dialect.name].rows(conn, new)


def _digest(document: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest()


# The lab's standing and the catalogue's version in one round trip: every submission needs both; a new report also
# the maker and product it names (see _NAMED_LOOKUP).
_CATALOGUE_VERSION = catalogue_service.LATEST_LOAD.scalar_subquery()
_STANDING_AND_CATALOGUE = Prebuilt(STANDING.add_columns(_CATALOGUE_VERSION))
_CHECKS_AND_NAMED_LOOKUP = Prebuilt(STANDING.add_columns(_CATALOGUE_VERSION, *_NAMED_LOOKUP))
_CHECKS_AND_ID_LOOKUP = Prebuilt(STANDING.add_columns(_CATALOGUE_VERSION, *_ID_LOOKUP))
_VERSION_AT = len(STANDING.selected_columns)


def _validate(session: Session, document: dict[str, Any], today: date, skew_days: int, prefix: str = "",
              look_up: bool = False):
    """Check the document against the catalogue and the lab's standing; return the flags of its results and, with
    `look_up`, what the registry holds of the product it declares (else None)."""
    declared, params = document["product"], {"lab_id": document["lab"]}
    statement, maker = _STANDING_AND_CATALOGUE, declared["manufacturer"]
    if look_up:
        params["model_key"] = name_key(declared["model"])
        if "registry_id" in maker:
            statement, params["id"] = _CHECKS_AND_ID_LOOKUP, maker["registry_id"]
        else:
            statement = _CHECKS_AND_NAMED_LOOKUP
            params.update(country=maker["country"], key=name_key(maker["name"]))
    rows = statement.rows(session.connection(), params)
    standing = standing_of(document["lab"], rows)
    catalogue = catalogue_service.snapshot(session, rows[0][_VERSION_AT] if rows else None)
    violations, flags = check_semantics(document, catalogue, standing, today, skew_days)
    if violations:
        raise SemanticViolation(
            f"{len(violations)} problem(s) with the report's content.",
            [Violation(prefix + x.pointer, x.message) for x in violations],
        )
    if not look_up:
        return flags, None
    # A lab with no accreditation row has no rows here, and was refused just above.
    first, product_id = rows[0][_VERSION_AT + 1:]
    if "registry_id" in maker:
        if first != "manufacturer":
            raise _unknown_manufacturer(maker["registry_id"])
        return flags, ProductLookup(maker["registry_id"], product_id)
    return flags, ProductLookup(first, product_id)


@dataclass(frozen=True)
class _StagedRevision:
    """A revision's rows, built (and their JSON serialized) before the write lock: under it, only the ids are set."""

    document: Any
    document_sha256: str
    results: list[dict[str, Any]]


def _stage_revision(document: dict[str, Any], flags) -> _StagedRevision:
    def json(value: Any) -> Any:  # serialized once here; the engine's JSON serializer passes a Fragment through
        return None if value is None else orjson.Fragment(orjson.dumps(value))

    results = [
        dict(
            position=i, standard_id=r["standard"], clause=r["clause"], clause_verified=flags[i][0],
            test_item_id=r["test_item"], verdict=r["verdict"], performed_on=date.fromisoformat(r["performed_on"]),
            sample_id=r["sample_id"], accredited=flags[i][1], conditions=json(r.get("conditions")),
        )
        for i, r in enumerate(document["results"])
    ]
    return _StagedRevision(json(document), _digest(document), results)


def _insert_revision(
    session: Session, report_id: int, revision: int, staged: _StagedRevision, principal: Principal,
    reason: str | None, now: datetime,
) -> None:
    # Core statements, not ORM objects: a 30-result report is one row, one bulk INSERT and one event.
    conn = session.connection()
    revision_id = _INSERT_REVISION.scalar(
        conn, dict(report_id=report_id, revision=revision, document=staged.document,
                   document_sha256=staged.document_sha256, reason=reason, submitted_by=principal.org_id, submitted_at=now),
    )
    bulk_insert(conn, _results, [dict(row, revision_id=revision_id) for row in staged.results])


def _add_event(session: Session, report_id: int, kind: str, revision: int, actor: str, effective_on: date,
               now: datetime, reason: str | None = None) -> None:
    _INSERT_EVENT.rows(
        session.connection(),
        dict(report_id=report_id, kind=kind, revision=revision, reason=reason, actor_org=actor,
             effective_on=effective_on, recorded_at=now),
    )


@dataclass(frozen=True)
class Filed:
    """What a write use case returns: enough for a receipt, without reloading the report."""

    id: int
    report_number: str
    lab_id: str
    status: str
    current_revision: int
    product_id: int
    manufacturer_id: str
    model: str


def lock_products(session: Session, product_ids: Iterable[int]) -> None:
    """Lock these products until the transaction ends (PostgreSQL; SQLite has one writer at a time anyway).

    PostgreSQL lets two transactions write reports of one product at once. Each locks the product (in id order, so
    two writers never wait on each other crosswise) before deriving anything from its evidence, so the second waits,
    then reads the first's report too, and no product keeps decisions or search rows computed without one of its
    reports. FOR NO KEY UPDATE: the reports' foreign keys hold key-share locks on the row, which FOR UPDATE would
    wait on (a deadlock between two such writers).
    """
    conn = session.connection()
    if conn.dialect.name != "sqlite":  # SQLite's writer holds the whole database already
        conn.execute(_LOCK_PRODUCTS, {"ids": sorted(set(product_ids))}).all()


def _notify(session: Session, *changes: EvidenceChange | int) -> None:
    if not evidence_listeners:
        return
    lock_products(session, (c if isinstance(c, int) else c.product_id for c in changes))
    seen: set[int] = set()
    for change in changes:
        if isinstance(change, int):
            change = EvidenceChange(change)
        if change.product_id in seen:
            continue
        seen.add(change.product_id)
        for listener in evidence_listeners:
            listener(session, change)


def _finish(session: Session, filed: Filed, before_commit: BeforeCommit | None) -> Filed:
    if before_commit is not None:
        before_commit(session, filed)
    session.commit()
    # Rows were written with Core statements: forget any ORM state loaded before them in this session.
    session.expire_all()
    return filed


def _duplicate(report_number: str, lab_id: str) -> Conflict:
    return Conflict(
        "Report number already used by this lab; correct a report by posting a revision.",
        [Violation("/report_number", f"'{report_number}' already exists for {lab_id}")],
    )


def submit_report(
    session: Session, principal: Principal, document: dict[str, Any], *, today: date | None = None,
    skew_days: int = 1, before_commit: BeforeCommit | None = None,
) -> Filed:
    """Validate a lab's report against the schema and the catalogue, and store it with its results.

    Raises:
        ContractViolation: the document breaks the published schema.
        Forbidden: the caller is not the lab the document names.
        SemanticViolation: the content contradicts the catalogue, the lab's accreditation or itself.
        Conflict: the lab already submitted a report with this number.
    """
    require(principal, "report:submit", lab_id=principal.org_id)
    contracts.require_valid(document, "test-report/v1")
    if document["lab"] != principal.org_id:
        raise Forbidden(
            "A lab submits only its own reports.",
            [Violation("/lab", f"your API key belongs to '{principal.org_id}', not '{document['lab']}'")],
        )
    today = today or date.today()
    number = document["report_number"]
    # Checks read; only the writes below hold the write lock, so concurrent submissions validate in parallel.
    flags, lookup = _validate(session, document, today, skew_days, look_up=True)
    flags = tuple(flags)
    model_key = name_key(document["product"]["model"])
    prepared: dict[str, Any] = {}
    if evidence_preparers:
        known = lookup.product_id
        preview = EvidenceChange(known or 0, known is None, 0, document, flags, None, model_key)
        for prepare in evidence_preparers:
            prepared.update(prepare(session, preview))
    staged = _stage_revision(document, flags)
    begin_write(session)
    now = utcnow()
    product = _resolve_product(session, document["product"], now, lookup)
    try:
        # The unique (lab, report number) index refuses a number used before, or by a concurrent submission (no
        # query first: it would cost every submission a round trip to spare a rare duplicate some checking).
        report_id = _INSERT_REPORT.scalar(
            session.connection(),
            dict(lab_id=principal.org_id, report_number=number, product_id=product.id,
                 status="valid", current_revision=1, issued_on=date.fromisoformat(document["issued_on"]),
                 created_at=now, updated_at=now),
        )
    except IntegrityError as exc:
        session.rollback()
        raise _duplicate(number, principal.org_id) from exc
    _insert_revision(session, report_id, 1, staged, principal, None, now)
    _record_identifiers(session, product, document["product"].get("certificates", []), report_id)
    _add_event(session, report_id, "submitted", 1, principal.org_id, today, now)
    _notify(session, EvidenceChange(product.id, product.created, report_id, document, flags, product.manufacturer_id,
                                    model_key, prepared))
    filed = Filed(report_id, number, principal.org_id, "valid", 1, product.id, product.manufacturer_id,
                  document["product"]["model"])
    return _finish(session, filed, before_commit)


def _report_for_write(session: Session, principal: Principal, report_id: int, action: str) -> Report:
    report = session.get(Report, report_id)
    if report is None:
        raise NotFound(f"No report {report_id}.")
    require(principal, action, lab_id=report.lab_id)
    if report.status == "withdrawn":
        raise Conflict("The report is withdrawn; it can no longer change.", [Violation("", "report is withdrawn")])
    return report


def _filed(session: Session, report: Report) -> Filed:
    product = session.get(Product, report.product_id)
    return Filed(report.id, report.report_number, report.lab_id, report.status, report.current_revision,
                 report.product_id, product.manufacturer_id, product.model)


def revise_report(
    session: Session, principal: Principal, report_id: int, document: dict[str, Any], reason: str,
    *, today: date | None = None, skew_days: int = 1, before_commit: BeforeCommit | None = None,
) -> Filed:
    """Store a corrected document as the report's next revision; earlier revisions stay readable."""
    today = today or date.today()
    begin_write(session)
    report = _report_for_write(session, principal, report_id, "report:revise")
    violations = contracts.validate(document, "test-report/v1")
    if violations:
        raise ContractViolation(
            f"{len(violations)} schema violation(s).", [Violation("/document" + x.pointer, x.message) for x in violations]
        )
    wrong = [
        Violation(f"/document/{name}", f"must stay '{was}' in a revision")
        for name, was in (("report_number", report.report_number), ("lab", report.lab_id))
        if document[name] != was
    ]
    if wrong:
        raise SemanticViolation("A revision corrects a report; it cannot rename it.", wrong)
    flags, _ = _validate(session, document, today, skew_days, prefix="/document")
    previous_product = report.product_id
    now = utcnow()
    product = _resolve_product(session, document["product"], now)
    product_id = product.id
    revision = report.current_revision + 1
    _insert_revision(session, report.id, revision, _stage_revision(document, flags), principal, reason, now)
    _record_identifiers(session, product, document["product"].get("certificates", []), report.id)
    _add_event(session, report.id, "revised", revision, principal.org_id, today, now, reason)
    report.current_revision = revision
    report.product_id = product_id
    report.issued_on = date.fromisoformat(document["issued_on"])
    report.updated_at = now
    session.flush()
    _notify(session, previous_product, product_id)
    return _finish(session, _filed(session, report), before_commit)


def withdraw_report(
    session: Session, principal: Principal, report_id: int, reason: str, effective_on: date | None = None,
    *, today: date | None = None, before_commit: BeforeCommit | None = None,
) -> Filed:
    """Withdraw a report: an event with a reason; the report and all its revisions stay readable."""
    today = today or date.today()
    begin_write(session)
    report = _report_for_write(session, principal, report_id, "report:withdraw")
    now = utcnow()
    _add_event(session, report.id, "withdrawn", report.current_revision, principal.org_id, effective_on or today, now,
               reason)
    report.status = "withdrawn"
    report.updated_at = now
    session.flush()
    _notify(session, report.product_id)
    return _finish(session, _filed(session, report), before_commit)


# ---------------------------------------------------------------------------------------------------- reads


def _public_result(document_result: dict[str, Any], row: TestResult | None) -> dict[str, Any]:
    summary = {k: document_result[k] for k in ("standard", "clause", "test_item", "verdict", "performed_on")}
    if row is not None:
        summary["accredited"] = row.accredited
        summary["clause_verified"] = row.clause_verified
    return summary


def report_view(session: Session, principal: Principal, report: Report, revision: ReportRevision | None = None) -> dict[str, Any]:
    """The report as this caller may see it: the public summary, plus details for those entitled to them."""
    if revision is None:
        revision = session.scalar(
            select(ReportRevision).where(ReportRevision.report_id == report.id, ReportRevision.revision == report.current_revision)
        )
    document = revision.document
    product = report.product
    rows = {r.position: r for r in session.scalars(select(TestResult).where(TestResult.revision_id == revision.id))}
    details = can(principal, "report:read_details", lab_id=report.lab_id, manufacturer_id=product.manufacturer_id)
    withdrawal = next((e for e in reversed(report.events) if e.kind == "withdrawn"), None)
    view: dict[str, Any] = {
        "id": report.id,
        "report_number": report.report_number,
        "lab": {"id": report.lab_id, "name": report.lab.name_en},
        "status": report.status,
        "revision": revision.revision,
        "current_revision": report.current_revision,
        "issued_on": document["issued_on"],
        "test_period": document["test_period"],
        "submitted_at": revision.submitted_at,
        "created_at": report.created_at,
        "updated_at": report.updated_at,
        "product": {
            "id": product.id,
            "manufacturer": {"id": product.manufacturer_id, "name": document["product"]["manufacturer"]["name"]},
            "model": document["product"]["model"],
            "category": document["product"]["category"],
            "ratings": document["product"]["ratings"],
            "connectors": document["product"]["connectors"],
            "certificates": document["product"].get("certificates", []),
        },
        "standards": sorted({r["standard"] for r in document["results"]}),
        "results": [_public_result(r, rows.get(i)) for i, r in enumerate(document["results"])],
        "withdrawal": None if withdrawal is None else {
            "reason": withdrawal.reason, "effective_on": withdrawal.effective_on, "recorded_at": withdrawal.recorded_at,
        },
        "details_included": details,
    }
    if details:
        view["document"] = document
        view["document_sha256"] = revision.document_sha256
    return view


def get_report(session: Session, principal: Principal, report_id: int, revision: int | None = None) -> dict[str, Any]:
    require(principal, "report:read_summary")
    report = session.get(Report, report_id)
    if report is None:
        raise NotFound(f"No report {report_id}.")
    rev = None
    if revision is not None:
        rev = session.scalar(
            select(ReportRevision).where(ReportRevision.report_id == report_id, ReportRevision.revision == revision)
        )
        if rev is None:
            raise NotFound(f"Report {report_id} has no revision {revision}.")
    return report_view(session, principal, report, rev)


def list_revisions(session: Session, principal: Principal, report_id: int) -> dict[str, Any]:
    require(principal, "report:read_summary")
    report = session.get(Report, report_id)
    if report is None:
        raise NotFound(f"No report {report_id}.")
    return {
        "report_id": report.id,
        "current_revision": report.current_revision,
        "status": report.status,
        "revisions": [
            {"revision": r.revision, "submitted_at": r.submitted_at, "submitted_by": r.submitted_by,
             "reason": r.reason, "document_sha256": r.document_sha256}
            for r in report.revisions
        ],
        "events": [
            {"kind": e.kind, "revision": e.revision, "reason": e.reason, "actor": e.actor_org,
             "effective_on": e.effective_on, "recorded_at": e.recorded_at}
            for e in report.events
        ],
    }


@dataclass(frozen=True)
class ReportFilter:
    manufacturer: str | None = None
    model: str | None = None
    standard: str | None = None
    lab: str | None = None
    status: str | None = None
    product: int | None = None
    issued_from: date | None = None
    issued_to: date | None = None
    changed_since: datetime | None = None


def list_reports(
    session: Session, principal: Principal, filters: ReportFilter, after_id: int | None, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    """Reports matching the filters in ascending id order (stable for crawling); returns the page and next id."""
    require(principal, "report:read_summary")
    query = (
        select(Report).join(Product, Product.id == Report.product_id).options(joinedload(Report.product)).order_by(Report.id)
    )
    if after_id is not None:
        query = query.where(Report.id > after_id)
    if filters.lab:
        query = query.where(Report.lab_id == filters.lab)
    if filters.status:
        query = query.where(Report.status == filters.status)
    if filters.product:
        query = query.where(Report.product_id == filters.product)
    if filters.issued_from:
        query = query.where(Report.issued_on >= filters.issued_from)
    if filters.issued_to:
        query = query.where(Report.issued_on <= filters.issued_to)
    if filters.changed_since:
        query = query.where(Report.updated_at > filters.changed_since)
    if filters.model:
        query = query.where(Product.model_key.contains(name_key(filters.model), autoescape=True))
    if filters.manufacturer:
        name = filters.manufacturer
        query = query.join(Organization, Organization.id == Product.manufacturer_id).where(
            or_(Organization.id == name, func.lower(Organization.name_en).contains(name.lower(), autoescape=True),
                Organization.name_zh.contains(name, autoescape=True))
        )
    if filters.standard:
        # The search index's standard facet lists, per report, the editions its current revision cites, ordered by
        # standard then report: this reads only the matching reports, where a scan of the results read them all.
        query = query.where(Report.id.in_(
            select(SearchStandard.report_id).where(SearchStandard.standard_id == filters.standard)))
    reports = session.scalars(query.limit(limit + 1)).all()
    more = len(reports) > limit
    reports = reports[:limit]
    items = [_list_item(session, r) for r in reports]
    return items, (reports[-1].id if more and reports else None)


def _list_item(session: Session, report: Report) -> dict[str, Any]:
    product = report.product
    return {
        "id": report.id,
        "report_number": report.report_number,
        "lab": report.lab_id,
        "status": report.status,
        "current_revision": report.current_revision,
        "issued_on": report.issued_on,
        "updated_at": report.updated_at,
        "product": {"id": product.id, "manufacturer": product.manufacturer_id, "model": product.model,
                    "category": product.category},
    }
