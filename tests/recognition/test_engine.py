"""Engine behaviour on small, hand-made rulebooks: evidence normalisation, rule order, plan, savings, digest."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from registry.recognition import (
    LabFacts,
    Status,
    UnknownMarket,
    Verdict,
    current_evidence,
    evaluate,
    parse_rulebook,
)
from tests.recognition.builders import AS_OF, product, result, small_catalogue

EXCLUDE_WITHDRAWN = {
    "id": "EU-X-010", "version": 1, "kind": "exclusion", "valid_from": "2020-01-01",
    "description": {"en": "Withdrawn reports are not evidence."}, "source": "facts.md §6",
    "when": {"not": {"op": "report_valid"}},
}
FULL = {
    "id": "EU-Z-999", "version": 1, "kind": "acceptance", "valid_from": "2020-01-01", "outcome": "full",
    "description": {"en": "Accept accredited results to accepted standards."}, "source": "facts.md §3.4",
    "when": {"all": [{"op": "standard_in"}, {"op": "lab_accredited"}]},
}
CONDITIONAL = {
    "id": "EU-A-001", "version": 1, "kind": "acceptance", "valid_from": "2020-01-01", "outcome": "conditional",
    "description": {"en": "Accept anything on conditions."}, "source": "facts.md §3.4",
    "when": {"op": "verdict_is", "values": ["pass"]}, "extra_steps": ["check it"],
}


def _req(rid, item="insulation_resistance", **extra):
    return {"id": rid, "test_item": item, "categories": ["dc_charger"],
            "accepted_standards": [{"standard": "IEC 61851-23:2023"}], "valid_from": "2020-01-01",
            "description": {"en": "required"}, "source": "facts.md §3.1", **extra}


def _book(requirements, rules, costs=None):
    costs = costs or {"insulation_resistance": (100, 200, 10), "ip_code": (1000, 3000, 20), "liquid_cooling": (5, 6, 40)}
    return parse_rulebook({
        "version": 3,
        "title": "test book",
        "markets": {"EU": {"requirements": requirements, "rules": rules}},
        "cost_table": [
            {"test_item": item, "cost_min": lo, "cost_max": hi, "currency": "EUR", "lead_time_days": days,
             "verified": False, "source": "engineering estimate"}
            for item, (lo, hi, days) in costs.items()
        ],
    })


LABS = (
    LabFacts("lab-b", "B", "DE", frozenset({"IEC 61851-23:2023"}), frozenset({"EA_MLA"})),
    LabFacts("lab-a", "A", "FR", frozenset({"EN 61851-23:2014", "IEC 60529"}), frozenset({"EA_MLA"})),
)


def decide(book, evidence, prod=None, as_of=AS_OF, labs=LABS, market="EU"):
    return evaluate(prod or product(), evidence, book, small_catalogue(), labs, market, as_of)


def test_only_the_latest_revision_issued_by_the_decision_date_counts():
    rev1 = result(revision=1, verdict="pass")
    rev2 = result(revision=2, verdict="fail", issued_on=date(2026, 1, 5))
    later = result(report_number="LATER", issued_on=date(2026, 3, 2))
    assert current_evidence([rev1, rev2, later], AS_OF) == (rev2,)
    assert current_evidence([rev1, rev2], date(2026, 1, 4)) == (rev1,)


def test_full_acceptance_wins_over_conditional_whatever_the_rule_ids():
    book = _book([_req("EU-R1")], [CONDITIONAL, FULL])  # EU-A-001 sorts before EU-Z-999
    decision = decide(book, [result()])
    (req,) = decision.requirements
    assert (req.status, req.rule_id) == (Status.RECOGNIZED, "EU-Z-999")
    assert decision.verdict is Verdict.ACCESSIBLE


def test_conditional_when_only_the_conditional_rule_passes():
    book = _book([_req("EU-R1")], [CONDITIONAL, FULL])
    (req,) = decide(book, [result(accredited=False)]).requirements
    assert (req.status, req.rule_id, req.extra_steps) == (Status.CONDITIONAL, "EU-A-001", ("check it",))


def test_retest_without_any_acceptance_rule_explains_itself():
    book = _book([_req("EU-R1")], [EXCLUDE_WITHDRAWN])
    (req,) = decide(book, [result()]).requirements
    assert req.status is Status.RETEST and req.rule_id is None
    assert "no acceptance rule in force covers EU-R1" in req.reasons[-1].message_en


def test_the_engine_never_admits_a_withdrawn_report_even_if_the_rulebook_forgets():
    book = _book([_req("EU-R1")], [FULL])
    (req,) = decide(book, [result(report_status="withdrawn", withdrawn_on=date(2026, 2, 1))]).requirements
    assert req.status is Status.RETEST
    assert "not admissible" in req.reasons[-1].message_en and req.reasons[-1].rule_id is None


def test_exclusion_vetoes_before_acceptance():
    book = _book([_req("EU-R1")], [EXCLUDE_WITHDRAWN, FULL])
    (req,) = decide(book, [result(report_status="withdrawn", withdrawn_on=date(2026, 2, 1))]).requirements
    assert (req.status, req.rule_id) == (Status.RETEST, "EU-X-010")
    assert [r.rule_id for r in req.reasons] == ["EU-X-010"]


def test_missing_when_no_result_for_the_test_item():
    book = _book([_req("EU-R1"), _req("EU-R2", item="ip_code", accepted_standards=[{"standard": "IEC 60529"}])], [FULL])
    decision = decide(book, [result()])
    assert [d.status for d in decision.requirements] == [Status.RECOGNIZED, Status.MISSING]
    assert decision.verdict is Verdict.BLOCKED


def test_requirements_apply_by_category_product_facts_and_window():
    book = _book(
        [
            _req("EU-R1"),
            _req("EU-LIQ", item="liquid_cooling", applies_if={"liquid_cooled_cable": True}),
            _req("EU-OLD", valid_until="2025-01-01"),
            _req("EU-AC", categories=["ac_charger"]),
        ],
        [FULL],
    )
    assert [d.requirement_id for d in decide(book, []).requirements] == ["EU-R1"]
    cooled = product(liquid_cooled_cable=True)
    assert [d.requirement_id for d in decide(book, [], prod=cooled).requirements] == ["EU-LIQ", "EU-R1"]


def test_delta_plan_prices_owed_tests_and_names_capable_labs():
    ip = _req("EU-IP", item="ip_code", accepted_standards=[{"standard": "IEC 60529"}])
    book = _book([_req("EU-R1"), ip], [FULL])
    decision = decide(book, [result(accredited=False)])
    plan = decision.delta_test_plan
    assert [i.requirement_id for i in plan.items] == ["EU-IP", "EU-R1"]
    assert (plan.total_cost_min, plan.total_cost_max, plan.currency) == (1100, 3200, "EUR")
    assert plan.lead_time_days == 20  # tests run in parallel: the longest lead time, not the sum
    assert dict(plan.groups) == {"electrical_safety": (plan.items[1],), "uncategorised": (plan.items[0],)}
    assert plan.items[1].labs == ("lab-b",)
    assert plan.items[0].labs == ("lab-a",)
    assert decision.savings.tests_avoided == 0


def test_delta_plan_counts_labs_accredited_for_an_identical_adoption():
    old = _req("EU-R1", accepted_standards=[{"standard": "IEC 61851-23:2014"}])
    plan = decide(_book([old], [FULL]), []).delta_test_plan
    assert plan.items[0].labs == ("lab-a",)  # EN 61851-23:2014 is IDT of IEC 61851-23:2014


def test_savings_count_recognized_and_conditional_separately():
    ip = _req("EU-IP", item="ip_code", accepted_standards=[{"standard": "IEC 60529"}])
    book = _book([_req("EU-R1"), ip], [FULL, CONDITIONAL])
    evidence = [result(), result(standard="IEC 60529", test_item="ip_code", accredited=False)]
    decision = decide(book, evidence)
    assert decision.savings == type(decision.savings)(1, 100, 200, 10)
    assert decision.conditional_savings == type(decision.savings)(1, 1000, 3000, 20)
    assert decision.verdict is Verdict.ACCESSIBLE_WITH_CONDITIONS


def test_inputs_digest_names_what_the_decision_was_computed_from():
    book = _book([_req("EU-R1")], [FULL])
    base = decide(book, [result(), result(report_number="B")])
    assert base.inputs_digest == decide(book, [result(report_number="B"), result()], labs=LABS[::-1]).inputs_digest
    assert base.inputs_digest != decide(book, [result()]).inputs_digest
    assert base.inputs_digest != decide(book, [result(), result(report_number="B")], as_of=date(2026, 3, 2)).inputs_digest
    assert base.rulebook_version == 3 and len(base.inputs_digest) == 64


def test_decisions_are_immutable():
    decision = decide(_book([_req("EU-R1")], [FULL]), [result()])
    with pytest.raises(dataclasses.FrozenInstanceError):
        decision.verdict = Verdict.BLOCKED
    with pytest.raises(TypeError):
        decision.delta_test_plan.groups["x"] = ()


def test_unknown_market_raises():
    with pytest.raises(UnknownMarket):
        decide(_book([_req("EU-R1")], [FULL]), [], market="US")


def test_bloc_member_inherits(rulebook, catalogue):
    """DE inherits the EU section; a market with no section of its own and no bloc is unknown."""
    from tests.recognition.catalogue_facts import lab_facts

    de = evaluate(product(), [], rulebook, catalogue, lab_facts(AS_OF), "DE", AS_OF)
    eu = evaluate(product(), [], rulebook, catalogue, lab_facts(AS_OF), "EU", AS_OF)
    assert [d.requirement_id for d in de.requirements] == [d.requirement_id for d in eu.requirements]
    assert all(d.status is Status.MISSING for d in de.requirements)
