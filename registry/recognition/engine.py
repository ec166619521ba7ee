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

Speed, with the same decisions as deciding everything afresh: what depends on the rulebook, the market and the
date only (requirements and rules in force, the rules covering each requirement, in the order they are tried)
is resolved once and kept with the immutable rulebook, in bounded caches; within one call, each requirement is
decided once per set of covering rules and shared between markets, a condition that reads neither the
requirement nor the market is evaluated once per result (`rulebook.Op.check`), and reasons are written only
for the judgements a decision keeps.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import fields
from datetime import date
from itertools import count
from json.encoder import c_make_encoder, encode_basestring

from registry.recognition.canonical import plain
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
from registry.recognition.operators import Check, Context, correspondents
from registry.recognition.rulebook import (
    Op,
    RecognitionRule,
    Requirement,
    Rulebook,
    market_chain,
    market_requirements,
    market_rules,
)

UNCATEGORISED = "uncategorised"


# --------------------------------------------------------------------------- evidence


def _result_key(result: ResultEvidence) -> tuple:
    """Sort key: newest test first, then every field, so equal keys mean equal results."""
    low, high, hz = result.ambient_min_c, result.ambient_max_c, result.supply_frequency_hz
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
        (0, 0.0) if low is None else (1, float(low)),  # numbers: (0, 0.0) for none, after every set one
        (0, 0.0) if high is None else (1, float(high)),
        (0, 0.0) if hz is None else (1, float(hz)),
    )


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


# --------------------------------------------------------------------------- what the rulebook fixes for a market
#
# Which requirements and rules apply in a market on a date, which rules cover each requirement and in which
# order they are tried depend on the rulebook, the market's bloc chain and the date only. They are resolved
# once and kept with the (immutable) rulebook, so that deciding a product costs the rule evaluations and
# little else. Every cache is bounded, and forgets everything when full.

_PLANS_PER_RULEBOOK = 64  # (bloc chain, date) pairs; as_of is usually today, or a few what-if dates
_SHAPES_PER_PLAN = 256  # product shapes (category, cooled cable, power)
_ITEMS_PER_SLOT = 8  # delta test items, one per (labs, catalogue)


class _Slot:
    """One requirement of a market on a date, with the rules covering it in the order `_judge` tries them,
    each as `(rule, token of its condition, check of its condition)`."""

    __slots__ = ("requirement", "key", "exclusions", "acceptances", "open_standards", "_missing", "items")

    def __init__(
        self,
        requirement: Requirement,
        rules: Sequence[RecognitionRule],
        as_of: date,
        keys: dict[tuple, int] | None = None,
    ) -> None:
        covering = [rule for rule in rules if rule.covers(requirement)]
        self.requirement = requirement
        # Only the rules covering a requirement take part in deciding it, so a requirement inherited with the
        # same covering rules is decided once per product and shared between markets (see evaluate_markets).
        # `keys` turns the key into a number, cheaper to hash; it lives as long as the rulebook's objects.
        key = (id(requirement), tuple(id(rule) for rule in covering))
        self.key = key if keys is None else _intern(keys, key)
        self.exclusions = tuple(_tried(rule) for rule in covering if rule.kind is RuleKind.EXCLUSION)
        self.acceptances = tuple(
            _tried(rule)
            for rule in sorted(
                (rule for rule in covering if rule.kind is RuleKind.ACCEPTANCE),
                key=lambda rule: (rule.outcome is not Outcome.FULL, rule.id),
            )
        )
        self.open_standards = open_standards(requirement, as_of)
        self._missing: RequirementDecision | None = None
        self.items: dict[tuple[int, str], DeltaTestItem] = {}  # (labs token, catalogue digest) -> delta test item

    @property
    def missing(self) -> RequirementDecision:
        """The decision when no result has the requirement's test item (the same for every product)."""
        if self._missing is None:
            self._missing = _missing(self.requirement)
        return self._missing


_Tried = tuple[RecognitionRule, "int | None", Callable[[ResultEvidence, Context, dict], Check]]


