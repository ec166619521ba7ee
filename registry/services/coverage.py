"""The regulators' coverage view: how far results made for one market's regime carry into another, and what blocks.

The heat map is `decisions.matrix` (the rulebook's best case and the registry's observed average). Per pair, the
blocking requirements are the target's requirements the best case still leaves owed, with the rules that refuse
them, and, from the stored decisions, the tests most often owed by products whose reports all come from the source.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.errors import NotFound
from registry.models import Decision, Market, Organization, Report
from registry.recognition import ProductFacts, ResultEvidence, market_requirements
from registry.services import decisions, lookup, rulebooks
from registry.services.permissions import Principal, require


def heat_map(session: Session, principal: Principal) -> dict[str, Any]:
    """Source regime x target market shares (rulebook best case and registry average), with market names."""
    require(principal, "coverage:read")
    view = decisions.matrix(session, principal)
    view["names"] = lookup.market_names(session)
    return view


def _source_of_lab(session: Session) -> dict[str, str]:
    blocs = dict(session.execute(select(Market.code, Market.bloc_code)).all())
    return {lab: ("EU" if blocs.get(country) == "EU" else country)
            for lab, country in session.execute(select(Organization.id, Organization.country)
                                                .where(Organization.kind == "lab"))}


def pair(session: Session, principal: Principal, source: str, target: str, top: int = 10) -> dict[str, Any]:
    """What blocks results made for `source` in `target`: requirement by requirement, and as observed."""
    require(principal, "coverage:read")
    as_of = date.today()
    inputs = decisions.engine_inputs(session, as_of)
    if source not in inputs.markets or target not in inputs.markets:
        raise NotFound(f"No market pair {source} → {target}.")
    schemes = frozenset(s for events in inputs.timeline.events.values() for s, _st, _d in events)
    evidence = []
    for requirement in market_requirements(inputs.rulebook, source, inputs.catalogue.market_bloc, as_of):
        if not requirement.accepted_standards:
            continue
        evidence.append(ResultEvidence(
            report_id=1, report_number=f"SYNTHETIC-{source}", revision=1, lab_id=f"synthetic-{source}",
            report_status="valid", withdrawn_on=None, issued_on=as_of, standard=requirement.accepted_standards[0][0],
            clause=None, test_item=requirement.test_item, verdict="pass", performed_on=as_of, accredited=True,
            lab_schemes=schemes, lab_country=source, ambient_min_c=-40.0, ambient_max_c=55.0,
            supply_frequency_hz=None,
        ))
    # The same best case as decisions.matrix: a 400 kW liquid-cooled charger with the source's connector family.
    product = ProductFacts(product_id=0, category="dc_charger", max_power_kw=400.0,
                           connectors=decisions.FAMILY_CONNECTORS.get(source, frozenset({"CCS2"})), cooling="liquid",
                           liquid_cooled_cable=True, input_frequency_hz=None, ip_code="IP55")
    decided = decisions.decision_document(decisions.decide(inputs, product, evidence, [target])[target])
    names = lookup.test_item_names(session)
    version = decided["rulebook_version"]
    requirement_index, rule_index = lookup.rulebook_index(rulebooks.get_version(session, version).document)
    markets = lookup.market_names(session)
    bloc = markets.get(target, {}).get("bloc")
    blocking = []
    counts = {s: 0 for s in lookup.REQUIREMENT_STATUSES}
    for r in decided["requirements"]:
        counts[r["status"]] += 1
        if r["status"] == "recognized":
            continue
        requirement = lookup.in_market(requirement_index, target, bloc, r["requirement_id"])
        failed = {}
        for reason in r["reasons"]:
            if not reason["passed"]:
                rule = lookup.in_market(rule_index, target, bloc, reason.get("rule_id"))
                detail = reason["message"]["en"].split(": ", 1)[-1]
                failed.setdefault(reason.get("rule_id") or "", {
                    "rule_id": reason.get("rule_id"), "detail": detail,
                    "description": rule.get("description") or {"en": None, "zh": reason["message"].get("zh")}})
        blocking.append({"requirement_id": r["requirement_id"], "status": r["status"], "test_item": r["test_item"],
                         "test_item_name": names.get(r["test_item"], lookup.bilingual(r["test_item"], None)),
                         "description": requirement.get("description") or {}, "extra_steps": r["extra_steps"],
                         "rules": list(failed.values())})

    # Observed: products whose valid reports all come from labs of the source market.
    lab_source = _source_of_lab(session)
    sources: dict[int, set[str]] = {}
    for pid, lab in session.execute(select(Report.product_id, Report.lab_id).where(Report.status == "valid")):
        sources.setdefault(pid, set()).add(lab_source.get(lab, "?"))
    products = [pid for pid, s in sources.items() if s == {source}]
    owed: dict[str, int] = {}
    observed = 0
    plan = Decision.detail["delta_test_plan"]
    for start in range(0, len(products), 500):
        for (items,) in session.execute(select(plan).where(Decision.product_id.in_(products[start:start + 500]),
                                                           Decision.market == target)):
            observed += 1
            for item in (items or {}).get("items", []):
                owed[item["test_item"]] = owed.get(item["test_item"], 0) + 1
    return {
        "source": markets.get(source), "target": markets.get(target), "as_of": as_of, "rulebook_version": version,
        "verdict": decided["verdict"], "counts": counts, "total": sum(counts.values()), "blocking": blocking,
        "observed_products": observed,
        "observed": [{"test_item": t, "name": names.get(t, lookup.bilingual(t, None)), "products": n,
                      "share": n / observed if observed else 0}
                     for t, n in sorted(owed.items(), key=lambda kv: (-kv[1], kv[0]))[:top]],
    }
