"""The seed rulebook: it validates against schemas/rulebook/v1.json, parses, uses only catalogue ids, cites
facts.md, and resolves per market (bloc inheritance, overrides, drops, windows, latest versions)."""

from __future__ import annotations

import copy
import json
import re
from datetime import date
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from registry import contracts
from registry.recognition import (
    Outcome,
    RuleKind,
    RulebookError,
    UnknownMarket,
    market_requirements,
    market_rules,
    parse_condition,
    parse_rulebook,
)
from registry.rulebook import load_seed_rulebook
from tests.recognition.catalogue_facts import catalogue_documents

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "rulebook" / "v1.json"
FACTS_SECTION = re.compile(r"facts\.md §\d")
CATALOGUED_MARKETS = ("CN", "EU", "DE", "FR", "ASEAN", "SG", "MY", "TH", "ID", "VN", "PH", "BN", "KH", "LA", "MM")


def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- the schema and the seed


def test_schema_is_draft_2020_12_with_the_agreed_id():
    document = schema()
    Draft202012Validator.check_schema(document)
    assert document["$id"] == "urn:ev-charging-registry:schemas:rulebook:v1"
    assert "rulebook/v1" in contracts.schema_names()


def _walk(node, path=""):
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            if key not in ("if", "const", "enum"):
                yield from _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{path}/{index}")


def test_every_schema_property_has_a_title_and_description_and_objects_are_closed():
    document = schema()
    undocumented = [
        f"{path}/{name}"
        for path, sub in _walk(document)
        for name, member in (sub.get("properties") or {}).items()
        if not (isinstance(member, dict) and member.get("title") and member.get("description"))
    ]
    assert undocumented == []
    open_objects = [
        path
        for path, sub in _walk(document)
        if "properties" in sub and sub.get("additionalProperties") is not False and path != "/$defs/operator"
    ]
    assert open_objects == []  # the operator dispatcher is closed by each op_* definition it refers to


def test_seed_validates_with_both_validators(seed_document):
    errors = list(Draft202012Validator(schema(), format_checker=FormatChecker()).iter_errors(seed_document))
    assert [e.message for e in errors] == []
    assert contracts.validate(seed_document, "rulebook/v1") == []


def test_seed_parses(rulebook):
    assert rulebook.version == 1
    assert rulebook.digest and len(rulebook.digest) == 64
    assert {"CN", "EU", "ASEAN", "SG", "PH", "ID", "VN"} <= rulebook.markets


def test_schema_rejects_an_unknown_operator(seed_document):
    document = copy.deepcopy(seed_document)
    document["markets"]["CN"]["rules"][0]["when"] = {"op": "regex_match", "pattern": ".*"}
    assert contracts.validate(document, "rulebook/v1") != []


# --------------------------------------------------------------------------- ids exist in the catalogue


def _condition_ops(node):
    if "all" in node or "any" in node:
        for member in node.get("all", node.get("any")):
            yield from _condition_ops(member)
    elif "not" in node:
        yield from _condition_ops(node["not"])
    else:
        yield node


def test_every_id_the_seed_uses_exists_in_the_catalogue(seed_document):
    docs = catalogue_documents()
    standards = {s["id"] for s in docs["standards"]}
    items = {t["id"] for t in docs["test_items"]}
    schemes = {s["id"] for s in docs["schemes"]}
    markets = {m["code"] for m in docs["markets"]}
    used_standards, used_items, used_schemes = set(), set(), set()
    for code, section in seed_document["markets"].items():
        assert code in markets, code
        for req in section.get("requirements", []):
            used_items.add(req["test_item"])
            used_standards.update(entry["standard"] for entry in req["accepted_standards"])
        for rule in section.get("rules", []):
            used_items.update(rule.get("applies_to", {}).get("test_items", []))
            for op in _condition_ops(rule["when"]):
                used_standards.update(op.get("ids", []))
                used_standards.update(op.get("of", []))
                used_schemes.update(op.get("any_of", []))
                if op["op"] == "certificate_held":
                    used_schemes.add(op["scheme"])
    used_items.update(entry["test_item"] for entry in seed_document["cost_table"])
    assert used_standards - standards == set()
    assert used_items - items == set()
    assert used_schemes - schemes == set()
    assert used_standards and used_items and used_schemes