def _tried(rule: RecognitionRule) -> _Tried:
    """`(rule, token of its condition, check of its condition)`, as `_judge` tries it."""
    when = rule.when
    check = getattr(when, "check", None)
    if check is None:  # a condition of another kind than the rulebook's: evaluated every time
        return rule, None, lambda result, ctx, memo: when.evaluate(result, ctx)
    return rule, when._token, check


_next_key = count(1).__next__


def _intern(keys: dict[tuple, int], key: tuple) -> int:
    found = keys.get(key)
    if found is None:
        found = keys.setdefault(key, _next_key())
    return found


class _MarketPlan:
    """The slots of one market on one date (requirements sorted by id), and those applying per product shape."""

    __slots__ = ("slots", "by_shape")

    def __init__(
        self, requirements: Sequence[Requirement], rules: Sequence[RecognitionRule], as_of: date, keys: dict[tuple, int]
    ) -> None:
        self.slots = tuple(_Slot(requirement, rules, as_of, keys) for requirement in requirements)
        self.by_shape: dict[tuple, tuple[_Slot, ...]] = {}

    def for_product(self, product: ProductFacts) -> tuple[_Slot, ...]:
        """The slots whose requirement applies to `product`, kept per shape (the facts `applies_to_product`
        reads)."""
        shape = (product.category, product.liquid_cooled_cable, product.max_power_kw)
        slots = self.by_shape.get(shape)
        if slots is None:
            slots = tuple(slot for slot in self.slots if applies_to_product(slot.requirement, product))
            if len(self.by_shape) >= _SHAPES_PER_PLAN:
                self.by_shape.clear()
            self.by_shape[shape] = slots
        return slots


class _RulebookCache:
    """What the engine keeps on a rulebook: market plans and the slot keys' numbers."""

    __slots__ = ("requirements", "rules", "dropped", "cost_table", "plans", "keys")

    def __init__(self, rulebook: Rulebook) -> None:
        self.requirements = rulebook.requirements
        self.rules = rulebook.rules
        self.dropped = rulebook.dropped
        self.cost_table = rulebook.cost_table
        self.plans: dict[tuple, _MarketPlan | None] = {}
        self.keys: dict[tuple, int] = {}  # never cleared: bounded by the rulebook's requirements and rules

    @staticmethod
    def of(rulebook: Rulebook) -> _RulebookCache:
        """The rulebook's cache, made on first use. It is checked against the rulebook's own mappings, so a
        copy of the rulebook with other contents never reads a stale entry."""
        cache = rulebook.__dict__.get("_engine_cache")
        if (
            cache is None
            or cache.requirements is not rulebook.requirements
            or cache.rules is not rulebook.rules
            or cache.dropped is not rulebook.dropped
            or cache.cost_table is not rulebook.cost_table
        ):
            cache = _RulebookCache(rulebook)
            object.__setattr__(rulebook, "_engine_cache", cache)  # a private cache on a frozen object
        return cache

    def plan(
        self, rulebook: Rulebook, market: str, market_bloc: Mapping[str, str | None], as_of: date
    ) -> _MarketPlan | None:
        """The market's plan on `as_of`, None when the rulebook knows nothing about the market."""
        key = (market_chain(market, market_bloc), as_of)  # the chain ends with the market itself
        plans = self.plans
        if key in plans:
            return plans[key]
        try:
            plan = _MarketPlan(
                market_requirements(rulebook, market, market_bloc, as_of),
                market_rules(rulebook, market, market_bloc, as_of),
                as_of,
                self.keys,
            )
        except UnknownMarket:
            plan = None
        if len(plans) >= _PLANS_PER_RULEBOOK:
            plans.clear()
        plans[key] = plan
        return plan


# --------------------------------------------------------------------------- one candidate
#
# A judgement records what happened as notes `(code, rule, detail)`; they become `Reason`s only for the
# judgements a decision keeps (a recognized requirement keeps one), which saves most of the text work.

_EXCLUDED, _NOT_EXCLUDED, _INADMISSIBLE, _ACCEPTED, _NOT_ACCEPTED, _NO_RULE = range(6)

