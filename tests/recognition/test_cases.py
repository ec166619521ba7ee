"""CertLogic-style case files: tests/recognition/cases/*.json, one scenario each.

A case is `{name, market, as_of, product, evidence, expected}`. `evidence` is the engine input as plain JSON
(one object per result, lab facts as they stood on the test date). `expected` holds the market `verdict`,
`requirements: {requirement id: status}` (`"*"` covers every requirement not listed) and optionally
`rules: {requirement id: deciding rule id}`, `reasons_contain` and `extra_steps_contain` (substrings).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from registry.recognition import ProductFacts, Status, evaluate
from tests.recognition.catalogue_facts import evidence_from_json, lab_facts

CASES = sorted((Path(__file__).parent / "cases").glob("*.json"))


def load_case(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def product_from_json(row: dict) -> ProductFacts:
    return ProductFacts(
        product_id=row["product_id"],
        category=row["category"],
        max_power_kw=row["max_power_kw"],
        connectors=frozenset(row["connectors"]),
        cooling=row["cooling"],
        liquid_cooled_cable=row["liquid_cooled_cable"],
        input_frequency_hz=row.get("input_frequency_hz"),
        ip_code=row.get("ip_code"),
        certificates=frozenset(tuple(c) for c in row.get("certificates", [])),
    )


def decide_case(case: dict, rulebook, catalogue):
    as_of = date.fromisoformat(case["as_of"])
    return evaluate(
        product_from_json(case["product"]),
        [evidence_from_json(row) for row in case["evidence"]],
        rulebook,
        catalogue,
        lab_facts(as_of),
        case["market"],
        as_of,
    )


def test_there_are_enough_cases():
    assert len(CASES) >= 12


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_case(path, rulebook, catalogue):
    case = load_case(path)
    expected = case["expected"]
    decision = decide_case(case, rulebook, catalogue)
    by_id = {d.requirement_id: d for d in decision.requirements}

    listed = {key: value for key, value in expected["requirements"].items() if key != "*"}
    assert set(listed) <= set(by_id), f"unknown requirement ids: {sorted(set(listed) - set(by_id))}"
    default = expected["requirements"].get("*")
    actual = {rid: d.status.value for rid, d in by_id.items() if rid in listed or default is not None}
    wanted = {rid: listed.get(rid, default) for rid in actual}
    assert actual == wanted
    assert decision.verdict.value == expected["verdict"]

    for rid, rule_id in expected.get("rules", {}).items():
        assert by_id[rid].rule_id == rule_id, (rid, by_id[rid].reasons)
    for rid, text in expected.get("reasons_contain", {}).items():
        messages = " | ".join(r.message_en for r in by_id[rid].reasons)
        assert text in messages, (rid, messages)
    for rid, text in expected.get("extra_steps_contain", {}).items():
        assert any(text in step for step in by_id[rid].extra_steps), (rid, by_id[rid].extra_steps)


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_case_decision_is_consistent(path, rulebook, catalogue):
    """Plan, savings and citations agree with the statuses in every case."""
    decision = decide_case(load_case(path), rulebook, catalogue)
    owed = [d for d in decision.requirements if d.status in (Status.RETEST, Status.MISSING)]
    assert [i.requirement_id for i in decision.delta_test_plan.items] == [d.requirement_id for d in owed]
    assert decision.delta_test_plan.total_cost_min == sum(i.cost_min for i in decision.delta_test_plan.items)
    assert sum(len(items) for items in decision.delta_test_plan.groups.values()) == len(owed)
    recognized = [d for d in decision.requirements if d.status is Status.RECOGNIZED]
    conditional = [d for d in decision.requirements if d.status is Status.CONDITIONAL]
    assert decision.savings.tests_avoided == len(recognized)
    assert decision.conditional_savings.tests_avoided == len(conditional)
    for d in conditional:
        assert d.extra_steps
    for d in decision.requirements:
        if d.status is not Status.MISSING:
            assert d.rule_id and d.rule_version and d.evidence
        assert d.reasons
