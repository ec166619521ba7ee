"""Recognition decisions: computed by the pure engine, materialized per product and market, read by lookups.

A write that changes a product's evidence (a report submitted, revised or withdrawn; a lab's accreditation
changed) recomputes that product's decisions in the same transaction. Publishing a rulebook recomputes every
product in batches. Lookups for today read the stored rows; `as_of` in the past or future computes live.
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from datetime import date
from typing import Any, Callable, Iterable, Sequence

from sqlalchemy import bindparam, delete, func, insert, select
from sqlalchemy.orm import Session

from registry import collector
from registry.db import begin_write
from registry.errors import NotFound, SemanticViolation, Violation
from registry.models import (
    AccreditationEvent,
    CatalogueLoad,
    Decision,
    DecisionPlan,
    Market,
    Organization,
    Product,
    ProductIdentifier,
    Report,
    RulebookVersion,
    SchemeMembershipEvent,
    utcnow,
)
from registry.recognition import (
    CatalogueFacts,
    LabFacts,
    MarketDecision,
    ProductFacts,
    ResultEvidence,
    Rulebook,
    Status,
    evaluate_markets,
    inputs_digests,
)
from registry.services import evidence as evidence_service
from registry.services import reports as reports_service
from registry.services import rulebooks
from registry.services.accreditation import lab_standing
from registry.services.permissions import Principal, require

BATCH = 500


def target_markets(session: Session) -> list[str]:
    """The markets decisions are made for: China, the EU and each researched ASEAN member state.

    EU member states carry the EU's rules, so they are not decided one by one; the ASEAN bloc is a rule source,
    not a market.
    """
    rows = session.execute(select(Market.code, Market.kind, Market.bloc_code, Market.researched)).all()
    return sorted(code for code, kind, bloc, researched in rows if kind != "bloc" and bloc != "EU" and researched)


# ---------------------------------------------------------------------------------------------------- serialization


def _text(reason) -> dict[str, Any]:
    # The engine's Chinese text of a reason is its rule's description, which the rulebook already holds: storing it
    # again in every reason of every decision made the stored decisions a third larger.
    return {"en": reason.message_en}


def _requirement_document(r) -> dict[str, Any]:
    return {
        "requirement_id": r.requirement_id, "test_item": r.test_item, "status": r.status.value,
        "rule_id": r.rule_id, "rule_version": r.rule_version,
        "evidence": [{"report_id": e[0], "report_number": e[1], "revision": e[2], "standard": e[3],
                      "clause": e[4]} for e in r.evidence],
        "reasons": [{"rule_id": x.rule_id, "version": x.version, "passed": x.passed, "message": _text(x)}
                    for x in r.reasons],
        "extra_steps": list(r.extra_steps),
    }


# Stored decisions are written in a compact form (`STORED_FORMAT`) and served in the full one. The explained reasons
# are three quarters of a decision: each is stored as [rule id, version, passed, label, text] where `label` indexes the
# requirement's list of the texts' heads (the part before the first ": ", the result the reason is about, which every
# rule tried on that result repeats) and -1 means the text is whole. `served_document` gives back the exact text.
STORED_FORMAT = 2


def _stored_requirement(r) -> dict[str, Any]:
    labels: list[str] = []
    index: dict[str, int] = {}
    reasons = []
    for x in r.reasons:
        head, sep, rest = x.message_en.partition(": ")
        if sep:
            i = index.get(head)
            if i is None:
                i = index[head] = len(labels)
                labels.append(head)
            reasons.append([x.rule_id, x.version, x.passed, i, rest])
        else:
            reasons.append([x.rule_id, x.version, x.passed, -1, x.message_en])
    return {
        "requirement_id": r.requirement_id, "test_item": r.test_item, "status": r.status.value,
        "rule_id": r.rule_id, "rule_version": r.rule_version, "evidence": [list(e[:5]) for e in r.evidence],
        "labels": labels, "reasons": reasons, "extra_steps": list(r.extra_steps),
    }


def _served_requirement(stored: dict[str, Any]) -> dict[str, Any]:
    labels = stored["labels"]
    return {
        "requirement_id": stored["requirement_id"], "test_item": stored["test_item"], "status": stored["status"],
        "rule_id": stored["rule_id"], "rule_version": stored["rule_version"],
        "evidence": [{"report_id": e[0], "report_number": e[1], "revision": e[2], "standard": e[3], "clause": e[4]}
                     for e in stored["evidence"]],
        "reasons": [{"rule_id": rule_id, "version": version, "passed": passed,
                     "message": {"en": f"{labels[label]}: {text}" if label >= 0 else text}}
                    for rule_id, version, passed, label, text in stored["reasons"]],
        "extra_steps": stored["extra_steps"],
    }


def served_document(detail: dict[str, Any]) -> dict[str, Any]:
    """A stored decision in the form the API serves (what `decision_document` gives for a live one)."""
    if detail.get("format") != STORED_FORMAT:
        return detail  # written before the compact form: already whole
    served = {k: v for k, v in detail.items() if k != "format"}
    served["requirements"] = [_served_requirement(r) for r in detail["requirements"]]
    return served


def decision_documents(decided: dict[str, MarketDecision], stored: bool = False) -> dict[str, dict[str, Any]]:
    """Several markets' decisions of one product as plain JSON data (`stored`: in the compact stored form).

    The engine decides a requirement shared by several markets once (the ASEAN members inherit most of theirs), so
    each requirement decision is converted once too; the documents share those parts, which are only read.
    """
    memo: dict[int, dict[str, Any]] = {}
    return {market: decision_document(decision, memo, stored) for market, decision in decided.items()}


def decision_document(decision: MarketDecision, memo: dict[int, dict[str, Any]] | None = None,
                      stored: bool = False) -> dict[str, Any]:
    """A MarketDecision as plain JSON data: what is served (or, with `stored`, its compact stored form)."""
    if memo is None:
        memo = {}
    convert = _stored_requirement if stored else _requirement_document
    requirements = []
    for r in decision.requirements:
        converted = memo.get(id(r))
        if converted is None:
            converted = memo[id(r)] = convert(r)
        requirements.append(converted)

    def item(i):
        return {"requirement_id": i.requirement_id, "test_item": i.test_item, "standards": list(i.standards),
                "cost_min": i.cost_min, "cost_max": i.cost_max, "currency": i.currency,
                "lead_time_days": i.lead_time_days, "labs": list(i.labs)}

    def saving(s):
        return {"tests_avoided": s.tests_avoided, "cost_min": s.cost_min, "cost_max": s.cost_max,
                "days_avoided": s.days_avoided}

    plan = decision.delta_test_plan
    return {
        "market": decision.market,
        "as_of": decision.as_of.isoformat(),
        "rulebook_version": decision.rulebook_version,
        "verdict": decision.verdict.value,
        "requirements": requirements,
        "delta_test_plan": {
            "items": [item(i) for i in plan.items], "total_cost_min": plan.total_cost_min,
            "total_cost_max": plan.total_cost_max, "currency": plan.currency, "lead_time_days": plan.lead_time_days,
            "groups": {k: [i.requirement_id for i in v] for k, v in plan.groups.items()},
        },
        "savings": saving(decision.savings),
        "conditional_savings": saving(decision.conditional_savings),
        "inputs_digest": decision.inputs_digest,
        **({"format": STORED_FORMAT} if stored else {}),
    }


def _counts(decision: MarketDecision) -> tuple[int, int, int]:
    statuses = [r.status for r in decision.requirements]
    return (statuses.count(Status.RECOGNIZED), statuses.count(Status.CONDITIONAL),
            statuses.count(Status.RETEST) + statuses.count(Status.MISSING))


# ---------------------------------------------------------------------------------------------------- computing


@dataclass
class EngineInputs:
    """Everything but the products: loaded once per batch (or once per request)."""

    rulebook_version: int
    rulebook: Rulebook
    catalogue: CatalogueFacts
    labs: tuple[LabFacts, ...]
    markets: list[str]
    as_of: date
    timeline: evidence_service.SchemeTimeline
    standings: dict


_inputs_cache: dict[tuple, EngineInputs] = {}
_INPUT_VERSIONS = select(
    select(func.max(RulebookVersion.version)).where(RulebookVersion.status == "published").scalar_subquery(),
    select(func.max(CatalogueLoad.id)).scalar_subquery(),
    select(func.max(AccreditationEvent.id)).scalar_subquery(),
    select(func.max(SchemeMembershipEvent.id)).scalar_subquery(),
    select(func.count(Organization.id)).where(Organization.kind == "lab").scalar_subquery(),  # labs, for lab facts
)


def engine_inputs(session: Session, as_of: date, rulebook_version: int | None = None) -> EngineInputs:
    """The shared engine inputs, cached per process until anything they derive from changes.

    One query reads the versions of what they depend on (rulebook versions, catalogue loads, accreditation and
    scheme events, labs); a submission then pays for evaluating its product only.
    """
    versions = session.connection().execute(_INPUT_VERSIONS).one()
    key = (str(session.get_bind().engine.url), tuple(versions), rulebook_version, as_of)
    cached = _inputs_cache.get(key)
    if cached is not None:
        return cached
    row = rulebooks.current(session) if rulebook_version is None else rulebooks.get_version(session, rulebook_version)
    timeline = evidence_service.scheme_timeline(session)
    standings: dict = {}
    inputs = EngineInputs(
        rulebook_version=row.version, rulebook=rulebooks.parsed(row), catalogue=evidence_service.catalogue_facts(session),
        labs=evidence_service.lab_facts(session, as_of, timeline, standings), markets=target_markets(session),
        as_of=as_of, timeline=timeline, standings=standings,
    )
    if len(_inputs_cache) > 32:
        _inputs_cache.clear()
    _inputs_cache[key] = inputs
    return inputs


def decide(inputs: EngineInputs, product: ProductFacts, evidence: Sequence[ResultEvidence],
           markets: Iterable[str] | None = None) -> dict[str, MarketDecision]:
    return evaluate_markets(product, evidence, inputs.rulebook, inputs.catalogue, inputs.labs,
                            list(markets or inputs.markets), inputs.as_of)


def compute(session: Session, inputs: EngineInputs, product_ids: Sequence[int],
            markets: Iterable[str] | None = None) -> dict[int, dict[str, MarketDecision]]:
    facts = evidence_service.product_facts(session, product_ids)
    evidence = evidence_service.evidence_for(session, product_ids, inputs.timeline, inputs.standings)
    return {pid: decide(inputs, facts[pid], evidence[pid], markets) for pid in product_ids if pid in facts}


_LAB_COUNTRY = select(Organization.__table__.c.country).where(Organization.__table__.c.id == bindparam("id"))
_DELETE_PLANS = delete(DecisionPlan.__table__).where(
    DecisionPlan.__table__.c.product_id.in_(bindparam("ids", expanding=True)))
_DELETE_DECISIONS = delete(Decision.__table__).where(
    Decision.__table__.c.product_id.in_(bindparam("ids", expanding=True)))
_INSERT_DECISIONS = insert(Decision.__table__)
_INSERT_PLANS = insert(DecisionPlan.__table__)


def store(session: Session, decided: dict[int, dict[str, MarketDecision]], fresh: bool = False) -> None:
    """Replace the stored decisions of these products (derived data: the engine can always recompute them).

    `fresh`: the products were registered in this transaction, so there is nothing to replace.
    """
    if not decided:
        return
    begin_write(session)  # a no-op inside a write use case; a batch recompute computed under a read transaction
    if not fresh:
        _delete(session, list(decided))
    rows_of = {}
    for pid, by_market in decided.items():
        documents = decision_documents(by_market, stored=True)
        rows_of[pid] = {market: (d, documents[market], d.inputs_digest) for market, d in by_market.items()}
    _insert(session, rows_of)


def _delete(session: Session, product_ids: list[int]) -> None:
    conn = session.connection()
    conn.execute(_DELETE_PLANS, {"ids": product_ids})
    conn.execute(_DELETE_DECISIONS, {"ids": product_ids})


def _insert(session: Session, rows_of: dict[int, dict[str, tuple[MarketDecision, dict[str, Any], str]]]) -> None:
    """Insert decisions given as {product: {market: (decision, its stored document, its inputs digest)}}."""
    now = utcnow()
    rows = []
    for pid, by_market in rows_of.items():
        for market, (decision, document, digest) in by_market.items():
            recognized, conditional, owed = _counts(decision)
            rows.append(dict(
                product_id=pid, market=market, rulebook_version=decision.rulebook_version, as_of=decision.as_of,
                verdict=decision.verdict.value, recognized=recognized, conditional=conditional, owed=owed,
                detail=document, inputs_digest=digest, computed_at=now,
            ))
    if rows:
        conn = session.connection()
        conn.execute(_INSERT_DECISIONS, rows)
        # Dashboards read a decision's plan and savings from decision_plans: a few KB instead of the whole detail.
        conn.execute(_INSERT_PLANS, [
            dict(product_id=r["product_id"], market=r["market"], plan=r["detail"]["delta_test_plan"],
                 savings=r["detail"]["savings"], conditional_savings=r["detail"]["conditional_savings"])
            for r in rows
        ])


def recompute_batch(session: Session, product_ids: Sequence[int], as_of: date) -> None:
    """Recompute a batch of products (a publish, `registry recompute`) and commit, without losing a concurrent write.

    The batch is decided outside the SQLite write lock, so that another process's batch or a submission can write
    meanwhile; under the lock, the products whose reports changed in between (a report filed, revised or withdrawn)
    are decided again, and all of them if the engine's inputs changed. On PostgreSQL the products are locked first,
    so report writes to them wait for the batch, then decide again themselves.
    """
    with collector.paused():
        reports_service.lock_products(session, product_ids)
        inputs = engine_inputs(session, as_of)
        states = _report_states(session, product_ids)
        decided = compute(session, inputs, product_ids)
        begin_write(session)  # SQLite: the write lock, and a view of what was committed meanwhile
        now_inputs = engine_inputs(session, as_of)
        if now_inputs is not inputs:
            decided = compute(session, now_inputs, product_ids)
        else:
            changed = [pid for pid, state in _report_states(session, product_ids).items() if states.get(pid) != state]
            if changed:
                decided.update(compute(session, inputs, changed))
        store(session, decided)
        session.commit()


def recompute_products(session: Session, product_ids: Sequence[int], as_of: date | None = None) -> None:
    """Recompute and store these products' decisions inside the caller's transaction.

    The products are locked first (PostgreSQL; in id order, as report writes lock them), so a concurrent report
    write is either seen whole or waits for these decisions to commit and then decides again itself.
    """
    reports_service.lock_products(session, product_ids)
    inputs = engine_inputs(session, as_of or date.today())
    store(session, compute(session, inputs, product_ids))


def _document_evidence(session: Session, inputs: EngineInputs, change, report_id: int) -> tuple[ResultEvidence, ...]:
    """The evidence of the report being filed, from the document in hand."""
    document = change.document
    lab_id = document["lab"]
    if lab_id not in inputs.standings:
        inputs.standings[lab_id] = lab_standing(session, lab_id)
    country = next((lab.country for lab in inputs.labs if lab.lab_id == lab_id), None)
    if country is None:
        country = session.connection().execute(_LAB_COUNTRY, {"id": lab_id}).scalar() or ""
    return evidence_service.evidence_of_document(report_id, document, change.flags, country,
                                                 inputs.standings[lab_id], inputs.timeline)


def _declared_facts(change, product_id: int, held: Iterable[tuple[str, str]] = ()) -> ProductFacts:
    """The product as the report being filed declares it (the product row follows its latest declaration)."""
    declared = change.document["product"]
    description = {k: v for k, v in declared.items() if k not in ("manufacturer", "certificates")}
    certificates = [*held, *((c["scheme"], c["number"]) for c in declared.get("certificates", []))]
    return evidence_service.declared_facts(product_id, declared["category"], description, certificates)


_reports = Report.__table__
_REPORT_STATES = select(_reports.c.product_id, func.count(), func.max(_reports.c.updated_at)).where(
    _reports.c.product_id.in_(bindparam("ids", expanding=True)), _reports.c.id != bindparam("but")
).group_by(_reports.c.product_id)
_NO_REPORTS = (0, None)


def _report_states(session: Session, product_ids: Sequence[int], but: int = 0) -> dict[int, tuple]:
    """Per product, (count, latest update) of its reports (but report `but`): any write to them changes it."""
    return {pid: (n, latest) for pid, n, latest in
            session.connection().execute(_REPORT_STATES, {"ids": list(product_ids), "but": but})}


_HELD_IDENTIFIERS = select(ProductIdentifier.__table__.c.scheme, ProductIdentifier.__table__.c.number).where(
    ProductIdentifier.__table__.c.product_id == bindparam("product_id"))
_UNKNOWN = 0  # ids are assigned under the write lock; real ones start at 1


@dataclass
class _Prepared:
    """A submission's decisions computed before the write lock, and what they were computed from."""

    inputs: EngineInputs
    product_id: int  # _UNKNOWN for a product the submission registers
    reports_state: tuple  # (count, latest update) of the product's other reports when read
    facts: ProductFacts
    evidence: tuple[ResultEvidence, ...]
    decided: dict[str, MarketDecision]
    documents: dict[str, dict[str, Any]]


