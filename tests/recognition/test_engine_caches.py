"""The engine's caches never change an answer: whatever was decided before in the same process (other dates,
other rulebooks, other labs, other catalogues, other products), a call answers exactly as a rulebook object
that has never been used does.

`fresh()` parses the document again for every call, so its answer is computed with empty caches.
"""

from __future__ import annotations

import copy
import dataclasses
from datetime import date
from pathlib import Path

import pytest

from registry.recognition import ProductFacts, evaluate_markets, parse_rulebook
from registry.recognition.engine import _new_reason, _new_requirement_decision
from registry.recognition.model import Reason, RequirementDecision, Status
from registry.rulebook import load_seed_rulebook
from tests.recognition.catalogue_facts import catalogue_facts, evidence_from_json, lab_facts
from tests.recognition.test_cases import load_case, product_from_json

CASES = sorted((Path(__file__).parent / "cases").glob("*.json"))
MARKETS = ("CN", "EU", "DE", "ID", "MY", "PH", "SG", "TH", "VN")
DATES = (date(2024, 1, 1), date(2025, 3, 1), date(2026, 6, 1), date(2027, 1, 1))
LABS = {day: lab_facts(day) for day in DATES}  # the same lab objects call after call, as in the services


def _inputs(name: str):
    case = load_case(next(path for path in CASES if path.stem.startswith(name)))
    return product_from_json(case["product"]), [evidence_from_json(row) for row in case["evidence"]]


GBT = _inputs("21_")  # GB/T charger with GB/T and TR 25 reports
CCS = _inputs("07_")  # CCS2 charger with an IEC report


def _with_extra_eu_rule(document: dict) -> dict:
    changed = copy.deepcopy(document)
    changed["markets"]["EU"]["rules"].append({
        "id": "EU-A-900", "version": 1, "kind": "acceptance", "valid_from": "2020-01-01", "outcome": "conditional",
        "description": {"en": "Test rule: accept any passing result on a document review."},
        "source": "test", "when": {"op": "verdict_is", "values": ["pass"]}, "extra_steps": ["Document review"],
    })
    return changed


def _but_digest(decided: dict) -> dict:
    return {market: dataclasses.replace(decision, inputs_digest="") for market, decision in decided.items()}


def fresh(document: dict, product, evidence, catalogue, labs, as_of):
    return evaluate_markets(product, evidence, parse_rulebook(document), catalogue, labs, MARKETS, as_of)


def test_one_rulebook_answers_each_date_as_a_fresh_one_does():
    document = load_seed_rulebook()
    rulebook = parse_rulebook(document)
    catalogue = catalogue_facts()
    answers = {}
    for as_of in (*DATES, *reversed(DATES), *DATES):
        for product, evidence in (GBT, CCS):
            decided = evaluate_markets(product, evidence, rulebook, catalogue, LABS[as_of], MARKETS, as_of)
            assert decided == fresh(document, product, evidence, catalogue, LABS[as_of], as_of)
            answers[(as_of, product.product_id)] = decided
    # The dates really decide differently, so a plan kept for the wrong date would have been caught.
    for product, _ in (GBT, CCS):
        assert len({repr(answers[(as_of, product.product_id)]["SG"].requirements) for as_of in DATES}) > 1


def test_two_rulebooks_in_one_process_keep_their_own_answers():
    seed = load_seed_rulebook()
    changed = _with_extra_eu_rule(seed)
    books = {"seed": (seed, parse_rulebook(seed)), "changed": (changed, parse_rulebook(changed))}
    catalogue = catalogue_facts()
    as_of = DATES[2]
    eu = {}
    for name in ("seed", "changed", "seed", "changed"):
        document, rulebook = books[name]
        decided = evaluate_markets(GBT[0], GBT[1], rulebook, catalogue, LABS[as_of], MARKETS, as_of)
        assert decided == fresh(document, *GBT, catalogue, LABS[as_of], as_of)
        eu[name] = decided["EU"]
    assert eu["seed"] != eu["changed"]
    assert any(d.rule_id == "EU-A-900" for d in eu["changed"].requirements)