def test_every_requirement_and_rule_cites_facts_md(seed_document):
    uncited = [
        entry["id"]
        for section in seed_document["markets"].values()
        for entry in section.get("requirements", []) + section.get("rules", [])
        if not FACTS_SECTION.search(entry["source"])
    ]
    assert uncited == []


def test_costs_are_an_unverified_estimate(seed_document):
    assert all(entry["verified"] is False for entry in seed_document["cost_table"])
    assert all("engineering estimate" in entry["source"] for entry in seed_document["cost_table"])


def test_interface_bound_requirements_name_their_connector_family(rulebook, catalogue):
    missing = [
        req.id
        for reqs in rulebook.requirements.values()
        for req in reqs
        if req.test_item in catalogue.interface_bound and not req.parameters.get("connectors")
    ]
    assert missing == []


@pytest.mark.parametrize("market", CATALOGUED_MARKETS)
def test_every_requirement_has_an_acceptance_rule_from_its_first_day(rulebook, catalogue, market):
    for req in market_requirements(rulebook, market, catalogue.market_bloc):
        rules = market_rules(rulebook, market, catalogue.market_bloc, req.valid_from)
        assert any(r.kind is RuleKind.ACCEPTANCE and r.covers(req) for r in rules), (market, req.id)
        assert any(r.kind is RuleKind.EXCLUSION for r in rules), market


def test_requirement_counts(rulebook, catalogue):
    """Inherited + overridden requirement sets per market (the numbers quoted in the hand-over)."""
    counts = {m: len(market_requirements(rulebook, m, catalogue.market_bloc)) for m in CATALOGUED_MARKETS}
    assert counts["CN"] == 32
    assert counts["EU"] == counts["DE"] == 24
    assert counts["ASEAN"] == counts["SG"] == counts["TH"] == counts["MY"] == counts["BN"] == 17


# --------------------------------------------------------------------------- inheritance and selection


def test_member_overrides_a_bloc_requirement_by_id(rulebook, catalogue):
    sg = {r.id: r for r in market_requirements(rulebook, "SG", catalogue.market_bloc)}
    th = {r.id: r for r in market_requirements(rulebook, "TH", catalogue.market_bloc)}
    assert sg["ASEAN-SAF-INS"].market == "SG" and th["ASEAN-SAF-INS"].market == "ASEAN"
    assert sg["ASEAN-SAF-INS"].accepted_standards[0][0] == "TR 25:2022+A1:2025"
    assert sg["ASEAN-SAF-SC"].market == "ASEAN"  # not covered by TR 25: inherited
    ph = {r.id: r for r in market_requirements(rulebook, "PH", catalogue.market_bloc)}
    assert ph["ASEAN-EMC-HARM"].parameters["supply_frequency_hz"] == 60


def test_member_overrides_a_bloc_rule_by_id(rulebook, catalogue):
    sg = {r.id: r for r in market_rules(rulebook, "SG", catalogue.market_bloc, date(2026, 1, 1))}
    th = {r.id: r for r in market_rules(rulebook, "TH", catalogue.market_bloc, date(2026, 1, 1))}
    assert sg["ASEAN-A-010"].market == "SG" and th["ASEAN-A-010"].market == "ASEAN"
    assert "SG-A-020" in sg and "SG-A-020" not in th


def _mini(**market_sections):
    return {
        "version": 7,
        "title": "mini",
        "markets": market_sections,
        "cost_table": [
            {"test_item": "insulation_resistance", "cost_min": 1, "cost_max": 2, "currency": "EUR",
             "lead_time_days": 3, "verified": False, "source": "engineering estimate"},
        ],
    }


def _req(rid, **extra):
    return {"id": rid, "test_item": "insulation_resistance", "categories": ["dc_charger"],
            "accepted_standards": [{"standard": "IEC 61851-23:2023"}], "valid_from": "2024-01-01",
            "description": {"en": "x x x"}, "source": "facts.md §3.1", **extra}


def _rule(rid, version=1, **extra):
    return {"id": rid, "version": version, "kind": "acceptance", "valid_from": "2024-01-01", "outcome": "full",
            "description": {"en": "x x x"}, "source": "facts.md §3.4", "when": {"op": "lab_accredited"}, **extra}