def prepare_submission(session: Session, change) -> dict[str, Any]:
    """Preparer for a submission: decide its product before the write lock is taken, as it will be once stored.

    The new report's id (and a new product's) are not known yet. Decisions do not depend on ids; only the citations
    and the inputs digest do, and `on_evidence_changed` fills those in under the lock, after checking that nothing
    the decisions were computed from changed in between.
    """
    inputs = engine_inputs(session, date.today())
    own = _document_evidence(session, inputs, change, _UNKNOWN)
    if change.created:
        state: tuple = _NO_REPORTS
        facts, evidence = _declared_facts(change, _UNKNOWN), own
    else:
        conn = session.connection()
        state = _report_states(session, [change.product_id]).get(change.product_id, _NO_REPORTS)
        held = [tuple(row) for row in conn.execute(_HELD_IDENTIFIERS, {"product_id": change.product_id})]
        facts = _declared_facts(change, change.product_id, held)
        stored = evidence_service.evidence_for(session, [change.product_id], inputs.timeline, inputs.standings)
        evidence = stored[change.product_id] + own
    decided = decide(inputs, facts, evidence)
    return {"decisions": _Prepared(inputs, change.product_id, state, facts, evidence, decided,
                                   decision_documents(decided, stored=True))}


def _still_valid(session: Session, prepared: _Prepared | None, inputs: EngineInputs, change) -> bool:
    if prepared is None or prepared.inputs is not inputs:  # the rulebook, catalogue or a lab changed since
        return False
    if change.created:
        return prepared.product_id == _UNKNOWN
    if prepared.product_id != change.product_id:
        return False
    state = _report_states(session, [change.product_id], but=change.report_id).get(change.product_id, _NO_REPORTS)
    return state == prepared.reports_state  # no other report of the product was filed or changed since


