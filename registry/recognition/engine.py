"""The recognition engine: a pure function from immutable facts to a `MarketDecision` that explains itself.

For one product, one market and one date, every requirement of the market (bloc requirements included,
member overrides applied) that is in force and applies to the product is decided from the results of its
test item:

1. Evidence is normalised first: results issued after `as_of` are ignored, only the latest revision of a
   report (per lab and report number) counts, and results are sorted (newest test first, then by every
   field), so the decision never depends on the order the evidence came in.
2. Each candidate result meets the exclusion rules first (the first veto rejects it), then the engine's
   own admissibility check (a withdrawn report is never evidence, even under a rulebook that forgets to
   say so), then the acceptance rules. Acceptance rules granting `full` are tried before those granting
   `conditional`, each group in rule-id order, and the first whose condition holds decides, so a result
   that qualifies for full recognition is never downgraded by how rule ids happen to sort.
3. The first candidate accepted in full makes the requirement `recognized`; failing that, the first
   accepted conditionally makes it `conditional` (with the rule's extra steps). Candidates but no
   acceptance: `retest`, with every candidate's reasons. No candidate: `missing`.

Nothing here reads a clock, a file or a database, or logs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from registry.recognition.canonical import digest, plain
from registry.recognition.model import (
    CatalogueFacts,
    DeltaTestItem,
    DeltaTestPlan,
    LabFacts,
    MarketDecision,
    Outcome,
    ProductFacts,
    Reason,
    RequirementDecision,
    ResultEvidence,
    RuleKind,
    Savings,
    Status,
    UnknownMarket,
    Verdict,
)
from registry.recognition.operators import Context, correspondents, report_valid
from registry.recognition.rulebook import (
    RecognitionRule,
    Requirement,
    Rulebook,
    market_requirements,
    market_rules,
)

UNCATEGORISED = "uncategorised"


# --------------------------------------------------------------------------- evidence


def _result_key(result: ResultEvidence) -> tuple:
    """Sort key: newest test first, then every field, so equal keys mean equal results."""
    return (
        -result.performed_on.toordinal(),
        result.report_number,
        result.lab_id,
        -result.revision,
        result.report_id,
        result.standard,
        result.clause or "",
        result.test_item,
        result.verdict,
        result.report_status,
        result.withdrawn_on.toordinal() if result.withdrawn_on else 0,
        result.issued_on.toordinal(),
        result.accredited,
        tuple(sorted(result.lab_schemes)),
        result.lab_country,
        _number(result.ambient_min_c),
        _number(result.ambient_max_c),
        _number(result.supply_frequency_hz),
    )


def _number(value: float | None) -> tuple[int, float]:
    return (0, 0.0) if value is None else (1, float(value))


def current_evidence(evidence: Iterable[ResultEvidence], as_of: date) -> tuple[ResultEvidence, ...]:
    """Return the results that count on `as_of`, sorted: issued by then, latest revision of each report."""
    issued = [result for result in evidence if result.issued_on <= as_of]
    latest: dict[tuple[str, str], int] = {}
    for result in issued:
        key = (result.lab_id, result.report_number)
        latest[key] = max(latest.get(key, result.revision), result.revision)
    kept = [r for r in issued if r.revision == latest[(r.lab_id, r.report_number)]]
    return tuple(sorted(kept, key=_result_key))


def applies_to_product(requirement: Requirement, product: ProductFacts) -> bool:
    """Return True when the requirement concerns this product (category, cooled cable, power)."""
    if product.category not in requirement.categories:
        return False
    wanted = requirement.applies_if
    if "liquid_cooled_cable" in wanted and bool(wanted["liquid_cooled_cable"]) != product.liquid_cooled_cable:
        return False
    return not ("min_power_kw" in wanted and product.max_power_kw < wanted["min_power_kw"])


# --------------------------------------------------------------------------- one candidate


@dataclass(frozen=True)
class _Judgement:
    outcome: Outcome | None  # None: rejected
    rule: RecognitionRule | None  # the rule that decided (accepted or vetoed), or the first one tried
    reasons: tuple[Reason, ...]


def _reason(rule: RecognitionRule | None, passed: bool, text: str) -> Reason:
    if rule is None:
        return Reason(None, None, passed, text, None)
    return Reason(rule.id, rule.version, passed, text, rule.description.zh)


def _judge(
    result: ResultEvidence,
    requirement: Requirement,
    exclusions: Sequence[RecognitionRule],
    acceptances: Sequence[RecognitionRule],
    ctx: Context,
) -> _Judgement:
    reasons: list[Reason] = []
    for rule in exclusions:
        if not rule.covers(requirement):
            continue
        vetoed, detail = rule.when.evaluate(result, ctx)
        if vetoed:
            reasons.append(_reason(rule, False, f"{result.label}: excluded by {rule.id}: {detail}"))
            return _Judgement(None, rule, tuple(reasons))
        reasons.append(_reason(rule, True, f"{result.label}: not excluded by {rule.id}: {detail}"))
    valid, detail = report_valid(result, ctx)
    if not valid:  # the engine's own floor, whatever the rulebook says
        reasons.append(_reason(None, False, f"{result.label}: not admissible: {detail}"))
        return _Judgement(None, None, tuple(reasons))
    first: RecognitionRule | None = None
    for rule in acceptances:
        if not rule.covers(requirement):
            continue
        accepted, detail = rule.when.evaluate(result, ctx)
        if accepted:
            grant = "in full" if rule.outcome is Outcome.FULL else "on conditions"
            reasons.append(_reason(rule, True, f"{result.label}: accepted {grant} by {rule.id}: {detail}"))
            return _Judgement(rule.outcome, rule, tuple(reasons))
        reasons.append(_reason(rule, False, f"{result.label}: not accepted by {rule.id}: {detail}"))
        first = first or rule
    if first is None:
        reasons.append(
            # No market in the text: the same judgement is shared by every market inheriting this requirement.
            _reason(None, False, f"{result.label}: no acceptance rule in force covers {requirement.id}")
        )
    return _Judgement(None, first, tuple(reasons))


# --------------------------------------------------------------------------- one requirement


def decide_requirement(
    requirement: Requirement,
    candidates: Sequence[ResultEvidence],
    rules: Sequence[RecognitionRule],
    ctx: Context,
) -> RequirementDecision:
    """Decide one requirement from its candidate results (already sorted) and the market's rules."""
    if not candidates:
        return RequirementDecision(
            requirement_id=requirement.id,
            test_item=requirement.test_item,
            status=Status.MISSING,
            rule_id=None,
            rule_version=None,
            evidence=(),
            reasons=(Reason(None, None, False, f"no result for test item {requirement.test_item} in the evidence", None),),
        )
    exclusions = [rule for rule in rules if rule.kind is RuleKind.EXCLUSION]
    acceptances = sorted(
        (rule for rule in rules if rule.kind is RuleKind.ACCEPTANCE),
        key=lambda rule: (rule.outcome is not Outcome.FULL, rule.id),
    )
    conditional: tuple[ResultEvidence, _Judgement] | None = None
    rejected: list[tuple[ResultEvidence, _Judgement]] = []
    for result in candidates:
        judgement = _judge(result, requirement, exclusions, acceptances, ctx)
        if judgement.outcome is Outcome.FULL:
            return _accepted(requirement, result, judgement, Status.RECOGNIZED)
        if judgement.outcome is Outcome.CONDITIONAL:
            conditional = conditional or (result, judgement)
        else:
            rejected.append((result, judgement))
    if conditional is not None:
        return _accepted(requirement, *conditional, Status.CONDITIONAL)
    deciding = next((judgement.rule for _, judgement in rejected if judgement.rule is not None), None)
    return RequirementDecision(
        requirement_id=requirement.id,
        test_item=requirement.test_item,
        status=Status.RETEST,
        rule_id=deciding.id if deciding else None,
        rule_version=deciding.version if deciding else None,
        evidence=tuple(result.citation for result, _ in rejected),
        reasons=tuple(reason for _, judgement in rejected for reason in judgement.reasons),
    )


