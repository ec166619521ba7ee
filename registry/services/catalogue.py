"""The standards catalogue: load the YAML reference data into the database, and serve it from a per-process cache.

Loading is idempotent: unchanged files change nothing; changed reference rows are updated in place (they are
reference data, not records), while status *events* are only ever added, never rewritten, so history written by
regulators through the API is never lost by a reload.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Iterable

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry import contracts
from registry.errors import CatalogueError
from registry.models import (
    Accreditation,
    AccreditationBody,
    AccreditationEvent,
    CatalogueLoad,
    Clause,
    Market,
    Organization,
    RecognitionScheme,
    SchemeMembershipEvent,
    Standard,
    StandardStatusEvent,
    TestItem,
    Unit,
)

CATALOGUE_FILES = ("markets.yaml", "test_items.yaml", "standards.yaml", "accreditation.yaml", "labs.yaml")


def read_catalogue(folder: str | Path) -> tuple[dict[str, Any], str]:
    """Read and validate the catalogue files; return the merged document and a checksum of the files."""
    folder = Path(folder)
    merged: dict[str, Any] = {}
    digest = hashlib.sha256()
    for name in CATALOGUE_FILES:
        path = folder / name
        if not path.exists():
            raise CatalogueError(f"catalogue file missing: {path}")
        raw = path.read_bytes()
        digest.update(name.encode() + b"\0" + raw)
        document = yaml.safe_load(raw) or {}
        violations = contracts.validate(document, "catalogue/v1")
        if violations:
            raise CatalogueError(f"{name} does not conform to schemas/catalogue/v1.json", violations)
        for key, value in document.items():
            merged.setdefault(key, []).extend(value)
    return merged, digest.hexdigest()


def _d(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _text(value: dict[str, str] | None, lang: str) -> str | None:
    return (value or {}).get(lang)


def _upsert(session: Session, model, key: Any, **values) -> Any:
    row = session.get(model, key)
    if row is None:
        row = model(**values)
        session.add(row)
    else:
        for name, value in values.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
    return row


def load_catalogue(session: Session, folder: str | Path) -> dict[str, int] | None:
    """Load the catalogue into the database in one transaction; return counts, or None if nothing changed."""
    document, checksum = read_catalogue(folder)
    latest = session.scalar(select(CatalogueLoad).order_by(CatalogueLoad.id.desc()).limit(1))
    if latest is not None and latest.checksum == checksum:
        return None

    for m in document.get("markets", []):
        _upsert(
            session, Market, m["code"], code=m["code"], kind=m["kind"], name_en=m["name"]["en"],
            name_zh=_text(m["name"], "zh"), bloc_code=m.get("bloc"),
            grid_voltage_v=(m.get("grid") or {}).get("voltage_v"),
            grid_frequency_hz=(m.get("grid") or {}).get("frequency_hz"),
            regulator=m.get("regulator"), researched=m.get("researched", True), source=m["source"],
        )
    session.flush()

    for t in document.get("test_items", []):
        _upsert(
            session, TestItem, t["id"], id=t["id"], name_en=t["name"]["en"], name_zh=_text(t["name"], "zh"),
            category=t["category"], interface_bound=t.get("interface_bound", False),
            description=t.get("description"), source=t["source"],
        )
    for u in document.get("units", []):
        _upsert(session, Unit, u["symbol"], symbol=u["symbol"], quantity=u["quantity"])
    session.flush()

    standards = document.get("standards", [])
    # Two passes: adoption and supersession links point at standards that may come later in the file.
    for s in standards:
        adoption = s.get("adoption") or {}
        _upsert(
            session, Standard, s["id"], id=s["id"], body=s["body"], number=s["number"], edition=s.get("edition"),
            title_en=_text(s.get("title"), "en"), title_zh=_text(s.get("title"), "zh"), region=s["region"],
            mandatory=s.get("mandatory", False), issued_on=_d(s.get("issued_on")),
            effective_from=_d(s.get("effective_from")), adoption_of=None,
            adoption_degree=adoption.get("degree"), adoption_verified=adoption.get("verified"),
            adoption_source=adoption.get("source"), verified=s.get("verified", True), source=s["source"],
        )
    session.flush()
    for s in standards:
        row = session.get(Standard, s["id"])
        row.adoption_of = (s.get("adoption") or {}).get("of")
        _replace_clauses(session, row, s.get("clauses", []))
        _add_events(
            session, StandardStatusEvent, {"standard_id": s["id"]},
            [
                dict(
                    status=e["status"], effective_on=_d(e["effective_on"]), reason=e.get("reason"),
                    acting_org=e.get("acting_org"), superseded_by=e.get("superseded_by"),
                    transition_ends_on=_d(e.get("transition_ends_on")), source=e.get("source", s["source"]),
                )
                for e in s.get("status_events", [])
            ],
            natural_key=("status", "effective_on"),
        )
    session.flush()

    for b in document.get("accreditation_bodies", []):
        _upsert(
            session, AccreditationBody, b["id"], id=b["id"], name_en=b["name"]["en"], name_zh=_text(b["name"], "zh"),
            country=b["country"], verified=b.get("verified", True), source=b["source"],
        )
    session.flush()

    for lab in document.get("labs", []):
        _upsert(
            session, Organization, lab["id"], id=lab["id"], kind="lab", name_en=lab["name"]["en"],
            name_zh=_text(lab["name"], "zh"), country=lab["country"], demo=lab.get("demo", False),
            source=lab["source"],
        )
    session.flush()

    for sc in document.get("schemes", []):
        _upsert(
            session, RecognitionScheme, sc["id"], id=sc["id"], kind=sc["kind"], name_en=sc["name"]["en"],
            name_zh=_text(sc["name"], "zh"), relies_on=sc.get("relies_on", []), description=sc.get("description"),
            source=sc["source"],
        )
        session.flush()
        for member in sc.get("signatories", []):
            kind = member.get("member_kind") or (
                "lab" if session.get(Organization, member["member"]) else "accreditation_body"
            )
            _add_scheme_events(session, sc["id"], member["member"], kind, member.get("role"), member, sc["source"])

    for lab in document.get("labs", []):
        for acc in lab.get("accreditations", []):
            _load_accreditation(session, lab, acc)
        for role in lab.get("scheme_roles", []):
            _add_scheme_events(session, role["scheme"], lab["id"], "lab", role.get("role"), role, lab["source"])

    counts = {
        "markets": len(document.get("markets", [])),
        "test_items": len(document.get("test_items", [])),
        "units": len(document.get("units", [])),
        "standards": len(standards),
        "clauses": sum(len(s.get("clauses", [])) for s in standards),
        "accreditation_bodies": len(document.get("accreditation_bodies", [])),
        "schemes": len(document.get("schemes", [])),
        "labs": len(document.get("labs", [])),
    }
    session.add(CatalogueLoad(checksum=checksum, counts=counts))
    session.flush()
    return counts


def _replace_clauses(session: Session, standard: Standard, clauses: list[dict[str, Any]]) -> None:
    # Results keep the clause text they were reported with, so clause rows can be replaced wholesale.
    wanted = [
        dict(
            standard_id=standard.id, clause=c.get("clause"), clause_known=c.get("clause_known", c.get("clause") is not None),
            title_en=_text(c.get("title"), "en"), title_zh=_text(c.get("title"), "zh"),
            test_items=list(c.get("test_items", [])), note=c.get("note"), verified=c.get("verified", True),
            source=c.get("source", standard.source),
        )
        for c in clauses
    ]
    current = [
        dict(
            standard_id=r.standard_id, clause=r.clause, clause_known=r.clause_known, title_en=r.title_en,
            title_zh=r.title_zh, test_items=list(r.test_items), note=r.note, verified=r.verified, source=r.source,
        )
        for r in standard.clauses
    ]
    if current == wanted:
        return
    for row in list(standard.clauses):
        session.delete(row)
    session.flush()
    for values in wanted:
        session.add(Clause(**values))


def _add_events(session: Session, model, owner: dict[str, Any], events: Iterable[dict[str, Any]], natural_key) -> None:
    """Insert the events not already recorded (matched on owner + natural key); never change or drop one."""
    existing = {
        tuple(getattr(row, k) for k in natural_key)
        for row in session.scalars(select(model).filter_by(**owner))
    }
    for values in events:
        key = tuple(values[k] for k in natural_key)
        if key not in existing:
            session.add(model(**owner, **values))
            existing.add(key)


def _add_scheme_events(session, scheme_id, member_id, member_kind, role, entry, default_source) -> None:
    _add_events(
        session, SchemeMembershipEvent,
        {"scheme_id": scheme_id, "member_id": member_id},
        [
            dict(
                member_kind=member_kind, role=role, scope=entry.get("scope"), status=e["status"],
                effective_on=_d(e["effective_on"]), reason=e.get("reason"), acting_org=e.get("acting_org"),
                verified=e.get("verified", entry.get("verified", True)), source=e.get("source", default_source),
            )
            for e in entry.get("status_events", [])
        ],
        natural_key=("status", "effective_on"),
    )


_ACTIONS = {"valid": "grant", "suspended": "suspend", "withdrawn": "withdraw", "expired": "expire",
            "cancelled": "withdraw", "superseded": "withdraw"}


def _load_accreditation(session: Session, lab: dict[str, Any], acc: dict[str, Any]) -> None:
    row = session.scalar(
        select(Accreditation).where(Accreditation.body_id == acc["body"], Accreditation.number == acc["number"])
    )
    values = dict(
        lab_id=lab["id"], body_id=acc["body"], number=acc["number"], basis=acc.get("standard", "ISO/IEC 17025"),
        valid_from=_d(acc["valid_from"]), valid_until=_d(acc.get("valid_until")), source=lab["source"],
    )
    if row is None:
        row = Accreditation(**values)
        session.add(row)
        session.flush()
    else:
        for name, value in values.items():
            setattr(row, name, value)
    events = []
    seen_valid = False
    for e in acc.get("status_events", []):
        action = e.get("action") or _ACTIONS[e["status"]]
        if e["status"] == "valid" and seen_valid and not e.get("action"):
            action = "restore"
        seen_valid = seen_valid or e["status"] == "valid"
        events.append(
            dict(
                action=action, status=e["status"],
                # The grant carries the catalogue scope; a later event only changes it if it says so.
                scope=e.get("scope", acc["scope"] if action == "grant" else None),
                effective_on=_d(e["effective_on"]), reason=e.get("reason") or action,
                acting_org=e.get("acting_org") or acc["body"], source=e.get("source", lab["source"]),
            )
        )
    _add_events(session, AccreditationEvent, {"accreditation_id": row.id}, events, natural_key=("action", "effective_on"))


# ---------------------------------------------------------------------------------------------------- cache


@dataclass(frozen=True)
class StandardFacts:
    id: str
    effective_from: date | None
    issued_on: date | None
    clause_items: dict[str, frozenset[str]]  # clause as published -> test items it defines
    unnumbered_items: frozenset[str]  # test items whose clause the sources do not give


@dataclass(frozen=True)
class CatalogueSnapshot:
    """What submission checks need from the catalogue, held in memory and versioned by the latest load."""

    version: int
    standards: dict[str, StandardFacts] = field(default_factory=dict)
    test_items: frozenset[str] = frozenset()
    units: frozenset[str] = frozenset()


_cache: dict[str, CatalogueSnapshot] = {}
_cache_lock = threading.Lock()


LATEST_LOAD = select(func.max(CatalogueLoad.__table__.c.id))


def snapshot(session: Session, version: int | None = None) -> CatalogueSnapshot:
    """The catalogue as of its latest load; rebuilt only when a newer load exists (one indexed query per call, or
    none when the caller read `LATEST_LOAD` along with something else: `version`)."""
    if version is None:
        version = session.connection().execute(LATEST_LOAD).scalar()
    version = version or 0
    key = str(session.get_bind().engine.url)
    cached = _cache.get(key)
    if cached is not None and cached.version == version:
        return cached
    with _cache_lock:
        built = _build_snapshot(session, version)
        _cache[key] = built
        return built


def _build_snapshot(session: Session, version: int) -> CatalogueSnapshot:
    by_standard: dict[str, dict[str, set[str]]] = {}
    unnumbered: dict[str, set[str]] = {}
    for c in session.scalars(select(Clause)):
        if c.clause is None:
            unnumbered.setdefault(c.standard_id, set()).update(c.test_items)
        else:
            by_standard.setdefault(c.standard_id, {}).setdefault(c.clause, set()).update(c.test_items)
    standards = {
        s.id: StandardFacts(
            id=s.id, effective_from=s.effective_from, issued_on=s.issued_on,
            clause_items={k: frozenset(v) for k, v in by_standard.get(s.id, {}).items()},
            unnumbered_items=frozenset(unnumbered.get(s.id, set())),
        )
        for s in session.scalars(select(Standard))
    }
    return CatalogueSnapshot(
        version=version, standards=standards,
        test_items=frozenset(session.scalars(select(TestItem.id))),
        units=frozenset(session.scalars(select(Unit.symbol))),
    )