def on_evidence_changed(session: Session, change) -> None:
    """Listener for report writes (a `reports.EvidenceChange`): the product's decisions follow its evidence in the
    same transaction."""
    if change.document is None:
        recompute_products(session, [change.product_id])
        return
    inputs = engine_inputs(session, date.today())
    prepared = change.prepared.get("decisions")
    if not _still_valid(session, prepared, inputs, change):
        if change.created:  # its evidence is the document in hand, nothing to read back
            facts = _declared_facts(change, change.product_id)
            store(session, {change.product_id: decide(inputs, facts, _document_evidence(session, inputs, change,
                                                                                          change.report_id))}, fresh=True)
        else:
            recompute_products(session, [change.product_id])
        return
    facts = dataclasses.replace(prepared.facts, product_id=change.product_id)
    evidence = tuple(dataclasses.replace(e, report_id=change.report_id) if e.report_id == _UNKNOWN else e
                     for e in prepared.evidence)
    digests = inputs_digests(facts, evidence, inputs.rulebook, inputs.catalogue, inputs.labs, list(prepared.decided),
                             inputs.as_of)
    for market, document in prepared.documents.items():
        document["inputs_digest"] = digests[market]
        for requirement in document["requirements"]:
            for cited in requirement["evidence"]:  # [report id, number, revision, standard, clause]
                if cited[0] == _UNKNOWN:
                    cited[0] = change.report_id
    if not change.created:
        _delete(session, [change.product_id])
    _insert(session, {change.product_id: {
        m: (d, prepared.documents[m], digests[m]) for m, d in prepared.decided.items()}})