def _accepted(
    requirement: Requirement, result: ResultEvidence, judgement: _Judgement, status: Status
) -> RequirementDecision:
    rule = judgement.rule
    return RequirementDecision(
        requirement_id=requirement.id,
        test_item=requirement.test_item,
        status=status,
        rule_id=rule.id if rule else None,
        rule_version=rule.version if rule else None,
        evidence=(result.citation,),
        reasons=judgement.reasons,
        extra_steps=rule.extra_steps if (rule and status is Status.CONDITIONAL) else (),
    )


# --------------------------------------------------------------------------- plan, savings, verdict


def open_standards(requirement: Requirement, as_of: date) -> tuple[str, ...]:
    """Return the requirement's accepted standards still open on `as_of`."""
    return tuple(sid for sid, until in requirement.accepted_standards if until is None or as_of < until)


def _capable_labs(
    standards: Sequence[str], labs: Sequence[LabFacts], catalogue: CatalogueFacts, memo: dict | None = None
) -> tuple[str, ...]:
    """Labs accredited for one of `standards` or for an identical adoption of one (facts.md §6 item 2)."""
    if memo is not None:
        key = tuple(standards)
        if key not in memo:
            memo[key] = _capable_labs(standards, labs, catalogue)
        return memo[key]
    wanted = set(standards)
    for standard in standards:
        wanted.update(other for other, degree in correspondents(catalogue, standard).items() if degree == "IDT")
    return tuple(sorted(lab.lab_id for lab in labs if lab.scope & wanted))


