"""Read views of the catalogue (standards, test items, markets): public, plain dicts for the API and pages."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from registry.errors import NotFound
from registry.models import Clause, Market, Standard, TestItem


def _status_on(events, day: date) -> str | None:
    status = None
    for e in events:
        if e.effective_on <= day:
            status = e.status
    return status


def _standard_view(s: Standard, as_of: date, adopted_by: list[str]) -> dict[str, Any]:
    return {
        "id": s.id, "body": s.body, "number": s.number, "edition": s.edition,
        "title": {"en": s.title_en, "zh": s.title_zh}, "region": s.region, "mandatory": s.mandatory,
        "issued_on": s.issued_on, "effective_from": s.effective_from, "status": _status_on(s.status_events, as_of),
        "adoption": None if not s.adoption_of else {
            "of": s.adoption_of, "degree": s.adoption_degree, "verified": s.adoption_verified, "source": s.adoption_source,
        },
        "adopted_by": adopted_by,
        "status_events": [
            {"status": e.status, "effective_on": e.effective_on, "reason": e.reason, "acting_org": e.acting_org,
             "superseded_by": e.superseded_by, "transition_ends_on": e.transition_ends_on, "source": e.source}
            for e in s.status_events
        ],
        "clauses": [
            {"clause": c.clause, "clause_known": c.clause_known, "title": {"en": c.title_en, "zh": c.title_zh},
             "test_items": c.test_items, "note": c.note, "verified": c.verified, "source": c.source}
            for c in s.clauses
        ],
        "verified": s.verified, "source": s.source,
    }


def list_standards(
    session: Session, as_of: date, region: str | None = None, body: str | None = None, test_item: str | None = None
) -> list[dict[str, Any]]:
    query = select(Standard).options(selectinload(Standard.clauses), selectinload(Standard.status_events)).order_by(Standard.id)
    if region:
        query = query.where(Standard.region == region.upper())
    if body:
        query = query.where(Standard.body == body)
    standards = session.scalars(query).all()
    if test_item:
        standards = [s for s in standards if any(test_item in c.test_items for c in s.clauses)]
    adopted_by: dict[str, list[str]] = {}
    for sid, of in session.execute(select(Standard.id, Standard.adoption_of).where(Standard.adoption_of.is_not(None))):
        adopted_by.setdefault(of, []).append(sid)
    return [_standard_view(s, as_of, sorted(adopted_by.get(s.id, []))) for s in standards]


def get_standard(session: Session, standard_id: str, as_of: date) -> dict[str, Any]:
    s = session.get(Standard, standard_id)
    if s is None:
        raise NotFound(f"No standard '{standard_id}' in the catalogue.")
    adopted_by = sorted(session.scalars(select(Standard.id).where(Standard.adoption_of == standard_id)))
    return _standard_view(s, as_of, adopted_by)


def list_test_items(session: Session) -> list[dict[str, Any]]:
    defined_in: dict[str, set[str]] = {}
    for standard_id, items in session.execute(select(Clause.standard_id, Clause.test_items)):
        for item in items:
            defined_in.setdefault(item, set()).add(standard_id)
    return [
        {"id": t.id, "name": {"en": t.name_en, "zh": t.name_zh}, "category": t.category,
         "interface_bound": t.interface_bound, "description": t.description,
         "standards": sorted(defined_in.get(t.id, set())), "source": t.source}
        for t in session.scalars(select(TestItem).order_by(TestItem.id))
    ]


def list_markets(session: Session) -> list[dict[str, Any]]:
    markets = session.scalars(select(Market).order_by(Market.code)).all()
    members: dict[str, list[str]] = {}
    for m in markets:
        if m.bloc_code:
            members.setdefault(m.bloc_code, []).append(m.code)
    return [
        {"code": m.code, "kind": m.kind, "name": {"en": m.name_en, "zh": m.name_zh}, "bloc": m.bloc_code,
         "members": members.get(m.code, []),
         "grid": {"voltage_v": m.grid_voltage_v, "frequency_hz": m.grid_frequency_hz},
         "regulator": m.regulator, "researched": m.researched, "source": m.source}
        for m in markets
    ]