def products_of_lab(session: Session, lab_id: str) -> list[int]:
    return list(session.scalars(select(Report.product_id).where(Report.lab_id == lab_id).distinct()))


def product_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Product)) or 0


def stale_products(session: Session, as_of: date | None = None) -> list[int]:
    """Products whose stored decisions are not those of `as_of` (today) under the current rulebook, or missing.

    Decisions are made for a day: evidence ages, transitions end. Lookups on a later day compute live until these
    products are recomputed (`registry recompute --stale`, e.g. from a daily cron job).
    """
    as_of = as_of or date.today()
    version = rulebooks.current(session).version
    current = (select(Decision.product_id).where(Decision.as_of == as_of, Decision.rulebook_version == version)
               .group_by(Decision.product_id).having(func.count() == len(target_markets(session))))
    return list(session.scalars(select(Product.id).where(Product.id.not_in(current)).order_by(Product.id)))


def recompute_all(session: Session, as_of: date | None = None, batch: int = BATCH,
                  progress: Callable[[int], None] | None = None, workers: int = 1, only_stale: bool = False) -> int:
    """Recompute every product's decisions (`only_stale`: those `stale_products` names) in batches, committing each
    batch; returns the number of products.

    With `workers` > 1 the batches are shared among that many processes, each with its own connection: the
    engine is CPU-bound Python, so processes, not threads, use the machine's cores.
    """
    as_of = as_of or date.today()
    if only_stale:
        ids = stale_products(session, as_of)
    else:
        ids = list(session.scalars(select(Product.id).order_by(Product.id)))
    chunks = [ids[start:start + batch] for start in range(0, len(ids), batch)]
    if workers <= 1 or len(chunks) < 2:
        for chunk in chunks:
            recompute_batch(session, chunk, as_of)
            if progress:
                progress(len(chunk))
        return len(ids)
    session.commit()
    url = session.get_bind().engine.url.render_as_string(hide_password=False)
    with ProcessPoolExecutor(workers, mp_context=get_context("fork"), initializer=_worker_start,
                             initargs=(url,)) as pool:
        for done in pool.map(_worker_recompute, chunks, [as_of] * len(chunks)):
            if progress:
                progress(done)
    return len(ids)


