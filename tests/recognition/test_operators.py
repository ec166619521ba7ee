"""One small test per operator of the closed vocabulary (registry/recognition/operators.py)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from registry.recognition import OPERATORS
from registry.recognition.operators import (
    adopts,
    certificate_held,
    covers_ambient,
    edition_current_on_test_date,
    interface_family,
    ip_code_at_least,
    lab_accredited,
    lab_in_scheme,
    not_older_than,
    report_valid,
    standard_in,
    standard_number,
    supply_frequency_is,
    verdict_is,
    within_transition,
)
from tests.recognition.builders import context, product, requirement, result

SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "rulebook" / "v1.json"


def test_the_vocabulary_is_closed_and_matches_the_schema():
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert sorted(schema["$defs"]["operator"]["properties"]["op"]["enum"]) == sorted(OPERATORS)
    assert {name for name in schema["$defs"] if name.startswith("op_")} == {f"op_{name}" for name in OPERATORS}


def test_every_operator_returns_a_bool_and_a_message():
    ctx = context()
    for name, fn in OPERATORS.items():
        params = {
            "lab_in_scheme": {"any_of": ["ILAC_MRA"]},
            "not_older_than": {"months": 12},
            "verdict_is": {"values": ["pass"]},
            "adopts": {"degrees": ["IDT"]},
            "certificate_held": {"scheme": "IECEE_CB"},
        }.get(name, {})
        passed, message = fn(result(), ctx, **params)
        assert isinstance(passed, bool) and isinstance(message, str) and message, name


def test_standard_in_defaults_to_the_requirements_open_standards():
    assert standard_in(result(), context())[0]
    assert not standard_in(result(standard="IEC 61851-23:2014"), context())[0]
    assert standard_in(result(standard="IEC 61851-23:2014"), context(), ids=["IEC 61851-23:2014"])[0]
    closed = requirement(accepted_standards=(("IEC 61851-23:2023", date(2026, 1, 1)),))
    passed, message = standard_in(result(), context(req=closed))
    assert not passed and "accepted only until 2026-01-01" in message


def test_adopts_accepts_idt_in_either_direction_and_through_a_shared_original():
    emc = requirement(test_item="emc_emission", accepted_standards=(("IEC 61851-21-2:2018", None),))
    assert adopts(result(standard="EN IEC 61851-21-2:2021"), context(req=emc), degrees=["IDT"])[0]
    back = requirement(test_item="emc_emission", accepted_standards=(("EN IEC 61851-21-2:2021", None),))
    assert adopts(result(standard="IEC 61851-21-2:2018"), context(req=back), degrees=["IDT"])[0]
    sibling = requirement(test_item="emc_emission", accepted_standards=(("TCVN 13078-21-2:2020", None),))
    assert adopts(result(standard="EN IEC 61851-21-2:2021"), context(req=sibling), degrees=["IDT"])[0]
    assert not adopts(result(standard="GB/T 18487.2-2017"), context(req=emc), degrees=["IDT"])[0]
    assert not adopts(result(standard="IEC 61851-23:2023"), context(req=emc), degrees=["IDT"])[0]


def test_adopts_mod_only_outside_national_differences_and_neq_never():
    emc = requirement(test_item="emc_emission", accepted_standards=(("IEC 61851-21-2:2018", None),))
    ctx = context(req=emc)
    mod = result(standard="XX 61851-21-2-MOD", clause="7.2")
    assert not adopts(mod, ctx, degrees=["IDT"])[0]
    assert adopts(mod, ctx, degrees=["IDT", "MOD"])[0]
    passed, message = adopts(mod, ctx, degrees=["IDT", "MOD"], except_clauses=["7.2"])
    assert not passed and "national difference" in message
    assert not adopts(result(standard="XX 61851-21-2-MOD", clause=None), ctx, degrees=["MOD"], except_clauses=["7.2"])[0]
    assert not adopts(result(standard="XX 61851-21-2-NEQ"), ctx, degrees=["IDT", "MOD", "NEQ"])[0]
    # Two non-identical links (NEQ -> original -> MOD sibling) are no correspondence at all.
    sibling = requirement(test_item="emc_emission", accepted_standards=(("XX 61851-21-2-MOD", None),))
    assert not adopts(result(standard="XX 61851-21-2-NEQ"), context(req=sibling), degrees=["MOD"])[0]


def test_lab_accredited():
    assert lab_accredited(result(), context())[0]
    passed, message = lab_accredited(result(accredited=False), context())
    assert not passed and "not accredited" in message


def test_lab_in_scheme():
    assert lab_in_scheme(result(), context(), any_of=["APAC_MRA", "ILAC_MRA"])[0]
    passed, message = lab_in_scheme(result(lab_schemes=frozenset({"APAC_MRA"})), context(), any_of=["EA_MLA"])
    assert not passed and "APAC_MRA" in message


def test_not_older_than_counts_calendar_months():
    ctx = context(as_of=date(2026, 3, 1))
    assert not_older_than(result(performed_on=date(2023, 3, 1)), ctx, months=36)[0]
    assert not not_older_than(result(performed_on=date(2023, 2, 28)), ctx, months=36)[0]
    assert not_older_than(result(performed_on=date(2024, 2, 29)), context(as_of=date(2025, 2, 28)), months=12)[0]


def test_verdict_is():
    assert verdict_is(result(), context(), values=["pass"])[0]
    assert not verdict_is(result(verdict="inconclusive"), context(), values=["pass"])[0]


def test_covers_ambient():
    hot = requirement(parameters={"ambient_max_c": 40})
    assert covers_ambient(result(ambient_min_c=25, ambient_max_c=40), context(req=hot))[0]
    passed, message = covers_ambient(result(ambient_min_c=20, ambient_max_c=25), context(req=hot))
    assert not passed and "40 °C" in message
    assert not covers_ambient(result(ambient_min_c=None, ambient_max_c=None), context(req=hot))[0]
    assert covers_ambient(result(ambient_max_c=None), context())[0]  # nothing required
    assert not covers_ambient(result(ambient_min_c=-25), context(), min_c=-30)[0]


def test_supply_frequency_is():
    ph = requirement(parameters={"supply_frequency_hz": 60})
    assert not supply_frequency_is(result(supply_frequency_hz=50), context(req=ph))[0]
    assert supply_frequency_is(result(supply_frequency_hz=60), context(req=ph))[0]
    assert supply_frequency_is(result(supply_frequency_hz=50), context(req=ph), hz=50)[0]
    assert not supply_frequency_is(result(supply_frequency_hz=None), context(req=ph))[0]
    assert supply_frequency_is(result(supply_frequency_hz=None), context())[0]


def test_interface_family_never_crosses_families():
    ccs = requirement(test_item="connector_dimensions", parameters={"connectors": ("CCS2",)})
    gbt = requirement(test_item="connector_dimensions", parameters={"connectors": ("GBT_DC", "CHAOJI")})
    iec = result(standard="IEC 62196-3:2022", test_item="connector_dimensions")
    gb = result(standard="GB/T 20234.1-2023", clause="7.14", test_item="connector_dimensions")
    assert interface_family(iec, context(req=ccs))[0]  # multi-family standard, CCS-only product
    passed, message = interface_family(gb, context(req=ccs, prod=product(connectors=frozenset({"GBT_DC", "CCS2"}))))
    assert not passed and "GBT" in message
    assert not interface_family(iec, context(req=gbt))[0]
    assert interface_family(gb, context(req=gbt, prod=product(connectors=frozenset({"GBT_DC"}))))[0]
    # A multi-family standard on a product with several families cannot be attributed.
    both = product(connectors=frozenset({"GBT_DC", "CCS2"}))
    assert not interface_family(iec, context(req=ccs, prod=both))[0]
    pilot = requirement(test_item="control_pilot_sequence", parameters={"connectors": ("CCS2",)})
    annex_cc = result(standard="IEC 61851-23:2023", clause="Annex CC", test_item="control_pilot_sequence")
    assert interface_family(annex_cc, context(req=pilot, prod=both))[0]
    assert interface_family(result(), context())[0]  # not interface-bound
    assert interface_family(iec, context(req=gbt), connectors=["CCS2"])[0]


def test_edition_current_on_test_date():
    old = result(standard="IEC 61851-23:2014", performed_on=date(2023, 6, 1))
    assert edition_current_on_test_date(old, context())[0]
    passed, message = edition_current_on_test_date(result(standard="IEC 61851-23:2014"), context())
    assert not passed and "superseded" in message
    assert edition_current_on_test_date(result(standard="TR 25:2016", performed_on=date(2023, 6, 1)), context())[0]
    assert not edition_current_on_test_date(result(standard="NOT IN CATALOGUE"), context())[0]


def test_within_transition():
    assert within_transition(result(), context())[0]
    passed, message = within_transition(result(standard="IEC 61851-23:2014"), context())
    assert not passed and "no transition period" in message
    assert within_transition(result(standard="TR 25:2016"), context(as_of=date(2024, 2, 27)))[0]
    passed, message = within_transition(result(standard="TR 25:2016"), context(as_of=date(2024, 2, 28)))
    assert not passed and "transition ended on 2024-02-28" in message


def test_report_valid():
    assert report_valid(result(), context())[0]
    assert not report_valid(result(report_status="withdrawn", withdrawn_on=date(2026, 1, 10)), context())[0]
    assert not report_valid(result(report_status="withdrawn", withdrawn_on=None), context())[0]
    # Withdrawn after the decision date: still valid on it.
    assert report_valid(result(report_status="withdrawn", withdrawn_on=date(2026, 6, 1)), context())[0]


def test_ip_code_at_least():
    cn = requirement(parameters={"min_ip_code": "IP54"})
    assert ip_code_at_least(result(), context(req=cn))[0]
    assert not ip_code_at_least(result(), context(req=cn, prod=product(ip_code="IP44")))[0]
    assert not ip_code_at_least(result(), context(req=cn, prod=product(ip_code="IPX5")))[0]
    assert not ip_code_at_least(result(), context(req=cn, prod=product(ip_code=None)))[0]
    assert ip_code_at_least(result(), context())[0]
    assert ip_code_at_least(result(), context(), code="IP5X")[0]


def test_certificate_held():
    assert certificate_held(result(), context(), scheme="IECEE_CB")[0]
    assert not certificate_held(result(), context(), scheme="CCC")[0]


@pytest.mark.parametrize(
    ("standard_id", "number"),
    [
        ("IEC 61851-23:2023", "IEC 61851-23"),
        ("GB/T 18487.1-2023", "GB/T 18487.1"),
        ("DIN SPEC 70121:2014-12", "DIN SPEC 70121"),
        ("IEC 60529", "IEC 60529"),
        ("GB 39752-2024", "GB 39752"),
        ("TIS 2749 Part 2-2559", "TIS 2749 Part 2"),
    ],
)
def test_standard_number(standard_id, number):
    assert standard_number(standard_id) == number


# --------------------------------------------------------------------------- what the engine may share


def _seed_conditions():
    from registry.recognition import parse_rulebook
    from registry.recognition.rulebook import AllOf, AnyOf, NotOf, Op
    from registry.rulebook import load_seed_rulebook

    book = parse_rulebook(load_seed_rulebook())
    tops = [rule.when for rules in book.rules.values() for rule in rules]
    nodes, stack = [], list(tops)
    while stack:
        node = stack.pop()
        nodes.append(node)
        if isinstance(node, NotOf):
            stack.append(node.member)
        elif isinstance(node, (AllOf, AnyOf)):
            stack.extend(node.members)
    return book, tops, [node for node in nodes if isinstance(node, Op)]


def _sample_inputs():
    """Results from the case files and varied contexts of one engine pass (same product, catalogue, date)."""
    from registry.recognition import market_requirements
    from tests.recognition.catalogue_facts import catalogue_facts, evidence_from_json

    book, _, _ = _seed_conditions()
    catalogue = catalogue_facts()
    as_of = date(2026, 3, 1)
    seen = {}
    for path in sorted((Path(__file__).parent / "cases").glob("*.json")):
        for row in json.loads(path.read_text(encoding="utf-8"))["evidence"]:
            found = evidence_from_json(row)
            seen.setdefault((found.standard, found.clause, found.test_item), found)
    results = list(seen.values())
    results += [
        result(report_status="withdrawn", withdrawn_on=date(2026, 1, 10), accredited=False, verdict="fail"),
        result(performed_on=date(2021, 1, 5), lab_schemes=frozenset(), ambient_min_c=None, supply_frequency_hz=60.0),
    ]
    requirements = [
        req for market in ("CN", "EU", "SG", "PH", "ID") for req in market_requirements(book, market, catalogue.market_bloc)
    ]
    prod = product(connectors=frozenset({"CCS2", "GBT_DC"}), certificates=frozenset({("CCC", "1")}))
    contexts = [
        context(req=req, prod=prod, catalogue=catalogue, market=market, as_of=as_of)
        for req, market in zip(requirements[::3], ("CN", "EU", "SG", "PH", "ID", "DE") * 50)
    ]
    return results, contexts


def test_operators_declared_requirement_free_read_neither_the_requirement_nor_the_market():
    from registry.recognition.operators import _REQUIREMENT_FREE, _REQUIREMENT_FREE_WITH, requirement_free

    assert (_REQUIREMENT_FREE | set(_REQUIREMENT_FREE_WITH)) <= set(OPERATORS)
    _, _, ops = _seed_conditions()
    calls = {(op.name, tuple(sorted(op.params.items()))) for op in ops}
    calls |= {
        ("standard_in", (("ids", ("IEC 61851-23:2023", "GB 39752-2024")),)),
        ("adopts", (("degrees", ("IDT", "MOD")), ("of", ("IEC 61851-23:2023", "IEC 61851-21-2:2018")))),
        ("covers_ambient", (("max_c", 40.0), ("min_c", -25.0))),
        ("supply_frequency_is", (("hz", 50.0),)),
        ("ip_code_at_least", (("code", "IP55"),)),
        ("certificate_held", (("scheme", "CCC"),)),
    }
    free = [(name, dict(params)) for name, params in sorted(calls) if requirement_free(name, dict(params))]
    assert {name for name, _ in free} == _REQUIREMENT_FREE | set(_REQUIREMENT_FREE_WITH)
    assert not requirement_free("standard_in", {}) and not requirement_free("covers_ambient", {"min_c": 1.0})
    assert not requirement_free("interface_family", {"connectors": ("CCS2",)})
    results, contexts = _sample_inputs()
    for name, params in free:
        for found in results:
            answers = {OPERATORS[name](found, ctx, **params) for ctx in contexts}
            assert len(answers) == 1, (name, params, found.standard, answers)


def test_check_answers_as_evaluate_with_a_memo_shared_between_requirements_and_rules():
    _, tops, _ = _seed_conditions()
    results, contexts = _sample_inputs()
    for found in results:
        memo: dict = {}  # one per result for the whole pass, as in the engine
        for ctx in contexts:
            for condition in tops:
                assert condition.check(found, ctx, memo) == condition.evaluate(found, ctx)


def test_equal_requirement_free_conditions_share_a_token_and_no_others_do():
    from registry.recognition import parse_condition

    def token(node):
        return parse_condition(node)._token

    scheme = {"op": "lab_in_scheme", "any_of": ["ILAC_MRA", "APAC_MRA"]}
    assert token(scheme) is not None and token(scheme) == token(dict(scheme))
    assert token(scheme) != token({"op": "lab_in_scheme", "any_of": ["ILAC_MRA"]})
    months = [token({"op": "not_older_than", "months": value}) for value in (36, 36.0, True, 1)]
    assert len(set(months)) == 4  # equal in Python, not for the operator
    ambient = [token({"op": "covers_ambient", "min_c": low, "max_c": 40.0}) for low in (0.0, -0.0)]
    assert None not in ambient and ambient[0] != ambient[1]  # "0 °C" and "-0 °C"
    assert token({"op": "standard_in"}) is None  # reads the requirement's standards
    assert token({"op": "covers_ambient", "min_c": 0.0}) is None  # max_c from the requirement
    assert token({"all": [scheme, {"op": "lab_accredited"}]}) is not None
    assert token({"all": [scheme, {"op": "interface_family"}]}) is None
    assert token({"not": scheme}) not in (None, token(scheme))