def test_a_copy_of_a_rulebook_with_other_rules_does_not_read_the_original_cache():
    seed = load_seed_rulebook()
    changed = _with_extra_eu_rule(seed)
    rulebook = parse_rulebook(seed)
    catalogue = catalogue_facts()
    as_of = DATES[2]
    evaluate_markets(GBT[0], GBT[1], rulebook, catalogue, LABS[as_of], MARKETS, as_of)  # fills the cache
    other = copy.copy(rulebook)  # a shallow copy shares the original's private attributes
    object.__setattr__(other, "rules", parse_rulebook(changed).rules)
    decided = evaluate_markets(GBT[0], GBT[1], other, catalogue, LABS[as_of], MARKETS, as_of)
    # The copy still names the seed document (its digest), hence the inputs digest aside.
    assert _but_digest(decided) == _but_digest(fresh(changed, *GBT, catalogue, LABS[as_of], as_of))
    assert evaluate_markets(GBT[0], GBT[1], rulebook, catalogue, LABS[as_of], MARKETS, as_of) == fresh(
        seed, *GBT, catalogue, LABS[as_of], as_of
    )


def test_other_labs_and_catalogues_get_their_own_delta_test_plans():
    document = load_seed_rulebook()
    rulebook = parse_rulebook(document)
    as_of = DATES[2]
    catalogue = catalogue_facts()
    recategorised = dataclasses.replace(
        catalogue, test_item_categories={item: "everything" for item in catalogue.test_item_categories}
    )
    fewer_labs = LABS[as_of][1:]
    plans = {}
    for labs, cat in ((LABS[as_of], catalogue), (fewer_labs, catalogue), (LABS[as_of], recategorised)) * 2:
        decided = evaluate_markets(GBT[0], GBT[1], rulebook, cat, labs, MARKETS, as_of)
        assert decided == fresh(document, *GBT, cat, labs, as_of)
        plans[(len(labs), cat.digest)] = decided["EU"].delta_test_plan
    assert len({repr(plan) for plan in plans.values()}) == 3


def test_products_of_other_shapes_get_their_own_requirements():
    document = load_seed_rulebook()
    rulebook = parse_rulebook(document)
    as_of = DATES[2]
    catalogue = catalogue_facts()
    base, evidence = GBT
    products = [
        base,
        dataclasses.replace(base, liquid_cooled_cable=not base.liquid_cooled_cable),
        dataclasses.replace(base, category="power_cabinet"),
        ProductFacts(9, "dc_charger", 60.0, frozenset({"CCS2"}), "forced_air", False, 50, "IP54"),
    ]
    seen = set()
    for product in products * 2:
        decided = evaluate_markets(product, evidence, rulebook, catalogue, LABS[as_of], MARKETS, as_of)
        assert decided == fresh(document, product, evidence, catalogue, LABS[as_of], as_of)
        seen.add(tuple(d.requirement_id for d in decided["CN"].requirements))
    assert len(seen) >= 3


def test_the_engine_builds_reasons_and_decisions_equal_to_their_constructors():
    reason = Reason("EU-A-010", 2, True, "accepted", "采信")
    built = _new_reason("EU-A-010", 2, True, "accepted", "采信")
    assert built == reason and vars(built) == vars(reason) and repr(built) == repr(reason)
    assert hash(built) == hash(reason)
    decision = RequirementDecision("EU-R1", "ip_code", Status.RETEST, None, None, (), (reason,), ("x",))
    built = _new_requirement_decision("EU-R1", "ip_code", Status.RETEST, None, None, (), (reason,), ("x",))
    assert built == decision and vars(built) == vars(decision) and repr(built) == repr(decision)
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.status = Status.MISSING


def test_digests_of_several_markets_are_each_markets_own_digest():
    from registry.recognition import inputs_digest, inputs_digests

    rulebook = parse_rulebook(load_seed_rulebook())
    product, evidence = GBT
    as_of = DATES[2]
    catalogue, labs = catalogue_facts(), LABS[as_of]
    together = inputs_digests(product, evidence, rulebook, catalogue, labs, MARKETS, as_of)
    assert together == {m: inputs_digest(product, evidence, rulebook, catalogue, labs, m, as_of) for m in MARKETS}
    assert len(set(together.values())) == len(MARKETS)
    decided = evaluate_markets(product, evidence, rulebook, catalogue, labs, MARKETS, as_of)
    assert {m: d.inputs_digest for m, d in decided.items()} == {m: together[m] for m in decided}