_worker_engine = None


def _worker_start(url: str) -> None:
    """In a fresh worker process: its own engine (nothing inherited from the parent's connections)."""
    global _worker_engine
    from registry import db

    db.forget_inherited_locks()
    _worker_engine = db.make_engine(url)


def _worker_recompute(chunk: list[int], as_of: date) -> int:
    with Session(_worker_engine) as session:
        recompute_batch(session, chunk, as_of)
    return len(chunk)


def _worker_impact(chunk: list[int], as_of: date, base_version: int, draft_version: int) -> dict[str, Any]:
    with Session(_worker_engine) as session:
        return _impact_chunk(session, chunk, as_of, base_version, draft_version)


# ---------------------------------------------------------------------------------------------------- reading


def _product(session: Session, product_id: int) -> Product:
    product = session.get(Product, product_id)
    if product is None:
        raise NotFound(f"No product {product_id}.")
    return product


def recognition(session: Session, principal: Principal, product_id: int, market: str | None = None,
                as_of: date | None = None) -> dict[str, Any]:
    """A product's decisions: all markets at a glance, or one market's per-requirement detail."""
    require(principal, "report:read_summary")
    product = _product(session, product_id)
    today = date.today()
    markets = target_markets(session)
    if market is not None and market not in markets:
        raise SemanticViolation("Unknown market.", [Violation("/market", f"one of: {', '.join(markets)}")])
    wanted = [market] if market else markets
    current_version = rulebooks.current(session).version
    stored = {d.market: d for d in session.scalars(select(Decision).where(Decision.product_id == product_id))}
    fresh = (as_of in (None, today)) and all(
        m in stored and stored[m].as_of == today and stored[m].rulebook_version == current_version for m in wanted
    )
    if fresh:
        details = {m: stored[m].detail for m in wanted}  # the summary reads statuses, the same in both forms
    else:
        inputs = engine_inputs(session, as_of or today)
        computed = compute(session, inputs, [product_id], wanted).get(product_id, {})
        details = {m: decision_document(d) for m, d in computed.items()}
    summary = [
        {"market": m, "verdict": d["verdict"], "rulebook_version": d["rulebook_version"], "as_of": d["as_of"],
         **_status_counts(d)}
        for m, d in sorted(details.items())
    ]
    view: dict[str, Any] = {
        "product": _product_header(session, product), "as_of": (as_of or today).isoformat(),
        "rulebook_version": summary[0]["rulebook_version"] if summary else current_version,
        "markets": summary, "computed": "stored" if fresh else "live",
    }
    if market:
        view["decision"] = served_document(details[market]) if market in details else None
    return view


def _status_counts(detail: dict[str, Any]) -> dict[str, int]:
    counts = {"recognized": 0, "conditional": 0, "retest": 0, "missing": 0}
    for r in detail["requirements"]:
        counts[r["status"]] += 1
    return counts


def _product_header(session: Session, product: Product) -> dict[str, Any]:
    maker = session.get(Organization, product.manufacturer_id)
    identifiers = session.execute(
        select(ProductIdentifier.scheme, ProductIdentifier.number).where(ProductIdentifier.product_id == product.id)
    ).all()
    d = product.description or {}
    return {
        "id": product.id, "model": product.model, "category": product.category,
        "manufacturer": {"id": maker.id, "name": maker.name_en, "name_zh": maker.name_zh, "country": maker.country},
        "ratings": d.get("ratings"), "connectors": d.get("connectors", []), "cooling": d.get("cooling"),
        "liquid_cooled_cable": d.get("liquid_cooled_cable"),
        "certificates": [{"scheme": s, "number": n} for s, n in identifiers],
    }


def delta_test_plan(session: Session, principal: Principal, product_id: int, market: str,
                    as_of: date | None = None) -> dict[str, Any]:
    view = recognition(session, principal, product_id, market, as_of)
    decision = view["decision"]
    return {"product": view["product"], "market": market, "as_of": decision["as_of"],
            "rulebook_version": decision["rulebook_version"], "verdict": decision["verdict"],
            "plan": decision["delta_test_plan"], "savings": decision["savings"],
            "conditional_savings": decision["conditional_savings"]}