def test_a_member_override_that_starts_later_leaves_the_bloc_requirement_until_then():
    late = _req("ASEAN-A", valid_from="2025-01-01", accepted_standards=[{"standard": "TR 25:2022"}])
    book = parse_rulebook(_mini(ASEAN={"requirements": [_req("ASEAN-A")]}, SG={"requirements": [late]}))
    blocs = {"SG": "ASEAN"}
    (before,) = market_requirements(book, "SG", blocs, date(2024, 6, 1))
    (after,) = market_requirements(book, "SG", blocs, date(2025, 1, 1))
    assert (before.market, after.market) == ("ASEAN", "SG")


def test_member_drops_a_bloc_requirement():
    book = parse_rulebook(_mini(ASEAN={"requirements": [_req("ASEAN-A"), _req("ASEAN-B")]}, SG={"drop": ["ASEAN-B"]}))
    blocs = {"SG": "ASEAN"}
    assert [r.id for r in market_requirements(book, "SG", blocs)] == ["ASEAN-A"]
    assert [r.id for r in market_requirements(book, "ASEAN", blocs)] == ["ASEAN-A", "ASEAN-B"]


def test_rules_are_chosen_by_window_and_latest_version_sorted_by_id():
    book = parse_rulebook(_mini(EU={
        "requirements": [_req("EU-X")],
        "rules": [
            _rule("EU-B", 1),
            _rule("EU-B", 2, valid_from="2025-01-01"),
            _rule("EU-A", 1, valid_until="2025-01-01"),
        ],
    }))
    early = market_rules(book, "EU", {}, date(2024, 6, 1))
    late = market_rules(book, "EU", {}, date(2025, 1, 1))
    assert [(r.id, r.version) for r in early] == [("EU-A", 1), ("EU-B", 1)]
    assert [(r.id, r.version) for r in late] == [("EU-B", 2)]  # EU-A's window is half-open


def test_unknown_market_is_an_error(rulebook, catalogue):
    with pytest.raises(UnknownMarket):
        market_requirements(rulebook, "US", catalogue.market_bloc)


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"op": "eval", "code": "1"}, "unknown operator"),
        ({"op": "lab_in_scheme"}, "needs any_of"),
        ({"op": "lab_accredited", "scheme": "X"}, "has no parameter scheme"),
        ({"all": []}, "non-empty list"),
        ({"not": {"op": "lab_accredited"}, "op": "x"}, "nothing else"),
        ("lab_accredited", "a condition is an object"),
    ],
)
def test_bad_conditions_are_parse_errors(condition, message):
    with pytest.raises(RulebookError, match=message):
        parse_condition(condition)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["markets"]["EU"]["rules"].append(_rule("EU-A")), "duplicate"),
        (lambda d: d["markets"]["EU"]["requirements"].append(_req("EU-X")), "duplicate requirement"),
        (lambda d: d["markets"]["EU"]["requirements"].append(_req("EU-Y", test_item="ip_code")), "no price for ip_code"),
        (lambda d: d["markets"]["EU"]["rules"][0].pop("outcome"), "needs an outcome"),
        (lambda d: d["cost_table"].append({**d["cost_table"][0], "test_item": "ip_code", "currency": "USD"}), "one currency"),
    ],
)
def test_bad_rulebooks_are_parse_errors(mutate, message):
    document = _mini(EU={"requirements": [_req("EU-X")], "rules": [_rule("EU-A")]})
    mutate(document)
    with pytest.raises(RulebookError, match=message):
        parse_rulebook(document)


def test_conditional_acceptance_lists_extra_steps(rulebook):
    for rules in rulebook.rules.values():
        for rule in rules:
            if rule.outcome is Outcome.CONDITIONAL:
                assert rule.extra_steps, rule.id


def test_loader_refuses_a_market_defined_twice(tmp_path):
    seed = Path(load_seed_rulebook.__globals__["SEED_DIR"])
    for name in ("rulebook.yaml", "costs.yaml", "eu.yaml"):
        (tmp_path / name).write_text((seed / name).read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "eu2.yaml").write_text((seed / "eu.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(ValueError, match="already defined"):
        load_seed_rulebook(tmp_path)