# The engine's own admissibility floor, as a condition: it shares its memo entry with rules that ask the same.
_REPORT_VALID = Op("report_valid")

_Note = tuple[int, "RecognitionRule | None", "str | None"]
_Judgement = tuple["Outcome | None", "RecognitionRule | None", list[_Note]]  # outcome None: rejected


def _judge(result: ResultEvidence, memo: dict, slot: _Slot, ctx: Context) -> _Judgement:
    """Judge one candidate: exclusions first (the first veto rejects it), then the engine's admissibility
    floor, then the acceptance rules (full before conditional, by rule id); the first that passes decides.
    The rule returned is the one that decided (accepted or vetoed), or the first acceptance rule tried."""
    notes: list[_Note] = []
    for rule, token, check in slot.exclusions:
        found = None if token is None else memo.get(token)
        vetoed, detail = check(result, ctx, memo) if found is None else found
        if vetoed:
            notes.append((_EXCLUDED, rule, detail))
            return None, rule, notes
        notes.append((_NOT_EXCLUDED, rule, detail))
    valid, detail = _REPORT_VALID.check(result, ctx, memo)
    if not valid:  # the engine's own floor, whatever the rulebook says
        notes.append((_INADMISSIBLE, None, detail))
        return None, None, notes
    first: RecognitionRule | None = None
    for rule, token, check in slot.acceptances:
        found = None if token is None else memo.get(token)
        accepted, detail = check(result, ctx, memo) if found is None else found
        if accepted:
            notes.append((_ACCEPTED, rule, detail))
            return rule.outcome, rule, notes
        notes.append((_NOT_ACCEPTED, rule, detail))
        if first is None:
            first = rule
    if first is None:
        notes.append((_NO_RULE, None, None))
    return None, first, notes


# Decisions hold hundreds of reasons: these build `Reason` and `RequirementDecision` objects equal in every way
# to their constructors' (same attributes in the same order) without the frozen dataclass __init__, which
# sets each field through object.__setattr__. They are used only while the classes still have exactly these
# fields and no __post_init__ (checked below); otherwise the classes themselves are.
_object_new = object.__new__


def _new_reason(
    rule_id: str | None, version: int | None, passed: bool, message_en: str, message_zh: str | None
) -> Reason:
    reason = _object_new(Reason)
    reason.__dict__.update(
        rule_id=rule_id, version=version, passed=passed, message_en=message_en, message_zh=message_zh
    )
    return reason


def _new_requirement_decision(
    requirement_id: str,
    test_item: str,
    status: Status,
    rule_id: str | None,
    rule_version: int | None,
    evidence: tuple,
    reasons: tuple[Reason, ...],
    extra_steps: tuple[str, ...],
) -> RequirementDecision:
    decision = _object_new(RequirementDecision)
    decision.__dict__.update(
        requirement_id=requirement_id,
        test_item=test_item,
        status=status,
        rule_id=rule_id,
        rule_version=rule_version,
        evidence=evidence,
        reasons=reasons,
        extra_steps=extra_steps,
    )
    return decision


def _plain_fields(cls: type, builder: Callable) -> bool:
    params = tuple(inspect.signature(builder).parameters)
    return (
        not hasattr(cls, "__post_init__")
        and "__slots__" not in cls.__dict__
        and params == tuple(f.name for f in fields(cls))
    )


if not _plain_fields(Reason, _new_reason):  # pragma: no cover - model.Reason changed
    _new_reason = Reason  # type: ignore[assignment]  # noqa: F811
if not _plain_fields(RequirementDecision, _new_requirement_decision):  # pragma: no cover
    _new_requirement_decision = RequirementDecision  # type: ignore[assignment]  # noqa: F811


