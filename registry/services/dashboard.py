"""A manufacturer's dashboard: its products x markets, tests still owed, savings to date, what expires soon.

Everything is read from the materialized decisions (`decisions` table): the dashboard never runs the engine. Only
the parts of each decision a dashboard needs (the delta test plan and the savings) are extracted by the database's
JSON operators, not the whole per-requirement detail.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any, Iterator

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from registry.errors import NotFound
from registry.models import (
    Accreditation,
    AccreditationEvent,
    Decision,
    DecisionPlan,
    Organization,
    Product,
    Report,
    SearchDocument,
    SearchStandard,
    StandardStatusEvent,
)
from registry.services import decisions, lookup, rulebooks
from registry.services.permissions import Principal, require

HORIZON_DAYS = 90
PAGE_SIZE = 25
VERDICTS = ("accessible", "accessible_with_conditions", "blocked")


def _maker(session: Session, manufacturer_id: str) -> Organization:
    org = session.get(Organization, manufacturer_id)
    if org is None or org.kind != "manufacturer":
        raise NotFound(f"No manufacturer '{manufacturer_id}'.")
    return org


def manufacturers(session: Session, principal: Principal) -> list[dict[str, Any]]:
    """Every manufacturer with its product count (the regulators' way into the dashboards)."""
    require(principal, "dashboard:read", manufacturer_id=None)
    counts = dict(session.execute(select(Product.manufacturer_id, func.count()).group_by(Product.manufacturer_id)).all())
    return [{"id": o.id, "name": lookup.bilingual(o.name_en, o.name_zh), "country": o.country,
             "products": counts.get(o.id, 0)}
            for o in session.scalars(select(Organization).where(Organization.kind == "manufacturer")
                                     .order_by(Organization.name_en))]


def _decision_rows(session: Session, product_ids: list[int]) -> Iterator[Any]:
    """The maker's decisions with their plans and savings (from decision_plans; parsed from the detail only for a
    decision written without one, e.g. by hand)."""
    for start in range(0, len(product_ids), 500):
        chunk = product_ids[start:start + 500]
        rows = session.execute(
            select(Decision.product_id, Decision.market, Decision.verdict, Decision.recognized, Decision.conditional,
                   Decision.owed, Decision.rulebook_version, Decision.as_of, Decision.computed_at,
                   DecisionPlan.plan, DecisionPlan.savings, DecisionPlan.conditional_savings)
            .outerjoin(DecisionPlan, and_(DecisionPlan.product_id == Decision.product_id,
                                          DecisionPlan.market == Decision.market))
            .where(Decision.product_id.in_(chunk)).order_by(Decision.product_id, Decision.market)).all()
        missing = [(r.product_id, r.market) for r in rows if r.plan is None]
        extracted = {}
        if missing:
            for pid, market, plan, savings, conditional in session.execute(
                select(Decision.product_id, Decision.market, Decision.detail["delta_test_plan"],
                       Decision.detail["savings"], Decision.detail["conditional_savings"])
                .where(Decision.product_id.in_(sorted({p for p, _m in missing})))
            ):
                extracted[(pid, market)] = (plan, savings, conditional)
        for r in rows:
            if r.plan is None and (r.product_id, r.market) in extracted:
                plan, savings, conditional = extracted[(r.product_id, r.market)]
                r = r._replace(plan=plan, savings=savings, conditional_savings=conditional)
            yield r


def dashboard_for(session: Session, principal: Principal, manufacturer_id: str, page: int = 1,
                  per_page: int = PAGE_SIZE, today: date | None = None) -> dict[str, Any]:
    """The dashboard of one manufacturer (its own people, regulators and admins only)."""
    require(principal, "dashboard:read", manufacturer_id=manufacturer_id)
    org = _maker(session, manufacturer_id)
    today = today or date.today()
    names = lookup.market_names(session)
    markets = decisions.target_markets(session)
    products = session.execute(select(Product.id, Product.model, Product.category)
                               .where(Product.manufacturer_id == manufacturer_id)
                               .order_by(Product.model, Product.id)).all()
    product_ids = [p.id for p in products]
    models = {p.id: p.model for p in products}
    items = lookup.test_item_names(session)

    cells: dict[int, dict[str, dict[str, Any]]] = {pid: {} for pid in product_ids}
    per_market = {m: {"market": names[m], "verdicts": {v: 0 for v in VERDICTS}, "tests": 0, "cost_min": 0,
                      "cost_max": 0, "lead_time_days": 0, "items": {}, "tests_avoided": 0, "saved_min": 0,
                      "saved_max": 0, "days_avoided": 0} for m in markets}
    savings = {"tests_avoided": 0, "cost_min": 0, "cost_max": 0, "days_avoided": 0}
    conditional_savings = dict(savings)
    currency = None
    computed_at = None
    versions: set[int] = set()
    stale = False
    current_version = lookup.published_version(session)
    for d in _decision_rows(session, product_ids):
        if d.market not in per_market:
            continue
        plan = d.plan or {"items": [], "total_cost_min": 0, "total_cost_max": 0, "lead_time_days": 0}
        cells[d.product_id][d.market] = {"verdict": d.verdict, "recognized": d.recognized,
                                         "conditional": d.conditional, "owed": d.owed,
                                         "cost_min": plan.get("total_cost_min", 0),
                                         "cost_max": plan.get("total_cost_max", 0),
                                         "lead_time_days": plan.get("lead_time_days", 0)}
        m = per_market[d.market]
        m["verdicts"][d.verdict] = m["verdicts"].get(d.verdict, 0) + 1
        m["tests"] += len(plan.get("items", []))
        m["cost_min"] += plan.get("total_cost_min", 0)
        m["cost_max"] += plan.get("total_cost_max", 0)
        m["lead_time_days"] = max(m["lead_time_days"], plan.get("lead_time_days", 0) or 0)
        currency = currency or plan.get("currency")
        for item in plan.get("items", []):
            entry = m["items"].setdefault(item["test_item"], {
                "test_item": item["test_item"], "name": items.get(item["test_item"], lookup.bilingual(item["test_item"], None)),
                "products": 0, "cost_min": item["cost_min"], "cost_max": item["cost_max"],
                "lead_time_days": item["lead_time_days"], "labs": set(), "standards": set()})
            entry["products"] += 1
            entry["labs"].update(item.get("labs", []))
            entry["standards"].update(item.get("standards", []))
        for target, source in ((savings, d.savings), (conditional_savings, d.conditional_savings)):
            for key in target:
                target[key] += (source or {}).get(key, 0) or 0
        s = d.savings or {}
        m["tests_avoided"] += s.get("tests_avoided", 0)
        m["saved_min"] += s.get("cost_min", 0)
        m["saved_max"] += s.get("cost_max", 0)
        m["days_avoided"] += s.get("days_avoided", 0)
        versions.add(d.rulebook_version)
        stale = stale or d.as_of != today or d.rulebook_version != current_version
        computed_at = d.computed_at if computed_at is None or d.computed_at > computed_at else computed_at

    labs = lookup.org_names(session, sorted({lab for m in per_market.values() for i in m["items"].values()
                                             for lab in i["labs"]}))
    for m in per_market.values():
        m["items"] = sorted(({**i, "labs": [labs.get(lab, {"id": lab, "name": lookup.bilingual(lab, None)})
                                             for lab in sorted(i["labs"])], "standards": sorted(i["standards"])}
                             for i in m["items"].values()), key=lambda i: (-i["products"], i["test_item"]))

    pages = max(1, math.ceil(len(products) / per_page))
    page = min(max(page, 1), pages)
    shown = products[(page - 1) * per_page: page * per_page]
    return {
        "manufacturer": {"id": org.id, "name": lookup.bilingual(org.name_en, org.name_zh), "country": org.country},
        "markets": [names[m] for m in markets],
        "rows": [{"id": p.id, "model": p.model, "category": p.category,
                  "cells": [cells[p.id].get(m) for m in markets]} for p in shown],
        "page": page, "pages": pages, "product_count": len(products),
        "per_market": [per_market[m] for m in markets],
        "savings": savings, "conditional_savings": conditional_savings, "currency": currency or "EUR",
        "expiring": expiring(session, manufacturer_id, product_ids, models, today),
        "horizon_days": HORIZON_DAYS, "today": today, "computed_at": computed_at,
        "rulebook_versions": sorted(versions), "current_rulebook_version": current_version, "stale": stale,
    }


_windows: dict[int, list[tuple[str, str, str, date]]] = {}


def acceptance_windows(session: Session) -> list[tuple[str, str, str, date]]:
    """(market, requirement, standard, accepted until) of the published rulebook; cached (it never changes)."""
    version = lookup.published_version(session)
    if version not in _windows:
        found = []
        for market, block in (rulebooks.get_version(session, version).document.get("markets") or {}).items():
            for requirement in block.get("requirements", []):
                for accepted in requirement.get("accepted_standards", []):
                    if isinstance(accepted, dict) and lookup.parse_day(accepted.get("accepted_until")):
                        found.append((market, requirement["id"], accepted.get("standard"),
                                      lookup.parse_day(accepted["accepted_until"])))
        _windows[version] = found
    return _windows[version]


def expiring(session: Session, manufacturer_id: str, product_ids: list[int], models: dict[int, str],
             today: date) -> list[dict[str, Any]]:
    """What expires or leaves a transition period within the horizon, and which products it touches."""
    until = today + timedelta(days=HORIZON_DAYS)
    out: list[dict[str, Any]] = []

    def products_of(ids):
        return [{"id": pid, "model": models[pid]} for pid in sorted(set(ids)) if pid in models]

    for pid, certs in lookup.certificates_of(session, product_ids).items():
        for c in certs:
            if c["valid_until"] and today <= c["valid_until"] <= until:
                out.append({"kind": "certificate", "on": c["valid_until"], "subject": f"{c['scheme']} {c['number']}",
                            "issuer": c.get("issuer"), "products": products_of([pid])})

    # Standard editions the maker's valid reports cite: a supersession, withdrawal or transition end ahead.
    cited: dict[str, set[int]] = {}
    for sid, pid in session.execute(
        select(SearchStandard.standard_id, SearchDocument.product_id)
        .join(SearchDocument, SearchDocument.report_id == SearchStandard.report_id)
        .where(SearchDocument.product_id.in_(product_ids), SearchDocument.status == "valid")
    ):
        cited.setdefault(sid, set()).add(pid)
    if cited:
        for e in session.execute(
            select(StandardStatusEvent.standard_id, StandardStatusEvent.status, StandardStatusEvent.effective_on,
                   StandardStatusEvent.transition_ends_on, StandardStatusEvent.superseded_by)
            .where(StandardStatusEvent.standard_id.in_(list(cited)))
        ):
            if e.status in ("superseded", "withdrawn") and today <= e.effective_on <= until:
                out.append({"kind": f"standard_{e.status}", "on": e.effective_on, "subject": e.standard_id,
                            "successor": e.superseded_by, "products": products_of(cited[e.standard_id])})
            if e.transition_ends_on and today <= e.transition_ends_on <= until:
                out.append({"kind": "transition_ends", "on": e.transition_ends_on, "subject": e.standard_id,
                            "successor": e.superseded_by, "products": products_of(cited[e.standard_id])})
        # Market rules that stop accepting an edition the maker's results use.
        for market, requirement, standard, ends in acceptance_windows(session):
            if today <= ends <= until and standard in cited:
                out.append({"kind": "acceptance_ends", "on": ends, "subject": standard, "market": market,
                            "requirement": requirement, "products": products_of(cited[standard])})

    # Accreditations of the labs behind the maker's valid reports.
    lab_products: dict[str, set[int]] = {}
    for lab_id, pid in session.execute(
        select(Report.lab_id, Report.product_id).where(Report.product_id.in_(product_ids), Report.status == "valid")
    ):
        lab_products.setdefault(lab_id, set()).add(pid)
    if lab_products:
        for a in session.execute(
            select(Accreditation.id, Accreditation.lab_id, Accreditation.body_id, Accreditation.number,
                   Accreditation.valid_until).where(Accreditation.lab_id.in_(list(lab_products)))
        ):
            if a.valid_until and today <= a.valid_until <= until:
                out.append({"kind": "accreditation_expires", "on": a.valid_until, "subject": f"{a.body_id} {a.number}",
                            "lab": a.lab_id, "products": products_of(lab_products[a.lab_id])})
        for e in session.execute(
            select(AccreditationEvent.status, AccreditationEvent.effective_on, Accreditation.lab_id,
                   Accreditation.body_id, Accreditation.number)
            .join(Accreditation, Accreditation.id == AccreditationEvent.accreditation_id)
            .where(and_(Accreditation.lab_id.in_(list(lab_products)), AccreditationEvent.effective_on > today,
                        AccreditationEvent.effective_on <= until, AccreditationEvent.status != "valid"))
        ):
            out.append({"kind": f"accreditation_{e.status}", "on": e.effective_on, "subject": f"{e.body_id} {e.number}",
                        "lab": e.lab_id, "products": products_of(lab_products[e.lab_id])})
    labs = lookup.org_names(session, [x["lab"] for x in out if x.get("lab")])
    for x in out:
        if x.get("lab"):
            x["lab"] = labs.get(x["lab"], {"id": x["lab"], "name": lookup.bilingual(x["lab"], None)})
        x["days_left"] = (x["on"] - today).days
    return sorted(out, key=lambda x: (x["on"], x["kind"], x["subject"]))


# ---------------------------------------------------------------------------------------------------- CSV


MATRIX_COLUMNS = ["product_id", "model", "market", "verdict", "recognized", "conditional", "owed", "cost_min",
                  "cost_max", "currency", "lead_time_days", "tests_avoided", "rulebook_version", "as_of",
                  "computed_at"]


def matrix_rows(session: Session, principal: Principal, manufacturer_id: str) -> Iterator[list[Any]]:
    """The products x markets matrix as CSV rows (header first), straight from the stored decisions."""
    require(principal, "dashboard:read", manufacturer_id=manufacturer_id)
    _maker(session, manufacturer_id)
    products = dict(session.execute(select(Product.id, Product.model)
                                    .where(Product.manufacturer_id == manufacturer_id)).all())
    yield MATRIX_COLUMNS
    for d in _decision_rows(session, sorted(products, key=lambda pid: (products[pid], pid))):
        plan = d.plan or {}
        yield [d.product_id, products[d.product_id], d.market, d.verdict, d.recognized, d.conditional, d.owed,
               plan.get("total_cost_min", 0), plan.get("total_cost_max", 0), plan.get("currency", ""),
               plan.get("lead_time_days", 0), (d.savings or {}).get("tests_avoided", 0), d.rulebook_version,
               d.as_of.isoformat(), d.computed_at.isoformat()]


PLAN_COLUMNS = ["product_id", "model", "market", "requirement_id", "test_item", "test_item_en", "test_item_zh",
                "standards", "cost_min", "cost_max", "currency", "lead_time_days", "labs", "rulebook_version", "as_of"]


def plan_rows(session: Session, principal: Principal, manufacturer_id: str, product_id: int,
              market: str) -> Iterator[list[Any]]:
    """One product's delta test plan for one market as CSV rows (header first)."""
    require(principal, "dashboard:read", manufacturer_id=manufacturer_id)
    product = session.get(Product, product_id)
    if product is None or product.manufacturer_id != manufacturer_id:
        raise NotFound(f"No product {product_id} of '{manufacturer_id}'.")
    view = decisions.delta_test_plan(session, principal, product_id, market.upper())
    names = lookup.test_item_names(session)
    yield PLAN_COLUMNS
    for item in view["plan"]["items"]:
        name = names.get(item["test_item"], {})
        yield [product_id, product.model, view["market"], item["requirement_id"], item["test_item"],
               name.get("en") or "", name.get("zh") or "", "; ".join(item["standards"]), item["cost_min"],
               item["cost_max"], item["currency"], item["lead_time_days"], "; ".join(item["labs"]),
               view["rulebook_version"], view["as_of"]]
