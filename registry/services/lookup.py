"""Public lookup pages as plain view data: search, product, recognition explanation, report, lab, verification.

Every function takes the principal first and asks the permission table; the web layer only renders what it gets.
Texts that exist in two languages come as `{"en": ..., "zh": ...}` so the page picks the reader's language.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from datetime import date
from typing import Any, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.errors import NotFound, SemanticViolation, Violation
from registry.models import (
    AccreditationBody,
    Decision,
    Market,
    Organization,
    Product,
    ProductIdentifier,
    Report,
    ReportRevision,
    RulebookVersion,
    SearchStandard,
    Standard,
    StandardStatusEvent,
    TestItem,
    utcnow,
)
from registry.services import accreditation, decisions, reports, search
from registry.services.permissions import Principal, can, require

PAGE_SIZE = 20
MAX_PAGE = 500
STATUS_FILTERS = ("valid", "revised", "withdrawn")
REQUIREMENT_STATUSES = ("recognized", "conditional", "retest", "missing")


def bilingual(en: str | None, zh: str | None) -> dict[str, str | None]:
    return {"en": en, "zh": zh}


# ---------------------------------------------------------------------------------------------------- reference


def org_names(session: Session, org_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    ids = sorted({i for i in org_ids if i})
    if not ids:
        return {}
    return {
        o.id: {"id": o.id, "name": bilingual(o.name_en, o.name_zh), "kind": o.kind, "country": o.country}
        for o in session.execute(select(Organization.id, Organization.name_en, Organization.name_zh,
                                        Organization.kind, Organization.country).where(Organization.id.in_(ids)))
    }


def published_version(session: Session) -> int:
    """The rulebook version in force (without loading its document)."""
    version = session.scalar(select(func.max(RulebookVersion.version)).where(RulebookVersion.status == "published"))
    if version is None:
        raise NotFound("No rulebook is published yet: run `flask --app app registry init`.")
    return version


def market_names(session: Session) -> dict[str, dict[str, Any]]:
    return {m.code: {"code": m.code, "name": bilingual(m.name_en, m.name_zh), "bloc": m.bloc_code, "kind": m.kind}
            for m in session.execute(select(Market.code, Market.name_en, Market.name_zh, Market.bloc_code, Market.kind))}


def test_item_names(session: Session) -> dict[str, dict[str, str | None]]:
    return {t.id: bilingual(t.name_en, t.name_zh)
            for t in session.execute(select(TestItem.id, TestItem.name_en, TestItem.name_zh))}


def standard_facts(session: Session, day: date | None = None) -> dict[str, dict[str, Any]]:
    """Every standard edition's title and its status on `day` (superseded editions are flagged on the pages)."""
    day = day or date.today()
    facts = {
        s.id: {"id": s.id, "title": bilingual(s.title_en, s.title_zh), "status": None, "superseded_by": None,
               "transition_ends_on": None}
        for s in session.execute(select(Standard.id, Standard.title_en, Standard.title_zh))
    }
    for e in session.execute(
        select(StandardStatusEvent.standard_id, StandardStatusEvent.status, StandardStatusEvent.superseded_by,
               StandardStatusEvent.transition_ends_on, StandardStatusEvent.effective_on)
        .where(StandardStatusEvent.effective_on <= day)
        .order_by(StandardStatusEvent.effective_on, StandardStatusEvent.id)
    ):
        fact = facts.get(e.standard_id)
        if fact is not None:
            fact.update(status=e.status, superseded_by=e.superseded_by, transition_ends_on=e.transition_ends_on)
    return facts


def _outdated(fact: dict[str, Any] | None) -> bool:
    return bool(fact) and fact["status"] in ("superseded", "withdrawn")


# ---------------------------------------------------------------------------------------------------- search