def list_products(session: Session, principal: Principal, *, manufacturer: str | None = None,
                  model: str | None = None, certificate: str | None = None, after_id: int | None = None,
                  limit: int = 50) -> tuple[list[dict[str, Any]], int | None]:
    """Products with their market-access summary from the stored decisions; ascending id, cursor pagination."""
    require(principal, "report:read_summary")
    query = select(Product).order_by(Product.id)
    if after_id is not None:
        query = query.where(Product.id > after_id)
    if manufacturer:
        query = query.join(Organization, Organization.id == Product.manufacturer_id).where(
            (Organization.id == manufacturer)
            | func.lower(Organization.name_en).contains(manufacturer.lower(), autoescape=True)
            | Organization.name_zh.contains(manufacturer, autoescape=True)
        )
    if model:
        query = query.where(Product.model_key.contains(model.strip().casefold(), autoescape=True))
    if certificate:
        query = query.where(Product.id.in_(
            select(ProductIdentifier.product_id).where(ProductIdentifier.number == certificate.strip())
        ))
    products = session.scalars(query.limit(limit + 1)).all()
    more = len(products) > limit
    products = products[:limit]
    ids = [p.id for p in products]
    access: dict[int, list[dict[str, Any]]] = {pid: [] for pid in ids}
    for d in session.execute(
        select(Decision.product_id, Decision.market, Decision.verdict, Decision.recognized, Decision.conditional,
               Decision.owed, Decision.rulebook_version, Decision.as_of)
        .where(Decision.product_id.in_(ids)).order_by(Decision.product_id, Decision.market)
    ):
        access[d.product_id].append({"market": d.market, "verdict": d.verdict, "recognized": d.recognized,
                                     "conditional": d.conditional, "owed": d.owed,
                                     "rulebook_version": d.rulebook_version, "as_of": d.as_of})
    items = [dict(_product_header(session, p), market_access=access[p.id]) for p in products]
    return items, (products[-1].id if more and products else None)


def on_lab_changed(session: Session, lab_id: str) -> None:
    """Listener for accreditation changes: every product with a result from the lab is decided again."""
    product_ids = products_of_lab(session, lab_id)
    for start in range(0, len(product_ids), BATCH):
        recompute_products(session, product_ids[start:start + BATCH])


# ---------------------------------------------------------------------------------------------------- pre-check


def precheck(session: Session, principal: Principal, document: Any, markets: Sequence[str] | None = None,
             as_of: date | None = None) -> dict[str, Any]:
    """Decide what a report that is not stored would earn in each market (for a lab or maker before submitting).

    The document is checked exactly as a submission is (schema, catalogue, the named lab's accreditation, dates);
    nothing is written.
    """
    from registry import contracts
    from registry.services import catalogue as catalogue_service
    from registry.services.accreditation import lab_standing
    from registry.services.reports import check_semantics

    require(principal, "recognition:precheck")
    violations = contracts.validate(document, "test-report/v1")
    if violations:
        from registry.errors import ContractViolation

        raise ContractViolation("The document does not conform to the published schema.",
                                [Violation("/document" + v.pointer, v.message) for v in violations])
    as_of = as_of or date.today()
    known = target_markets(session)
    unknown = [Violation(f"/markets/{i}", f"unknown market '{m}'") for i, m in enumerate(markets or []) if m not in known]
    if unknown:
        raise SemanticViolation("Unknown market.", unknown)
    if session.get(Organization, document["lab"]) is None:
        raise SemanticViolation("Unknown lab.", [Violation("/document/lab", f"no lab '{document['lab']}' in the registry")])
    standing = lab_standing(session, document["lab"])
    problems, flags = check_semantics(document, catalogue_service.snapshot(session), standing, as_of)
    if problems:
        raise SemanticViolation(f"{len(problems)} problem(s) with the report's content.",
                                [Violation("/document" + v.pointer, v.message) for v in problems])
    inputs = engine_inputs(session, as_of)
    lab = session.get(Organization, document["lab"])
    evidence = []
    for i, r in enumerate(document["results"]):
        performed_on = date.fromisoformat(r["performed_on"])
        conditions = r.get("conditions") or {}
        ambient = conditions.get("ambient_temperature_c") or {}
        evidence.append(ResultEvidence(
            report_id=0, report_number=document["report_number"], revision=1, lab_id=lab.id, report_status="valid",
            withdrawn_on=None, issued_on=date.fromisoformat(document["issued_on"]), standard=r["standard"],
            clause=r["clause"], test_item=r["test_item"], verdict=r["verdict"], performed_on=performed_on,
            accredited=flags[i][1],
            lab_schemes=evidence_service.lab_schemes_on(standing, inputs.timeline, r["standard"], performed_on),
            lab_country=lab.country or "", ambient_min_c=ambient.get("min"), ambient_max_c=ambient.get("max"),
            supply_frequency_hz=conditions.get("supply_frequency_hz"),
        ))
    declared = document["product"]
    product = ProductFacts(
        product_id=0, category=declared["category"], max_power_kw=float(declared["ratings"]["max_power_kw"]),
        connectors=frozenset(declared.get("connectors", [])), cooling=declared.get("cooling", ""),
        liquid_cooled_cable=bool(declared.get("liquid_cooled_cable", False)),
        input_frequency_hz=(declared["ratings"].get("input") or {}).get("frequency_hz"),
        ip_code=declared.get("ip_code"),
        certificates=frozenset((c["scheme"], c["number"]) for c in declared.get("certificates", [])),
    )
    decided = decide(inputs, product, evidence, markets or inputs.markets)
    return {
        "as_of": as_of.isoformat(), "rulebook_version": inputs.rulebook_version, "stored": False,
        "markets": [dict(decision_document(d), **_status_counts(decision_document(d))) for _m, d in sorted(decided.items())],
    }


