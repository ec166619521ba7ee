"""The only translation from database rows to the recognition engine's plain data.

Builds, for a set of products, their `ProductFacts` and `ResultEvidence` (the current revision of every report
filed for them, with the lab's standing on each test date), plus the catalogue and lab facts the engine needs.
Everything is read in a few set-based queries so a full recompute does not issue one query per product.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Iterable, Sequence

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from registry.models import (
    CatalogueLoad,
    Market,
    Organization,
    Product,
    ProductIdentifier,
    Report,
    ReportEvent,
    ReportRevision,
    SchemeMembershipEvent,
    Standard,
    StandardStatusEvent,
    TestItem,
    TestResult,
)
from registry.recognition import CatalogueFacts, LabFacts, ProductFacts, ResultEvidence, StandardFacts
from registry.services.accreditation import LabStanding, lab_standing, state_on


# ---------------------------------------------------------------------------------------------------- catalogue


_catalogue_cache: dict[tuple[str, int], CatalogueFacts] = {}
_lock = threading.Lock()


def catalogue_facts(session: Session) -> CatalogueFacts:
    """The catalogue as the engine sees it, cached per process until the next catalogue load."""
    version = session.scalar(select(func.max(CatalogueLoad.id))) or 0
    key = (str(session.get_bind().engine.url), version)
    cached = _catalogue_cache.get(key)
    if cached is not None:
        return cached
    superseded: dict[str, tuple] = {}
    for e in session.scalars(
        select(StandardStatusEvent).where(StandardStatusEvent.status == "superseded")
        .order_by(StandardStatusEvent.effective_on, StandardStatusEvent.id)
    ):
        superseded.setdefault(e.standard_id, (e.superseded_by, e.effective_on, e.transition_ends_on))
    standards = {
        s.id: StandardFacts(
            id=s.id, region=s.region, issued_on=s.issued_on, adoption_of=s.adoption_of,
            adoption_degree=s.adoption_degree, superseded_by=superseded.get(s.id, (None,))[0],
            superseded_on=superseded.get(s.id, (None, None))[1], transition_ends_on=superseded.get(s.id, (None, None, None))[2],
        )
        for s in session.scalars(select(Standard))
    }
    items = session.execute(select(TestItem.id, TestItem.interface_bound, TestItem.category)).all()
    facts = CatalogueFacts(
        standards=standards,
        interface_bound=frozenset(i.id for i in items if i.interface_bound),
        market_bloc={m.code: m.bloc_code for m in session.scalars(select(Market))},
        test_item_categories={i.id: i.category for i in items},
    )
    with _lock:
        _catalogue_cache[key] = facts
    return facts


# ---------------------------------------------------------------------------------------------------- schemes


@dataclass(frozen=True)
class SchemeTimeline:
    """Who stood in which scheme when: [(scheme, member, status, effective_on)], replayed per date."""

    events: dict[str, list[tuple[str, str, date | None]]]  # member -> [(scheme, status, effective_on)]

    def schemes_of(self, member: str, day: date) -> set[str]:
        standing: dict[str, str] = {}
        for scheme, status, effective_on in self.events.get(member, ()):
            # An event without a date: the sources confirm the standing but not since when; take it as in force.
            if effective_on is None or effective_on <= day:
                standing[scheme] = status
        return {scheme for scheme, status in standing.items() if status == "valid"}


def scheme_timeline(session: Session) -> SchemeTimeline:
    events: dict[str, list] = defaultdict(list)
    rows = session.execute(
        select(SchemeMembershipEvent.member_id, SchemeMembershipEvent.scheme_id, SchemeMembershipEvent.status,
               SchemeMembershipEvent.effective_on)
        .order_by(SchemeMembershipEvent.effective_on.is_(None).desc(), SchemeMembershipEvent.effective_on,
                  SchemeMembershipEvent.id)
    )
    for member, scheme, status, effective_on in rows:
        events[member].append((scheme, status, effective_on))
    return SchemeTimeline(dict(events))


def lab_schemes_on(standing: LabStanding, timeline: SchemeTimeline, standard: str, day: date) -> frozenset[str]:
    """Schemes a result inherits on its test date: the lab's own roles, and those of the bodies accrediting it for it."""
    schemes = set(timeline.schemes_of(standing.lab_id, day))
    for accreditation in standing.accreditations:
        state = state_on(accreditation, day)
        if state.active and standard in state.scope:
            schemes |= timeline.schemes_of(accreditation.body_id, day)
    return frozenset(schemes)


# ---------------------------------------------------------------------------------------------------- labs


def lab_facts(session: Session, as_of: date, timeline: SchemeTimeline | None = None,
              standings: dict[str, LabStanding] | None = None) -> tuple[LabFacts, ...]:
    """Every lab with the standards it may test to on `as_of` (for the delta test plan)."""
    timeline = timeline or scheme_timeline(session)
    out = []
    for lab in session.scalars(select(Organization).where(Organization.kind == "lab").order_by(Organization.id)):
        standing = (standings or {}).get(lab.id) or lab_standing(session, lab.id)
        scope: set[str] = set()
        schemes = set(timeline.schemes_of(lab.id, as_of))
        for accreditation in standing.accreditations:
            state = state_on(accreditation, as_of)
            if state.active:
                scope |= state.scope
                schemes |= timeline.schemes_of(accreditation.body_id, as_of)
        if scope:
            out.append(LabFacts(lab.id, lab.name_en, lab.country or "", frozenset(scope), frozenset(schemes)))
    return tuple(out)


# ---------------------------------------------------------------------------------------------------- products


def _facts_of(product: Product, certificates: Iterable[tuple[str, str]]) -> ProductFacts:
    return declared_facts(product.id, product.category, product.description, certificates)