def _reasons(result: ResultEvidence, notes: list[_Note], requirement: Requirement) -> list[Reason]:
    """The reasons of a judgement the decision keeps, from its notes."""
    label = result.label
    reasons = []
    for code, rule, detail in notes:
        if rule is None:
            if code == _INADMISSIBLE:
                text = f"{label}: not admissible: {detail}"
            else:  # _NO_RULE. No market in the text: every market inheriting the requirement shares it.
                text = f"{label}: no acceptance rule in force covers {requirement.id}"
            reasons.append(_new_reason(None, None, False, text, None))
            continue
        if code == _NOT_EXCLUDED:
            passed, text = True, f"{label}: not excluded by {rule.id}: {detail}"
        elif code == _NOT_ACCEPTED:
            passed, text = False, f"{label}: not accepted by {rule.id}: {detail}"
        elif code == _ACCEPTED:
            grant = "in full" if rule.outcome is Outcome.FULL else "on conditions"
            passed, text = True, f"{label}: accepted {grant} by {rule.id}: {detail}"
        else:  # _EXCLUDED
            passed, text = False, f"{label}: excluded by {rule.id}: {detail}"
        reasons.append(_new_reason(rule.id, rule.version, passed, text, rule.description.zh))
    return reasons


# --------------------------------------------------------------------------- one requirement


def _missing(requirement: Requirement) -> RequirementDecision:
    return RequirementDecision(
        requirement_id=requirement.id,
        test_item=requirement.test_item,
        status=Status.MISSING,
        rule_id=None,
        rule_version=None,
        evidence=(),
        reasons=(Reason(None, None, False, f"no result for test item {requirement.test_item} in the evidence", None),),
    )


def decide_requirement(
    requirement: Requirement,
    candidates: Sequence[ResultEvidence],
    rules: Sequence[RecognitionRule],
    ctx: Context,
) -> RequirementDecision:
    """Decide one requirement from its candidate results (already sorted) and the market's rules."""
    if not candidates:
        return _missing(requirement)
    return _decide(_Slot(requirement, rules, ctx.as_of), [(result, {}) for result in candidates], ctx)


def _decide(slot: _Slot, candidates: Sequence[tuple[ResultEvidence, dict]], ctx: Context) -> RequirementDecision:
    """Decide a slot from its candidates `(result, memo)`, sorted; at least one."""
    requirement = slot.requirement
    conditional: tuple[ResultEvidence, RecognitionRule | None, list[_Note]] | None = None
    rejected: list[tuple[ResultEvidence, RecognitionRule | None, list[_Note]]] = []
    for result, memo in candidates:
        outcome, rule, notes = _judge(result, memo, slot, ctx)
        if outcome is Outcome.FULL:
            return _accepted(requirement, result, rule, notes, Status.RECOGNIZED)
        if outcome is Outcome.CONDITIONAL:
            if conditional is None:
                conditional = (result, rule, notes)
        else:
            rejected.append((result, rule, notes))
    if conditional is not None:
        return _accepted(requirement, *conditional, Status.CONDITIONAL)
    deciding = next((rule for _, rule, _ in rejected if rule is not None), None)
    reasons: list[Reason] = []
    for result, _, notes in rejected:
        reasons += _reasons(result, notes, requirement)
    return _new_requirement_decision(
        requirement.id,
        requirement.test_item,
        Status.RETEST,
        deciding.id if deciding else None,
        deciding.version if deciding else None,
        tuple([result.citation for result, _, _ in rejected]),
        tuple(reasons),
        (),
    )