# ---------------------------------------------------------------------------------------------------- matrix


FAMILY_CONNECTORS = {"CN": frozenset({"GBT_DC"})}


def _source_market(session: Session) -> dict[str, str]:
    """Which market's regime a lab's results are made for: its country, or the EU for EU member states."""
    blocs = dict(session.execute(select(Market.code, Market.bloc_code)).all())
    out = {}
    for lab_id, country in session.execute(select(Organization.id, Organization.country).where(Organization.kind == "lab")):
        out[lab_id] = "EU" if blocs.get(country) == "EU" else country
    return out


def matrix(session: Session, principal: Principal, as_of: date | None = None) -> dict[str, Any]:
    """Market x market: the share of each target's requirements that results made for a source's regime satisfy.

    `rulebook`: a best case from the rules alone — one passing, accredited result to the source market's first
    accepted standard for each of its requirements, from a lab standing in every scheme, on a charger with the
    source's connector family. `registry`: the average over products whose reports all come from labs of the
    source market, from the stored decisions.
    """
    require(principal, "report:read_summary")
    as_of = as_of or date.today()
    inputs = engine_inputs(session, as_of)
    markets = inputs.markets
    all_schemes = frozenset(s for events in inputs.timeline.events.values() for s, _st, _d in events)
    from registry.recognition import market_requirements

    rulebook_share: dict[str, dict[str, dict[str, float]]] = {}
    for source in markets:
        requirements = market_requirements(inputs.rulebook, source, inputs.catalogue.market_bloc, as_of)
        evidence = []
        for n, requirement in enumerate(requirements):
            if not requirement.accepted_standards:
                continue
            standard = requirement.accepted_standards[0][0]
            evidence.append(ResultEvidence(
                report_id=1, report_number=f"SYNTHETIC-{source}", revision=1, lab_id=f"synthetic-{source}",
                report_status="valid", withdrawn_on=None, issued_on=as_of, standard=standard, clause=None,
                test_item=requirement.test_item, verdict="pass", performed_on=as_of, accredited=True,
                lab_schemes=all_schemes, lab_country=source, ambient_min_c=-40.0, ambient_max_c=55.0,
                supply_frequency_hz=None,
            ))
        product = ProductFacts(product_id=0, category="dc_charger", max_power_kw=400.0,
                               connectors=FAMILY_CONNECTORS.get(source, frozenset({"CCS2"})), cooling="liquid",
                               liquid_cooled_cable=True, input_frequency_hz=None, ip_code="IP55")
        for target, decision in decide(inputs, product, evidence, markets).items():
            counts = _status_counts(decision_document(decision))
            total = sum(counts.values()) or 1
            rulebook_share.setdefault(source, {})[target] = {
                "recognized": round(counts["recognized"] / total, 3),
                "recognized_or_conditional": round((counts["recognized"] + counts["conditional"]) / total, 3),
                "requirements": total,
            }

    lab_market = _source_market(session)
    sources: dict[int, set[str]] = {}
    for pid, lab_id in session.execute(select(Report.product_id, Report.lab_id).where(Report.status == "valid")):
        sources.setdefault(pid, set()).add(lab_market.get(lab_id, "?"))
    sums: dict[tuple[str, str], list[float]] = {}
    for d in session.execute(select(Decision.product_id, Decision.market, Decision.recognized, Decision.conditional,
                                    Decision.owed)):
        source = sources.get(d.product_id)
        if not source or len(source) != 1:
            continue
        total = (d.recognized + d.conditional + d.owed) or 1
        entry = sums.setdefault((next(iter(source)), d.market), [0.0, 0.0, 0])
        entry[0] += d.recognized / total
        entry[1] += (d.recognized + d.conditional) / total
        entry[2] += 1
    registry_share: dict[str, dict[str, dict[str, float]]] = {}
    for (source, target), (rec, both, n) in sorted(sums.items()):
        registry_share.setdefault(source, {})[target] = {
            "recognized": round(rec / n, 3), "recognized_or_conditional": round(both / n, 3), "products": n,
        }
    return {"as_of": as_of.isoformat(), "rulebook_version": inputs.rulebook_version, "markets": markets,
            "rulebook": rulebook_share, "registry": registry_share}


# ---------------------------------------------------------------------------------------------------- what-if


RANK = {"blocked": 0, "accessible_with_conditions": 1, "accessible": 2}


@dataclass(frozen=True)
class _Outcome:
    """What the what-if compares of one decision: verdict, tests owed and their price."""

    verdict: str
    owed: int
    cost_min: int
    cost_max: int


def _outcome(decision: MarketDecision) -> _Outcome:
    plan = decision.delta_test_plan
    return _Outcome(decision.verdict.value, len(plan.items), plan.total_cost_min, plan.total_cost_max)