def declared_facts(product_id: int, category: str, description: dict | None,
                   certificates: Iterable[tuple[str, str]]) -> ProductFacts:
    """The engine's view of a product from its declaration (the `product` of its latest report, as stored)."""
    d = description or {}
    ratings = d.get("ratings", {})
    return ProductFacts(
        product_id=product_id,
        category=category,
        max_power_kw=float(ratings.get("max_power_kw") or 0),
        connectors=frozenset(d.get("connectors", [])),
        cooling=d.get("cooling", ""),
        liquid_cooled_cable=bool(d.get("liquid_cooled_cable", False)),
        input_frequency_hz=(ratings.get("input") or {}).get("frequency_hz"),
        ip_code=d.get("ip_code"),
        certificates=frozenset(certificates),
    )


def product_facts(session: Session, product_ids: Sequence[int]) -> dict[int, ProductFacts]:
    certificates: dict[int, list] = defaultdict(list)
    for pid, scheme, number in session.execute(
        select(ProductIdentifier.product_id, ProductIdentifier.scheme, ProductIdentifier.number)
        .where(ProductIdentifier.product_id.in_(product_ids))
    ):
        certificates[pid].append((scheme, number))
    return {
        p.id: _facts_of(p, certificates.get(p.id, ()))
        for p in session.scalars(select(Product).where(Product.id.in_(product_ids)))
    }


def evidence_of_document(
    report_id: int, document: dict, flags: Sequence[tuple[bool, bool]], lab_country: str, standing: LabStanding,
    timeline: SchemeTimeline,
) -> tuple[ResultEvidence, ...]:
    """The evidence of a report just filed, from the document in hand: what `evidence_for` would read back."""
    issued_on = date.fromisoformat(document["issued_on"])
    out = []
    schemes_cache: dict[tuple[str, date], frozenset[str]] = {}
    for (_verified, accredited), result in zip(flags, document["results"]):
        performed_on = date.fromisoformat(result["performed_on"])
        key = (result["standard"], performed_on)
        if key not in schemes_cache:
            schemes_cache[key] = lab_schemes_on(standing, timeline, result["standard"], performed_on)
        conditions = result.get("conditions") or {}
        ambient = conditions.get("ambient_temperature_c") or {}
        out.append(ResultEvidence(
            report_id=report_id, report_number=document["report_number"], revision=1, lab_id=document["lab"],
            report_status="valid", withdrawn_on=None, issued_on=issued_on, standard=result["standard"],
            clause=result["clause"], test_item=result["test_item"], verdict=result["verdict"],
            performed_on=performed_on, accredited=accredited, lab_schemes=schemes_cache[key],
            lab_country=lab_country or "", ambient_min_c=ambient.get("min"), ambient_max_c=ambient.get("max"),
            supply_frequency_hz=conditions.get("supply_frequency_hz"),
        ))
    return tuple(out)


def evidence_for(
    session: Session, product_ids: Sequence[int], timeline: SchemeTimeline | None = None,
    standings: dict[str, LabStanding] | None = None,
) -> dict[int, tuple[ResultEvidence, ...]]:
    """The current revision's results of every report filed for these products, as engine evidence."""
    timeline = timeline or scheme_timeline(session)
    standings = standings if standings is not None else {}
    withdrawn_on = dict(session.execute(
        select(ReportEvent.report_id, func.min(ReportEvent.effective_on))
        .join(Report, Report.id == ReportEvent.report_id)
        .where(Report.product_id.in_(product_ids), ReportEvent.kind == "withdrawn")
        .group_by(ReportEvent.report_id)
    ).all())
    rows = session.execute(
        select(
            Report.product_id, Report.id, Report.report_number, Report.current_revision, Report.lab_id, Report.status,
            Report.issued_on, Organization.country, TestResult.standard_id, TestResult.clause, TestResult.test_item_id,
            TestResult.verdict, TestResult.performed_on, TestResult.accredited, TestResult.conditions,
        )
        .join(ReportRevision, and_(ReportRevision.report_id == Report.id,
                                   ReportRevision.revision == Report.current_revision))
        .join(TestResult, TestResult.revision_id == ReportRevision.id)
        .join(Organization, Organization.id == Report.lab_id)
        .where(Report.product_id.in_(product_ids))
        .order_by(Report.product_id, Report.id, TestResult.position)
    )
    out: dict[int, list[ResultEvidence]] = defaultdict(list)
    schemes_cache: dict[tuple[str, str, date], frozenset[str]] = {}
    for (product_id, report_id, number, revision, lab_id, status, issued_on, country, standard, clause, item,
         verdict, performed_on, accredited, conditions) in rows:
        if lab_id not in standings:
            standings[lab_id] = lab_standing(session, lab_id)
        key = (lab_id, standard, performed_on)
        if key not in schemes_cache:
            schemes_cache[key] = lab_schemes_on(standings[lab_id], timeline, standard, performed_on)
        conditions = conditions or {}
        ambient = conditions.get("ambient_temperature_c") or {}
        out[product_id].append(ResultEvidence(
            report_id=report_id, report_number=number, revision=revision, lab_id=lab_id, report_status=status,
            withdrawn_on=withdrawn_on.get(report_id), issued_on=issued_on, standard=standard, clause=clause,
            test_item=item, verdict=verdict, performed_on=performed_on, accredited=accredited,
            lab_schemes=schemes_cache[key], lab_country=country or "",
            ambient_min_c=ambient.get("min"), ambient_max_c=ambient.get("max"),
            supply_frequency_hz=conditions.get("supply_frequency_hz"),
        ))
    return {pid: tuple(out.get(pid, ())) for pid in product_ids}