def delta_test_plan(
    decisions: Sequence[RequirementDecision],
    requirements: Mapping[str, Requirement],
    rulebook: Rulebook,
    catalogue: CatalogueFacts,
    labs: Sequence[LabFacts],
    as_of: date,
    memo: dict | None = None,
) -> DeltaTestPlan:
    """Price every retest/missing requirement and name the labs that can test it, grouped by category."""
    items: list[DeltaTestItem] = []
    for decision in decisions:
        if decision.status not in (Status.RETEST, Status.MISSING):
            continue
        requirement = requirements[decision.requirement_id]
        cost = rulebook.cost_table[requirement.test_item]
        standards = open_standards(requirement, as_of)
        items.append(
            DeltaTestItem(
                requirement_id=requirement.id,
                test_item=requirement.test_item,
                standards=standards,
                cost_min=cost.cost_min,
                cost_max=cost.cost_max,
                currency=cost.currency,
                lead_time_days=cost.lead_time_days,
                labs=_capable_labs(standards, labs, catalogue, memo),
            )
        )
    groups: dict[str, list[DeltaTestItem]] = {}
    for item in items:
        groups.setdefault(catalogue.test_item_categories.get(item.test_item, UNCATEGORISED), []).append(item)
    currencies = sorted({item.currency for item in items})
    return DeltaTestPlan(
        items=tuple(items),
        total_cost_min=sum(item.cost_min for item in items),
        total_cost_max=sum(item.cost_max for item in items),
        currency=currencies[0] if currencies else None,
        lead_time_days=max((item.lead_time_days for item in items), default=0),
        groups={category: tuple(groups[category]) for category in sorted(groups)},
    )


def savings(decisions: Sequence[RequirementDecision], rulebook: Rulebook, status: Status) -> Savings:
    """Sum what the requirements with `status` would have cost to test; days = longest avoided lead time."""
    costs = [rulebook.cost_table[d.test_item] for d in decisions if d.status is status]
    return Savings(
        tests_avoided=len(costs),
        cost_min=sum(c.cost_min for c in costs),
        cost_max=sum(c.cost_max for c in costs),
        days_avoided=max((c.lead_time_days for c in costs), default=0),
    )


def market_verdict(decisions: Sequence[RequirementDecision]) -> Verdict:
    """Blocked if anything must be tested, with conditions if anything is conditional, else accessible."""
    statuses = {decision.status for decision in decisions}
    if statuses & {Status.RETEST, Status.MISSING}:
        return Verdict.BLOCKED
    if Status.CONDITIONAL in statuses:
        return Verdict.ACCESSIBLE_WITH_CONDITIONS
    return Verdict.ACCESSIBLE


def _evidence_row(result: ResultEvidence) -> list:
    return [
        result.report_id,
        result.report_number,
        result.revision,
        result.lab_id,
        result.report_status,
        result.withdrawn_on.isoformat() if result.withdrawn_on else None,
        result.issued_on.isoformat(),
        result.standard,
        result.clause,
        result.test_item,
        result.verdict,
        result.performed_on.isoformat(),
        result.accredited,
        sorted(result.lab_schemes),
        result.lab_country,
        result.ambient_min_c,
        result.ambient_max_c,
        result.supply_frequency_hz,
    ]