IMPACT_FIELDS = ("gaining", "losing", "unchanged", "tests_saved", "tests_added", "cost_saved_min", "cost_saved_max",
                 "cost_added_min", "cost_added_max")


def _impact_chunk(session: Session, chunk: list[int], as_of: date, base_version: int, draft_version: int,
                  examples: int = 50) -> dict[str, Any]:
    with collector.paused():
        base = engine_inputs(session, as_of, base_version)
        draft = engine_inputs(session, as_of, draft_version)
        per_market = {m: dict.fromkeys(IMPACT_FIELDS, 0) for m in base.markets}
        changes: list[dict[str, Any]] = []
        facts = evidence_service.product_facts(session, chunk)
        evidence = evidence_service.evidence_for(session, chunk, base.timeline, base.standings)
        # The published rulebook's side is what is stored, when it was decided for this very day under that version
        # (a report or accreditation change rewrites it in its own transaction): only the draft's side is computed then.
        stored: dict[int, dict[str, _Outcome]] = {}
        for pid, market, verdict, plan in session.execute(
            select(Decision.product_id, Decision.market, Decision.verdict, DecisionPlan.plan)
            .join(DecisionPlan,
                  (DecisionPlan.product_id == Decision.product_id) & (DecisionPlan.market == Decision.market))
            .where(Decision.product_id.in_(chunk), Decision.as_of == as_of, Decision.rulebook_version == base_version)
        ):
            stored.setdefault(pid, {})[market] = _Outcome(verdict, len(plan["items"]), plan["total_cost_min"],
                                                          plan["total_cost_max"])
        for pid in chunk:
            if pid not in facts:
                continue
            before = stored.get(pid, {})
            if set(before) != set(base.markets):
                before = {m: _outcome(d) for m, d in decide(base, facts[pid], evidence[pid]).items()}
            after = {m: _outcome(d) for m, d in decide(draft, facts[pid], evidence[pid]).items()}
            for market in base.markets:
                b, a = before.get(market), after.get(market)
                if b is None or a is None:
                    continue
                stats = per_market[market]
                delta = RANK[a.verdict] - RANK[b.verdict]
                stats["gaining" if delta > 0 else "losing" if delta < 0 else "unchanged"] += 1
                owed_before, owed_after = b.owed, a.owed
                if owed_after < owed_before:
                    stats["tests_saved"] += owed_before - owed_after
                else:
                    stats["tests_added"] += owed_after - owed_before
                dmin = b.cost_min - a.cost_min
                dmax = b.cost_max - a.cost_max
                if dmin >= 0:
                    stats["cost_saved_min"] += dmin
                    stats["cost_saved_max"] += max(dmax, 0)
                else:
                    stats["cost_added_min"] += -dmin
                    stats["cost_added_max"] += max(-dmax, 0)
                if (delta or owed_after != owed_before) and len(changes) < examples:
                    changes.append({"product_id": pid, "market": market, "verdict_before": b.verdict,
                                    "verdict_after": a.verdict, "owed_before": owed_before, "owed_after": owed_after})
        return {"markets": per_market, "changes": changes}


def impact(session: Session, principal: Principal, version: int, as_of: date | None = None,
           examples: int = 50, workers: int = 1) -> dict[str, Any]:
    """What a draft would change against the published rulebook, for every product and market. Stores nothing."""
    require(principal, "rulebook:impact")
    as_of = as_of or date.today()
    current_row = rulebooks.current(session)
    draft_row = rulebooks.get_version(session, version)
    ids = list(session.scalars(select(Product.id).order_by(Product.id)))
    chunks = [ids[start:start + BATCH] for start in range(0, len(ids), BATCH)]
    if workers <= 1 or len(chunks) < 2:
        parts = [_impact_chunk(session, chunk, as_of, current_row.version, draft_row.version, examples)
                 for chunk in chunks]
    else:
        session.commit()
        url = session.get_bind().engine.url.render_as_string(hide_password=False)
        with ProcessPoolExecutor(workers, mp_context=get_context("fork"), initializer=_worker_start,
                                 initargs=(url,)) as pool:
            n = len(chunks)
            parts = list(pool.map(_worker_impact, chunks, [as_of] * n, [current_row.version] * n,
                                  [draft_row.version] * n))
    markets = target_markets(session)
    per_market = {m: dict.fromkeys(IMPACT_FIELDS, 0) for m in markets}
    changes: list[dict[str, Any]] = []
    for part in parts:
        for market, stats in part["markets"].items():
            for key, value in stats.items():
                per_market.setdefault(market, dict.fromkeys(IMPACT_FIELDS, 0))[key] += value
        changes.extend(part["changes"][: max(0, examples - len(changes))])
    totals = {k: sum(m[k] for m in per_market.values()) for k in IMPACT_FIELDS}
    rulebook = rulebooks.parsed(current_row)
    return {"draft_version": draft_row.version, "published_version": current_row.version, "as_of": as_of.isoformat(),
            "products": len(ids), "markets": per_market, "totals": totals, "changes": changes,
            "currency": next((c.currency for c in rulebook.cost_table.values()), None)}


def publish(session: Session, principal: Principal, version: int,
            progress: Callable[[int], None] | None = None, workers: int = 1) -> dict[str, Any]:
    """Publish a draft and recompute every decision with it, in batches."""
    row = rulebooks.mark_published(session, principal, version)
    session.commit()
    count = recompute_all(session, progress=progress, workers=workers)
    return {"published": rulebooks.version_view(row), "recomputed_products": count}