def parse_filters(session: Session, args: dict[str, Any]) -> search.SearchFilters:
    """The search facets from query parameters; unknown values are refused, not ignored."""
    problems = []
    market = (args.get("market") or "").strip().upper() or None
    if market and market not in decisions.target_markets(session):
        problems.append(Violation("market", f"unknown market '{market}'"))
    status = (args.get("status") or "").strip() or None
    if status and status not in STATUS_FILTERS:
        problems.append(Violation("status", f"one of: {', '.join(STATUS_FILTERS)}"))
    product = (args.get("product") or "").strip() or None
    if product and not product.isdigit():
        problems.append(Violation("product", "a product number"))
    if problems:
        raise SemanticViolation("Unknown search filter.", problems)
    return search.SearchFilters(market=market, standard=(args.get("standard") or "").strip()[:80] or None,
                                lab=(args.get("lab") or "").strip()[:64] or None, status=status,
                                product=int(product) if product else None)


def recognize(session: Session, principal: Principal, query: str) -> dict[str, str] | None:
    """A query that is exactly a standard edition or a lab (id or name) becomes that facet, answered by an index.

    `GB/T 18487.1-2023` typed in the box then means "reports citing that edition", exactly, not every report that
    happens to contain those characters; the page redirects to the facet's permalink.
    """
    require(principal, "report:read_summary")
    key = search.compact(query or "")
    if len(key) < 4:
        return None
    for sid in session.scalars(select(Standard.id)):
        if search.compact(sid) == key:
            return {"standard": sid}
    wanted = search.normalize(query).strip()
    for lab_id, name_en, name_zh in session.execute(
        select(Organization.id, Organization.name_en, Organization.name_zh).where(Organization.kind == "lab")
    ):
        if wanted in {lab_id, search.normalize(name_en), search.normalize(name_zh or "")}:
            return {"lab": lab_id}
    return None


def search_page(session: Session, principal: Principal, query: str, filters: search.SearchFilters,
                page: int = 1, per_page: int = PAGE_SIZE) -> dict[str, Any]:
    """One page of reports matching the query and facets, newest first, with facet counts and suggestions."""
    require(principal, "report:read_summary")
    page = min(max(page, 1), MAX_PAGE)
    tokens = search.query_tokens(query or "")
    active = any(asdict(filters).values())
    view: dict[str, Any] = {"query": query or "", "tokens": tokens, "filters": asdict(filters), "page": page,
                            "per_page": per_page, "searched": bool(tokens) or active, "total": 0, "pages": 0,
                            "results": [], "facets": {}, "products": [], "product_total": 0, "suggestions": [],
                            "as_of": utcnow(), "index_updated_at": search.latest_change(session)}
    if not view["searched"]:
        return view
    found = search.run_search(session, tokens, filters, (page - 1) * per_page, per_page)
    markets = market_names(session)
    standards = standard_facts(session)
    item_rows = _report_rows(session, found.report_ids, standards)
    product_ids = [pid for pid, _n in found.products]
    product_rows = {p.id: p for p in session.execute(
        select(Product.id, Product.model, Product.manufacturer_id).where(Product.id.in_(product_ids)))}
    labs = org_names(session, [v for v, _n in found.facets.get("lab", [])] + [p.manufacturer_id for p in product_rows.values()])
    facets = {
        "market": [{"value": v, "label": markets.get(v, {}).get("name", bilingual(v, None)), "count": n}
                   for v, n in found.facets.get("market", [])],
        "standard": [{"value": v, "label": bilingual(v, None), "title": standards.get(v, {}).get("title"),
                      "outdated": _outdated(standards.get(v)), "count": n} for v, n in found.facets.get("standard", [])],
        "lab": [{"value": v, "label": labs.get(v, {}).get("name", bilingual(v, None)), "count": n}
                for v, n in found.facets.get("lab", [])],
        "status": [{"value": v, "count": n} for v, n in found.facets.get("status", [])],
    }
    view.update(
        total=found.total, total_capped=found.total_capped, facet_window=found.facet_window,
        pages=min(math.ceil(found.total / per_page), MAX_PAGE), results=item_rows, facets=facets,
        product_total=found.product_total,
        products=[{"id": pid, "model": product_rows[pid].model, "count": n,
                   "manufacturer": labs.get(product_rows[pid].manufacturer_id)}
                  for pid, n in found.products if pid in product_rows],
        filter_labels={
            "market": filters.market and markets.get(filters.market, {}).get("name"),
            "lab": filters.lab and org_names(session, [filters.lab]).get(filters.lab, {}).get("name"),
            "product": filters.product and session.scalar(select(Product.model).where(Product.id == filters.product)),
        },
    )
    if not found.total and tokens:
        view["suggestions"] = [{"id": pid, "model": model} for pid, model in search.near_models(session, query)]
    return view