def _dump(row: list) -> str:
    return json.dumps(row, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _shared_digest(
    product: ProductFacts,
    evidence: Iterable[ResultEvidence],
    rulebook: Rulebook,
    catalogue: CatalogueFacts,
    labs: Iterable[LabFacts],
) -> str:
    # Rows are plain JSON already, so they are dumped directly: this is the hot path for large evidence sets.
    rows = sorted(_dump(_evidence_row(result)) for result in evidence)
    lab_rows = sorted(_dump([lab.lab_id, lab.name, lab.country, sorted(lab.scope), sorted(lab.schemes)]) for lab in labs)
    return digest(
        {
            "product": plain(product),
            "evidence": rows,
            "labs": lab_rows,
            "rulebook": [rulebook.version, rulebook.digest],
            "catalogue": catalogue.digest,
        }
    )


def _market_digest(shared: str, market: str, as_of: date) -> str:
    return digest({"inputs": shared, "market": market, "as_of": as_of.isoformat()})


def inputs_digest(
    product: ProductFacts,
    evidence: Iterable[ResultEvidence],
    rulebook: Rulebook,
    catalogue: CatalogueFacts,
    labs: Iterable[LabFacts],
    market: str,
    as_of: date,
) -> str:
    """Return the sha256 of a canonical form of every input, independent of the order of evidence and labs.
    The rulebook and catalogue enter through their own digests."""
    return _market_digest(_shared_digest(product, evidence, rulebook, catalogue, labs), market, as_of)


# --------------------------------------------------------------------------- entry point


def evaluate(
    product: ProductFacts,
    evidence: Iterable[ResultEvidence],
    rulebook: Rulebook,
    catalogue: CatalogueFacts,
    labs: Iterable[LabFacts],
    market: str,
    as_of: date,
) -> MarketDecision:
    """Decide which of the product's results `market` accepts on `as_of`, requirement by requirement.

    Raises:
        UnknownMarket: the rulebook has nothing for `market` or its bloc.
    """
    decided = evaluate_markets(product, evidence, rulebook, catalogue, labs, (market,), as_of)
    if market not in decided:
        market_requirements(rulebook, market, catalogue.market_bloc, as_of)  # raises UnknownMarket
        raise UnknownMarket(market)
    return decided[market]


def evaluate_markets(
    product: ProductFacts,
    evidence: Iterable[ResultEvidence],
    rulebook: Rulebook,
    catalogue: CatalogueFacts,
    labs: Iterable[LabFacts],
    markets: Iterable[str],
    as_of: date,
) -> dict[str, MarketDecision]:
    """Decide several markets at once; markets the rulebook knows nothing about are left out.

    Member states inheriting a bloc's requirement under the same rules get the same judgement, so each
    (requirement, rules) pair is decided once and shared: the ASEAN members cost little more than one market.
    """
    evidence = tuple(evidence)
    labs = tuple(sorted(labs, key=lambda lab: lab.lab_id))
    by_item: dict[str, list[ResultEvidence]] = {}
    for result in current_evidence(evidence, as_of):
        by_item.setdefault(result.test_item, []).append(result)
    shared = _shared_digest(product, evidence, rulebook, catalogue, labs)
    memo: dict[tuple, RequirementDecision] = {}
    labs_memo: dict = {}
    out: dict[str, MarketDecision] = {}
    for market in markets:
        try:
            in_force = market_requirements(rulebook, market, catalogue.market_bloc, as_of)
            rules = market_rules(rulebook, market, catalogue.market_bloc, as_of)
        except UnknownMarket:
            continue
        requirements = tuple(requirement for requirement in in_force if applies_to_product(requirement, product))
        decisions = []
        for requirement in requirements:
            # Only the rules covering a requirement take part in deciding it (see _judge).
            key = (id(requirement), tuple(id(rule) for rule in rules if rule.covers(requirement)))
            if key not in memo:
                memo[key] = decide_requirement(
                    requirement,
                    by_item.get(requirement.test_item, ()),
                    rules,
                    Context(requirement=requirement, product=product, catalogue=catalogue, market=market, as_of=as_of),
                )
            decisions.append(memo[key])
        decisions_t = tuple(decisions)
        out[market] = MarketDecision(
            market=market,
            as_of=as_of,
            rulebook_version=rulebook.version,
            verdict=market_verdict(decisions_t),
            requirements=decisions_t,
            delta_test_plan=delta_test_plan(
                decisions_t, {r.id: r for r in requirements}, rulebook, catalogue, labs, as_of, labs_memo
            ),
            savings=savings(decisions_t, rulebook, Status.RECOGNIZED),
            conditional_savings=savings(decisions_t, rulebook, Status.CONDITIONAL),
            inputs_digest=_market_digest(shared, market, as_of),
        )
    return out
