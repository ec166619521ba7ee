"""Properties of the engine over generated evidence, with the seed rulebook and the real catalogue.

Evidence is drawn from the results of the case files, with verdicts, accreditation, schemes, dates, test
conditions and report identities varied, so the generated inputs stay realistic for every market.
"""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.recognition import ProductFacts, ResultEvidence, Status, evaluate, parse_rulebook
from registry.rulebook import load_seed_rulebook
from tests.recognition.catalogue_facts import catalogue_facts, evidence_from_json, lab_facts

RULEBOOK = parse_rulebook(load_seed_rulebook())
CATALOGUE = catalogue_facts()
MARKETS = ("CN", "EU", "DE", "SG", "MY", "TH", "ID", "VN", "PH", "BN")
SCHEMES = ("ILAC_MRA", "APAC_MRA", "EA_MLA", "IECEE_CB", "ASEAN_EE_MRA", "SG_EVCA")
_seen: dict[tuple, ResultEvidence] = {}
for _path in sorted((Path(__file__).parent / "cases").glob("*.json")):
    for _row in json.loads(_path.read_text(encoding="utf-8"))["evidence"]:
        _r = evidence_from_json(_row)
        _seen.setdefault((_r.standard, _r.clause, _r.test_item), _r)
TEMPLATES = tuple(_seen[key] for key in sorted(_seen, key=repr))
PRODUCTS = (
    ProductFacts(1, "dc_charger", 600, frozenset({"GBT_DC"}), "liquid", True, 50, "IP55"),
    ProductFacts(2, "dc_charger", 400, frozenset({"CCS2"}), "forced_air", False, 50, "IP55"),
    ProductFacts(3, "dispenser", 480, frozenset({"CCS2", "GBT_DC", "CHADEMO"}), "liquid", True, 60, "IP54"),
    ProductFacts(4, "power_cabinet", 1000, frozenset(), "liquid", False, 50, None),
)
LABS = {as_of: lab_facts(as_of) for as_of in (date(2024, 6, 1), date(2025, 6, 1), date(2026, 6, 1), date(2027, 6, 1))}
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def results(draw, numbers=("R-1", "R-2", "R-3", "R-4")) -> ResultEvidence:
    template = draw(st.sampled_from(TEMPLATES))
    performed = draw(st.dates(date(2022, 1, 1), date(2027, 6, 1)))
    withdrawn = draw(st.booleans()) and draw(st.integers(0, 5)) == 0
    low = draw(st.sampled_from([None, -35.0, -30.0, 20.0, 25.0]))
    high = draw(st.sampled_from([None, 25.0, 40.0, 45.0]))
    return replace(
        template,
        report_number=draw(st.sampled_from(numbers)),
        report_id=draw(st.integers(1, 4)),
        revision=draw(st.integers(1, 2)),
        lab_id=draw(st.sampled_from(["lab-cn-sh-evtc", "lab-de-rheinmain-emob", "lab-sg-jurong-evlab"])),
        performed_on=performed,
        issued_on=performed + timedelta(days=draw(st.integers(0, 40))),
        report_status="withdrawn" if withdrawn else "valid",
        withdrawn_on=performed + timedelta(days=60) if withdrawn else None,
        verdict=draw(st.sampled_from(["pass", "pass", "pass", "fail", "not_applicable", "inconclusive"])),
        accredited=draw(st.booleans()),
        lab_schemes=frozenset(draw(st.sets(st.sampled_from(SCHEMES)))),
        ambient_min_c=low,
        ambient_max_c=high,
        supply_frequency_hz=draw(st.sampled_from([None, 50.0, 60.0])),
    )


inputs = st.tuples(
    st.sampled_from(PRODUCTS),
    st.lists(results(), max_size=40),
    st.sampled_from(MARKETS),
    st.sampled_from(sorted(LABS)),
)


def decide(product, evidence, market, as_of):
    return evaluate(product, evidence, RULEBOOK, CATALOGUE, LABS[as_of], market, as_of)


def statuses(decision, *wanted: Status) -> set[str]:
    return {d.requirement_id for d in decision.requirements if d.status in wanted}


@SETTINGS
@given(inputs)
def test_same_inputs_give_equal_decisions_and_digest(args):
    product, evidence, market, as_of = args
    first = decide(product, evidence, market, as_of)
    second = decide(product, [replace(r) for r in evidence], market, as_of)
    assert first == second
    assert first.inputs_digest == second.inputs_digest


@SETTINGS
@given(inputs, st.randoms(use_true_random=False))
def test_decisions_do_not_depend_on_evidence_order(args, rnd: random.Random):
    product, evidence, market, as_of = args
    shuffled = list(evidence)
    rnd.shuffle(shuffled)
    assert decide(product, evidence, market, as_of) == decide(product, shuffled, market, as_of)


@SETTINGS
@given(inputs, results(numbers=("NEW-1",)))
def test_adding_a_passing_accredited_result_never_loses_a_recognition(args, extra):
    product, evidence, market, as_of = args
    extra = replace(
        extra,
        verdict="pass",
        accredited=True,
        report_status="valid",
        withdrawn_on=None,
        lab_schemes=frozenset(SCHEMES),
        issued_on=min(extra.issued_on, as_of),
        performed_on=min(extra.performed_on, as_of),
    )
    before = decide(product, evidence, market, as_of)
    after = decide(product, [*evidence, extra], market, as_of)
    assert statuses(before, Status.RECOGNIZED) <= statuses(after, Status.RECOGNIZED)


@SETTINGS
@given(inputs, st.data())
def test_withdrawing_a_report_never_adds_a_recognition(args, data):
    product, evidence, market, as_of = args
    if not evidence:
        return
    target = data.draw(st.sampled_from(sorted({(r.lab_id, r.report_number) for r in evidence})))
    withdrawn = [
        replace(r, report_status="withdrawn", withdrawn_on=as_of) if (r.lab_id, r.report_number) == target else r
        for r in evidence
    ]
    before = decide(product, evidence, market, as_of)
    after = decide(product, withdrawn, market, as_of)
    assert statuses(after, Status.RECOGNIZED) <= statuses(before, Status.RECOGNIZED)
    accepted = (Status.RECOGNIZED, Status.CONDITIONAL)
    assert statuses(after, *accepted) <= statuses(before, *accepted)


@SETTINGS
@given(inputs)
def test_every_non_missing_decision_cites_a_rule_and_evidence(args):
    decision = decide(*args)
    for requirement in decision.requirements:
        assert requirement.reasons
        if requirement.status is Status.MISSING:
            assert requirement.evidence == () and requirement.rule_id is None
        else:
            assert requirement.rule_id and requirement.rule_version is not None and requirement.evidence
            rule_ids = {reason.rule_id for reason in requirement.reasons}
            assert requirement.rule_id in rule_ids
        if requirement.status is Status.CONDITIONAL:
            assert requirement.extra_steps
