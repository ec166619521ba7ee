"""Build the engine's catalogue and lab facts straight from registry/catalogue/*.yaml (no app, no database).

The services layer does the same from database rows; this test-side copy keeps the engine tests free of
both. Status semantics follow registry/catalogue/README.md: the current status is the latest event whose
`effective_on` is on or before the day asked; an event without a date counts from the beginning.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from registry.recognition import CatalogueFacts, LabFacts, ResultEvidence, StandardFacts

CATALOGUE_DIR = Path(__file__).resolve().parents[2] / "registry" / "catalogue"


@lru_cache(maxsize=1)
def catalogue_documents() -> dict[str, Any]:
    """Return the catalogue YAML files merged by top-level key."""
    merged: dict[str, list] = {}
    for path in sorted(CATALOGUE_DIR.glob("*.yaml")):
        for key, value in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).items():
            merged.setdefault(key, []).extend(value)
    return merged


def _d(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


def _status_on(events: list[dict[str, Any]], day: date) -> str | None:
    current = None
    for event in sorted(events, key=lambda e: _d(e.get("effective_on")) or date.min):
        if (_d(event.get("effective_on")) or date.min) <= day:
            current = event["status"]
    return current


def _standard_facts(entry: dict[str, Any]) -> StandardFacts:
    superseded = [e for e in entry.get("status_events") or [] if e["status"] == "superseded"]
    last = max(superseded, key=lambda e: _d(e["effective_on"])) if superseded else None
    adoption = entry.get("adoption") or {}
    return StandardFacts(
        id=entry["id"],
        region=entry.get("region"),
        issued_on=_d(entry.get("issued_on")),
        adoption_of=adoption.get("of"),
        adoption_degree=adoption.get("degree"),
        superseded_by=last.get("superseded_by") if last else None,
        superseded_on=_d(last["effective_on"]) if last else None,
        transition_ends_on=_d(last.get("transition_ends_on")) if last else None,
    )


@lru_cache(maxsize=1)
def catalogue_facts() -> CatalogueFacts:
    """Return the engine's view of the catalogue."""
    docs = catalogue_documents()
    return CatalogueFacts(
        standards={s["id"]: _standard_facts(s) for s in docs["standards"]},
        interface_bound=frozenset(t["id"] for t in docs["test_items"] if t.get("interface_bound")),
        market_bloc={m["code"]: m.get("bloc") for m in docs["markets"]},
        test_item_categories={t["id"]: t["category"] for t in docs["test_items"]},
    )


def _labs() -> dict[str, dict[str, Any]]:
    return {lab["id"]: lab for lab in catalogue_documents()["labs"]}


def _accreditation_valid(acc: dict[str, Any], day: date) -> bool:
    if not (_d(acc["valid_from"]) <= day and (acc.get("valid_until") is None or day <= _d(acc["valid_until"]))):
        return False
    return _status_on(acc.get("status_events") or [], day) == "valid"


def lab_scope(lab_id: str, day: date) -> frozenset[str]:
    """Standards the lab was accredited for on `day`."""
    lab = _labs()[lab_id]
    return frozenset(s for acc in lab["accreditations"] if _accreditation_valid(acc, day) for s in acc["scope"])


def lab_schemes(lab_id: str, day: date) -> frozenset[str]:
    """Schemes the lab stood in on `day`: its own roles, plus those its accreditation bodies signed."""
    lab = _labs()[lab_id]
    schemes = {
        role["scheme"]
        for role in lab.get("scheme_roles") or []
        if _status_on(role.get("status_events") or [], day) == "valid"
        and (role.get("valid_until") is None or day <= _d(role["valid_until"]))
    }
    bodies = {acc["body"] for acc in lab["accreditations"] if _accreditation_valid(acc, day)}
    for scheme in catalogue_documents()["schemes"]:
        for signatory in scheme.get("signatories") or []:
            if signatory["member"] in bodies and _status_on(signatory.get("status_events") or [], day) == "valid":
                schemes.add(scheme["id"])
    return frozenset(schemes)


def lab_country(lab_id: str) -> str:
    """Country of the lab."""
    return _labs()[lab_id]["country"]


def lab_facts(as_of: date) -> tuple[LabFacts, ...]:
    """Every catalogue lab as the delta test plan sees it on `as_of`."""
    return tuple(
        LabFacts(
            lab_id=lab_id,
            name=lab["name"]["en"],
            country=lab["country"],
            scope=lab_scope(lab_id, as_of),
            schemes=lab_schemes(lab_id, as_of),
        )
        for lab_id, lab in sorted(_labs().items())
    )


def evidence_from_json(row: dict[str, Any]) -> ResultEvidence:
    """Build a `ResultEvidence` from a case file's plain JSON object."""
    return ResultEvidence(
        report_id=row["report_id"],
        report_number=row["report_number"],
        revision=row["revision"],
        lab_id=row["lab_id"],
        report_status=row["report_status"],
        withdrawn_on=_d(row.get("withdrawn_on")),
        issued_on=_d(row["issued_on"]),
        standard=row["standard"],
        clause=row.get("clause"),
        test_item=row["test_item"],
        verdict=row["verdict"],
        performed_on=_d(row["performed_on"]),
        accredited=row["accredited"],
        lab_schemes=frozenset(row["lab_schemes"]),
        lab_country=row["lab_country"],
        ambient_min_c=row.get("ambient_min_c"),
        ambient_max_c=row.get("ambient_max_c"),
        supply_frequency_hz=row.get("supply_frequency_hz"),
    )