def _accepted(
    requirement: Requirement,
    result: ResultEvidence,
    rule: RecognitionRule | None,
    notes: list[_Note],
    status: Status,
) -> RequirementDecision:
    return _new_requirement_decision(
        requirement.id,
        requirement.test_item,
        status,
        rule.id if rule else None,
        rule.version if rule else None,
        (result.citation,),
        tuple(_reasons(result, notes, requirement)),
        rule.extra_steps if (rule and status is Status.CONDITIONAL) else (),
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


def _delta_item(
    requirement: Requirement,
    rulebook: Rulebook,
    catalogue: CatalogueFacts,
    labs: Sequence[LabFacts],
    as_of: date,
    memo: dict | None = None,
) -> DeltaTestItem:
    cost = rulebook.cost_table[requirement.test_item]
    standards = open_standards(requirement, as_of)
    return DeltaTestItem(
        requirement_id=requirement.id,
        test_item=requirement.test_item,
        standards=standards,
        cost_min=cost.cost_min,
        cost_max=cost.cost_max,
        currency=cost.currency,
        lead_time_days=cost.lead_time_days,
        labs=_capable_labs(standards, labs, catalogue, memo),
    )


def _plan_of(items: Sequence[DeltaTestItem], catalogue: CatalogueFacts) -> DeltaTestPlan:
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
    items = [
        _delta_item(requirements[decision.requirement_id], rulebook, catalogue, labs, as_of, memo)
        for decision in decisions
        if decision.status in (Status.RETEST, Status.MISSING)
    ]
    return _plan_of(items, catalogue)


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


# One encoder each, built once: json.dumps with these arguments would build a new encoder on every call.
_ROW_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_CANONICAL_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


if c_make_encoder is not None:
    # What _ROW_JSON.encode does for a list, minus building a new C encoder per row. Rows are flat, so the
    # circular-reference check (markers) has nothing to find.
    _ROW_ITERENCODE = c_make_encoder(None, _ROW_JSON.default, encode_basestring, None, ":", ",", False, False, False)

    def _dump(row: list) -> str:
        return "".join(_ROW_ITERENCODE(row, 0))

else:  # pragma: no cover - CPython always has the C accelerator

    def _dump(row: list) -> str:
        return _ROW_JSON.encode(row)


def _digest_of_plain(value: object) -> str:
    """`canonical.digest(value)` for a value that is plain JSON data already (`plain(value) == value`)."""
    return hashlib.sha256(_CANONICAL_JSON.encode(value).encode("utf-8")).hexdigest()


def _lab_rows(labs: Iterable[LabFacts]) -> list[str]:
    return sorted(
        [_dump([lab.lab_id, lab.name, lab.country, sorted(lab.scope), sorted(lab.schemes)]) for lab in labs]
    )


def _shared_digest(
    product: ProductFacts,
    evidence: Iterable[ResultEvidence],
    rulebook: Rulebook,
    catalogue: CatalogueFacts,
    labs: Iterable[LabFacts],
    lab_rows: list[str] | None = None,
) -> str:
    # Rows are plain JSON already, so they are dumped directly: this is the hot path for large evidence sets.
    rows = sorted([_dump(_evidence_row(result)) for result in evidence])
    if lab_rows is None:
        lab_rows = _lab_rows(labs)
    return _digest_of_plain(
        {
            "product": plain(product),
            "evidence": rows,  # strings: plain() would return them unchanged, one at a time
            "labs": lab_rows,
            "rulebook": plain([rulebook.version, rulebook.digest]),
            "catalogue": plain(catalogue.digest),
        }
    )


def _market_digest(shared: str, market: str, as_of: date) -> str:
    """canonical.digest({"inputs": shared, "market": market, "as_of": as_of.isoformat()}), its canonical JSON
    written directly (keys sorted: as_of, inputs, market)."""
    value = plain(market)
    market_json = encode_basestring(value) if isinstance(value, str) else _CANONICAL_JSON.encode(value)
    text = (
        f'{{"as_of":{encode_basestring(as_of.isoformat())},"inputs":{encode_basestring(shared)},'
        f'"market":{market_json}}}'
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


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
    return inputs_digests(product, evidence, rulebook, catalogue, labs, (market,), as_of)[market]


def inputs_digests(
    product: ProductFacts,
    evidence: Iterable[ResultEvidence],
    rulebook: Rulebook,
    catalogue: CatalogueFacts,
    labs: Iterable[LabFacts],
    markets: Iterable[str],
    as_of: date,
) -> dict[str, str]:
    """`inputs_digest` for several markets at once: the inputs they share are digested once."""
    shared = _shared_digest(product, evidence, rulebook, catalogue, labs)
    return {market: _market_digest(shared, market, as_of) for market in markets}


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
    # Candidates per test item, sorted, each with its memo of requirement-free checks (see rulebook.Op.check).
    by_item: dict[str, list[tuple[ResultEvidence, dict]]] = {}
    for result in current_evidence(evidence, as_of):
        by_item.setdefault(result.test_item, []).append((result, {}))
    labs_token, lab_rows = _labs_facts(labs)
    shared = _shared_digest(product, evidence, rulebook, catalogue, labs, lab_rows)
    memo: dict[int | tuple, RequirementDecision] = {}
    cache = _RulebookCache.of(rulebook)
    items_key = (labs_token, catalogue.digest)
    outcomes: dict[tuple, tuple] = {}  # ids of a market's decisions -> (verdict, plan, savings, conditional savings)
    labs_memo: dict = {}
    out: dict[str, MarketDecision] = {}
    for market in markets:
        plan = cache.plan(rulebook, market, catalogue.market_bloc, as_of)
        if plan is None:
            continue
        slots = plan.for_product(product)
        decisions = []
        for slot in slots:
            decision = memo.get(slot.key)
            if decision is None:
                candidates = by_item.get(slot.requirement.test_item)
                if candidates:
                    ctx = Context(
                        requirement=slot.requirement, product=product, catalogue=catalogue, market=market, as_of=as_of
                    )
                    object.__setattr__(ctx, "open_standards", slot.open_standards)  # its cached_property, known
                    decision = _decide(slot, candidates, ctx)
                else:
                    decision = slot.missing
                memo[slot.key] = decision
            decisions.append(decision)
        decisions_t = tuple(decisions)
        # Markets with the very same decisions (bloc members without rules of their own) share the rest. The
        # decisions are alive in `memo` (or in the plan) for the whole call, so their ids identify them.
        outcome_key = tuple(map(id, decisions_t))
        outcome = outcomes.get(outcome_key)
        if outcome is None:
            # market_verdict, delta_test_plan and savings in one pass over the statuses
            owed: list[DeltaTestItem] = []
            recognized: list[RequirementDecision] = []
            conditional: list[RequirementDecision] = []
            for slot, decision in zip(slots, decisions_t):
                status = decision.status
                if status is Status.RECOGNIZED:
                    recognized.append(decision)
                elif status is Status.CONDITIONAL:
                    conditional.append(decision)
                elif status in (Status.RETEST, Status.MISSING):
                    item = slot.items.get(items_key)
                    if item is None:
                        item = _delta_item(slot.requirement, rulebook, catalogue, labs, as_of, labs_memo)
                        if len(slot.items) >= _ITEMS_PER_SLOT:
                            slot.items.clear()
                        slot.items[items_key] = item
                    owed.append(item)
            if owed:
                verdict = Verdict.BLOCKED
            else:
                verdict = Verdict.ACCESSIBLE_WITH_CONDITIONS if conditional else Verdict.ACCESSIBLE
            outcome = outcomes[outcome_key] = (
                verdict,
                _plan_of(owed, catalogue),
                savings(recognized, rulebook, Status.RECOGNIZED),
                savings(conditional, rulebook, Status.CONDITIONAL),
            )
        verdict, delta_plan, saved, conditionally_saved = outcome
        out[market] = MarketDecision(
            market=market,
            as_of=as_of,
            rulebook_version=rulebook.version,
            verdict=verdict,
            requirements=decisions_t,
            delta_test_plan=delta_plan,
            savings=saved,
            conditional_savings=conditionally_saved,
            inputs_digest=_market_digest(shared, market, as_of),
        )
    return out


_LABS: dict[tuple[int, ...], tuple[int, tuple[LabFacts, ...], list[str]]] = {}
_next_labs_token = count(1).__next__


def _labs_facts(labs: tuple[LabFacts, ...]) -> tuple[int, list[str]]:
    """A number standing for these very lab objects (callers pass the same ones call after call), and their
    rows for the inputs digest. The entry holds the labs, so their ids cannot be reused while it exists."""
    key = tuple(map(id, labs))
    held = _LABS.get(key)
    if held is None:
        if len(_LABS) >= 64:  # numbers are never reused, so forgetting old entries is safe
            _LABS.clear()
        held = _LABS[key] = (_next_labs_token(), labs, _lab_rows(labs))
    return held[0], held[2]