def _report_rows(session: Session, report_ids: Sequence[int], standards: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Result rows for these reports, in the order given: identity, status badges, product, lab, standards."""
    if not report_ids:
        return []
    rows = {r.id: r for r in session.execute(
        select(Report.id, Report.report_number, Report.status, Report.current_revision, Report.issued_on,
               Report.lab_id, Report.product_id, Product.model, Product.manufacturer_id)
        .join(Product, Product.id == Report.product_id).where(Report.id.in_(report_ids)))}
    cited: dict[int, list[str]] = {}
    for rid, sid in session.execute(select(SearchStandard.report_id, SearchStandard.standard_id)
                                    .where(SearchStandard.report_id.in_(report_ids))
                                    .order_by(SearchStandard.report_id, SearchStandard.standard_id)):
        cited.setdefault(rid, []).append(sid)
    product_ids = {r.product_id for r in rows.values()}
    access: dict[int, list[str]] = {}
    for pid, market in session.execute(select(Decision.product_id, Decision.market)
                                       .where(Decision.product_id.in_(product_ids),
                                              Decision.verdict.in_(search.ACCESSIBLE))
                                       .order_by(Decision.market)):
        access.setdefault(pid, []).append(market)
    names = org_names(session, [r.lab_id for r in rows.values()] + [r.manufacturer_id for r in rows.values()])
    items = []
    for rid in report_ids:
        r = rows.get(rid)
        if r is None:
            continue
        cited_standards = [{"id": s, "title": standards.get(s, {}).get("title"), "outdated": _outdated(standards.get(s))}
                           for s in cited.get(rid, [])]
        items.append({
            "id": r.id, "report_number": r.report_number, "status": r.status, "revision": r.current_revision,
            "revised": r.current_revision > 1, "issued_on": r.issued_on,
            "lab": names.get(r.lab_id, {"id": r.lab_id, "name": bilingual(r.lab_id, None)}),
            "product": {"id": r.product_id, "model": r.model,
                        "manufacturer": names.get(r.manufacturer_id, {"id": r.manufacturer_id,
                                                                      "name": bilingual(r.manufacturer_id, None)})},
            "standards": cited_standards, "outdated": any(s["outdated"] for s in cited_standards),
            "markets": access.get(r.product_id, []),
        })
    return items


# ---------------------------------------------------------------------------------------------------- product


def market_summary(session: Session, principal: Principal, product_id: int) -> dict[str, Any]:
    """A product's verdict and requirement counts per market, read from the stored decisions.

    Stale rows (computed before today, or with an older rulebook) are not shown as today's answer: the
    recognition service then decides live, exactly as the API does.
    """
    require(principal, "report:read_summary")
    names = market_names(session)
    current = published_version(session)
    wanted = decisions.target_markets(session)
    stored = {d.market: d for d in session.execute(
        select(Decision.market, Decision.verdict, Decision.recognized, Decision.conditional, Decision.owed,
               Decision.rulebook_version, Decision.as_of, Decision.computed_at)
        .where(Decision.product_id == product_id))}
    today = date.today()
    fresh = all(m in stored and stored[m].as_of == today and stored[m].rulebook_version == current for m in wanted)
    rows = []
    if fresh:
        for m in wanted:
            d = stored[m]
            rows.append({"market": names[m], "verdict": d.verdict, "recognized": d.recognized,
                         "conditional": d.conditional, "owed": d.owed, "total": d.recognized + d.conditional + d.owed,
                         "rulebook_version": d.rulebook_version})
        computed_at = max(d.computed_at for d in stored.values()) if stored else None
    else:
        live = decisions.recognition(session, principal, product_id)
        for s in live["markets"]:
            owed = s["retest"] + s["missing"]
            rows.append({"market": names[s["market"]], "verdict": s["verdict"], "recognized": s["recognized"],
                         "conditional": s["conditional"], "owed": owed,
                         "total": s["recognized"] + s["conditional"] + owed, "rulebook_version": s["rulebook_version"]})
        computed_at = utcnow()
    return {"markets": rows, "computed_at": computed_at, "rulebook_version": current, "live": not fresh,
            "as_of": today}


def product_page(session: Session, principal: Principal, product_id: int) -> dict[str, Any]:
    """The product: ratings, variants and certificates; its recognition matrix; the reports behind it."""
    require(principal, "report:read_summary")
    product = session.get(Product, product_id)
    if product is None:
        raise NotFound(f"No product {product_id}.")
    d = product.description or {}
    maker = org_names(session, [product.manufacturer_id]).get(product.manufacturer_id)
    standards = standard_facts(session)
    report_rows = session.execute(
        select(Report.id).where(Report.product_id == product_id).order_by(Report.issued_on.desc(), Report.id.desc())
    ).scalars().all()
    certificates = certificates_of(session, [product_id]).get(product_id, [])
    return {
        "product": {
            "id": product.id, "model": product.model, "category": product.category, "manufacturer": maker,
            "trademark": d.get("trademark"), "ratings": d.get("ratings") or {}, "variants": d.get("variants") or [],
            "connectors": d.get("connectors") or [], "cooling": d.get("cooling"),
            "liquid_cooled_cable": d.get("liquid_cooled_cable"), "ip_code": d.get("ip_code"),
            "ik_code": d.get("ik_code"), "hardware_version": d.get("hardware_version"),
            "firmware_version": d.get("firmware_version"), "certificates": certificates,
            "updated_at": product.updated_at,
        },
        "recognition": market_summary(session, principal, product_id),
        "reports": _report_rows(session, list(report_rows), standards),
        "sees_plans": can(principal, "dashboard:read", manufacturer_id=product.manufacturer_id),
    }


def certificates_of(session: Session, product_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """Certificates the products hold elsewhere, with issuer and validity from the newest report that declares them."""
    out: dict[int, dict[tuple[str, str], dict[str, Any]]] = {pid: {} for pid in product_ids}
    for pid, scheme, number, issuer in session.execute(
        select(ProductIdentifier.product_id, ProductIdentifier.scheme, ProductIdentifier.number, ProductIdentifier.issuer)
        .where(ProductIdentifier.product_id.in_(product_ids))
    ):
        out[pid][(scheme, number)] = {"scheme": scheme, "number": number, "issuer": issuer, "issued_on": None,
                                      "valid_until": None}
    declared = ReportRevision.document[("product", "certificates")]
    for pid, certs in session.execute(
        select(Report.product_id, declared)
        .join(ReportRevision, (ReportRevision.report_id == Report.id) & (ReportRevision.revision == Report.current_revision))
        .where(Report.product_id.in_(product_ids), Report.status != "withdrawn")
        .order_by(Report.issued_on, Report.id)
    ):
        for c in certs or []:
            entry = out[pid].setdefault((c.get("scheme"), c.get("number")), {"scheme": c.get("scheme"),
                                                                            "number": c.get("number")})
            entry.update(issuer=c.get("issuer") or entry.get("issuer"), issued_on=parse_day(c.get("issued_on")),
                         valid_until=parse_day(c.get("valid_until")))
    return {pid: sorted(v.values(), key=lambda c: (c["scheme"] or "", c["number"] or "")) for pid, v in out.items()}


def parse_day(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------------- explanation


def rulebook_index(document: dict[str, Any]) -> tuple[dict[tuple[str, str], dict], dict[tuple[str, str], dict]]:
    """Requirements and rules of a rulebook document by (market, id)."""
    requirements: dict[tuple[str, str], dict] = {}
    rules: dict[tuple[str, str], dict] = {}
    for market, block in (document.get("markets") or {}).items():
        for r in block.get("requirements", []):
            requirements[(market, r["id"])] = r
        for r in block.get("rules", []):
            key = (market, r["id"])
            if key not in rules or r.get("version", 1) >= rules[key].get("version", 1):
                rules[key] = r
    return requirements, rules


def in_market(index: dict[tuple[str, str], dict], market: str, bloc: str | None, item_id: str | None) -> dict:
    if item_id is None:
        return {}
    return index.get((market, item_id)) or (bloc and index.get((bloc, item_id))) or {}


def _label(evidence: dict[str, Any]) -> str:
    clause = f" {evidence['clause']}" if evidence.get("clause") else ""
    return f"report {evidence['report_number']} rev {evidence['revision']}, {evidence['standard']}{clause}"


def explanation(session: Session, principal: Principal, product_id: int, market: str,
                status: str | None = None) -> dict[str, Any]:
    """Why each requirement of one market is recognized, conditional or owed: the result, the rule, or why not."""
    if status and status not in REQUIREMENT_STATUSES + ("owed",):
        raise SemanticViolation("Unknown status filter.", [Violation("status", f"one of: {', '.join(REQUIREMENT_STATUSES)}, owed")])
    require(principal, "report:read_summary")
    if market.upper() not in decisions.target_markets(session):
        raise NotFound(f"No market '{market}' among the markets decided.")
    view = decisions.recognition(session, principal, product_id, market.upper())
    decision = view["decision"]
    market = decision["market"]
    markets = market_names(session)
    bloc = markets.get(market, {}).get("bloc")
    version = session.get(RulebookVersion, decision["rulebook_version"])
    requirement_index, rule_index = rulebook_index(version.document if version else {})
    items = test_item_names(session)
    standards = standard_facts(session)
    counts = {s: 0 for s in REQUIREMENT_STATUSES}
    shown = []
    for r in decision["requirements"]:
        counts[r["status"]] += 1
        if status and not (r["status"] == status or (status == "owed" and r["status"] in ("retest", "missing"))):
            continue
        requirement = in_market(requirement_index, market, bloc, r["requirement_id"])
        rule = in_market(rule_index, market, bloc, r["rule_id"])
        groups = []
        remaining = list(r["reasons"])
        for e in r["evidence"]:
            prefix = _label(e) + ":"
            mine = [x for x in remaining if x["message"]["en"].startswith(prefix)]
            remaining = [x for x in remaining if not x["message"]["en"].startswith(prefix)]
            groups.append({"evidence": dict(e, outdated=_outdated(standards.get(e["standard"]))),
                           "checks": [_check(x, rule_index, market, bloc, prefix) for x in mine]})
        why_not: dict[str, dict[str, Any]] = {}
        for g in groups:
            for c in g["checks"]:
                if not c["passed"]:
                    entry = why_not.setdefault(c["rule_id"] or "", dict(c, results=0))
                    entry["results"] += 1
        shown.append({
            "requirement_id": r["requirement_id"], "test_item": r["test_item"],
            "why_not": list(why_not.values()) if r["status"] == "retest" else [],
            "test_item_name": items.get(r["test_item"], bilingual(r["test_item"], None)),
            "description": requirement.get("description") or {}, "status": r["status"],
            "accepted_standards": [a.get("standard") if isinstance(a, dict) else a
                                   for a in requirement.get("accepted_standards", [])],
            "rule": {"id": r["rule_id"], "version": r["rule_version"], "kind": rule.get("kind"),
                     "outcome": rule.get("outcome"), "description": rule.get("description") or {}}
            if r["rule_id"] else None,
            "evidence": groups, "other_checks": [_check(x, rule_index, market, bloc, "") for x in remaining],
            "extra_steps": r["extra_steps"],
        })
    plan = decision["delta_test_plan"]
    labs = org_names(session, sorted({lab for i in plan["items"] for lab in i["labs"]}))
    plan_items = [dict(i, test_item_name=items.get(i["test_item"], bilingual(i["test_item"], None)),
                       labs=[labs.get(lab, {"id": lab, "name": bilingual(lab, None)}) for lab in i["labs"]])
                  for i in plan["items"]]
    product = session.get(Product, product_id)
    return {
        "product": view["product"], "market": markets.get(market), "verdict": decision["verdict"],
        "as_of": decision["as_of"], "rulebook_version": decision["rulebook_version"], "computed": view.get("computed"),
        "counts": counts, "total": sum(counts.values()), "status_filter": status, "requirements": shown,
        "plan": dict(plan, items=plan_items), "savings": decision["savings"],
        "conditional_savings": decision["conditional_savings"],
        "sees_plans": can(principal, "dashboard:read", manufacturer_id=product.manufacturer_id),
    }


def _check(reason: dict[str, Any], rule_index, market: str, bloc: str | None, prefix: str) -> dict[str, Any]:
    rule = in_market(rule_index, market, bloc, reason.get("rule_id"))
    detail = reason["message"]["en"]
    if prefix and detail.startswith(prefix):
        detail = detail[len(prefix):].strip()
    return {"rule_id": reason.get("rule_id"), "version": reason.get("version"), "passed": reason["passed"],
            "kind": rule.get("kind"), "detail": detail,
            "description": rule.get("description") or ({"en": None, "zh": reason["message"].get("zh")})}


# ---------------------------------------------------------------------------------------------------- report


def report_page(session: Session, principal: Principal, report_id: int, revision: int | None = None) -> dict[str, Any]:
    """A report as this caller may see it, with its revision history and what changed since it was issued."""
    view = reports.get_report(session, principal, report_id, revision)
    history = reports.list_revisions(session, principal, report_id)
    standards = standard_facts(session)
    items = test_item_names(session)
    names = org_names(session, [view["lab"]["id"], view["product"]["manufacturer"]["id"]])
    view["lab"] = names.get(view["lab"]["id"], view["lab"])
    view["product"]["manufacturer"] = names.get(view["product"]["manufacturer"]["id"],
                                                view["product"]["manufacturer"])
    view["standards"] = [{"id": s, "title": standards.get(s, {}).get("title"), "outdated": _outdated(standards.get(s)),
                          "status": standards.get(s, {}).get("status"),
                          "superseded_by": standards.get(s, {}).get("superseded_by")} for s in view["standards"]]
    document = view.get("document") or {}
    for i, result in enumerate(view["results"]):
        result["test_item_name"] = items.get(result["test_item"], bilingual(result["test_item"], None))
        if document:
            full = document["results"][i]
            result.update(measurements=full.get("measurements", []), conditions=full.get("conditions") or {},
                          sample_id=full.get("sample_id"), remarks=full.get("remarks"))
    current = next((r for r in history["revisions"] if r["revision"] == view["revision"]), None)
    view.update(
        history=history, outdated=any(s["outdated"] for s in view["standards"]),
        revised=view["current_revision"] > 1, is_current=view["revision"] == view["current_revision"],
        document_sha256=view.get("document_sha256") or (current or {}).get("document_sha256"),
        signatories=document.get("signatories", []), attachments=document.get("attachments", []),
        remarks=document.get("remarks"),
        as_of=utcnow(),
    )
    return view


# ---------------------------------------------------------------------------------------------------- labs


def labs_page(session: Session, principal: Principal) -> dict[str, Any]:
    require(principal, "catalogue:read")
    today = date.today()
    labs = accreditation.list_labs(session, today)
    counts = dict(session.execute(select(Report.lab_id, func.count()).group_by(Report.lab_id)).all())
    return {"labs": [dict(lab, reports=counts.get(lab["id"], 0)) for lab in labs], "as_of": today}


def lab_page(session: Session, principal: Principal, lab_id: str, as_of: date | None = None) -> dict[str, Any]:
    """A lab's accreditations on a day: body, number, status, validity, scope (with titles), and their history."""
    require(principal, "catalogue:read")
    day = as_of or date.today()
    view = accreditation.lab_view(session, lab_id, day)
    standards = standard_facts(session, day)
    for a in view["accreditations"]:
        a["scope"] = [{"id": s, "title": standards.get(s, {}).get("title"), "outdated": _outdated(standards.get(s))}
                      for s in a["scope"]]
        a["expires_soon"] = bool(a["valid_until"] and 0 <= (a["valid_until"] - day).days <= 90)
    view["reports"] = session.scalar(select(func.count()).select_from(Report).where(Report.lab_id == lab_id)) or 0
    view["bodies"] = {b.id: bilingual(b.name_en, b.name_zh) for b in session.execute(
        select(AccreditationBody.id, AccreditationBody.name_en, AccreditationBody.name_zh))}
    return view


# ---------------------------------------------------------------------------------------------------- verify


def verify(session: Session, principal: Principal, number: str, lab: str | None = None,
           revision: int | None = None, sha256: str | None = None) -> dict[str, Any]:
    """Is a report number genuine, and what is its status and history since issue?

    Report numbers are unique per lab, so the number may name reports of several labs; the QR code printed on a
    report page carries the lab, the revision and the start of the document's SHA-256, which pins one document.
    """
    require(principal, "report:read_summary")
    number = (number or "").strip()
    view: dict[str, Any] = {"number": number, "lab": lab, "revision": revision, "sha256": sha256, "matches": [],
                            "checked_at": utcnow()}
    if not number:
        return view
    query = select(Report.id).where(func.lower(Report.report_number) == number.lower())
    if lab:
        query = query.where(Report.lab_id == lab)
    ids = list(session.scalars(query.order_by(Report.id).limit(10)))
    for report_id in ids:
        report = reports.get_report(session, principal, report_id)
        history = reports.list_revisions(session, principal, report_id)
        names = org_names(session, [report["lab"]["id"], report["product"]["manufacturer"]["id"]])
        issued = next((r for r in history["revisions"] if r["revision"] == 1), None)
        since = [e for e in history["events"] if e["kind"] != "submitted"]
        document_match = None
        if sha256:
            wanted = sha256.strip().lower()
            hit = next((r for r in history["revisions"] if len(wanted) >= 16 and r["document_sha256"].startswith(wanted)),
                       None)
            document_match = {"matched": hit is not None, "revision": hit["revision"] if hit else None,
                              "latest": hit is not None and hit["revision"] == history["current_revision"]}
        view["matches"].append({
            "id": report_id, "report_number": report["report_number"], "status": report["status"],
            "current_revision": history["current_revision"], "issued_on": report["issued_on"],
            "lab": names.get(report["lab"]["id"]), "product": dict(report["product"],
                                                                  manufacturer=names.get(report["product"]["manufacturer"]["id"])),
            "filed_at": issued["submitted_at"] if issued else None, "changes": since,
            "withdrawal": report["withdrawal"], "document": document_match,
            "revision_asked": revision,
        })
    return view
