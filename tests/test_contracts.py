"""The published JSON Schemas, their examples, and agreement between the fast and the reference validator."""

from __future__ import annotations

import copy
import json
import math
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from registry import contracts
from registry.errors import ContractViolation, NotFound

EXAMPLES = contracts.SCHEMA_ROOT / "examples"
VALID = sorted((EXAMPLES / "valid").glob("*.json"))
INVALID_DIR = EXAMPLES / "invalid"
EXPECTED: dict[str, list[str]] = json.loads((INVALID_DIR / "EXPECTED.json").read_text(encoding="utf-8"))
REPORT = "test-report/v1"


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def pointers(violations) -> list[str]:
    return sorted({v.pointer for v in violations})


# --------------------------------------------------------------------------- the schema files


def test_schema_names_come_from_paths_and_skip_examples():
    names = contracts.schema_names()
    assert REPORT in names
    assert names == sorted(names)
    assert not any(name.startswith("examples/") for name in names)


@pytest.mark.parametrize("name", contracts.schema_names())
def test_every_schema_is_valid_draft_2020_12_with_an_id(name):
    document = contracts.schema_document(name)
    Draft202012Validator.check_schema(document)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["$id"].startswith("urn:ev-charging-registry:schemas:")
    assert json.loads(contracts.schema_bytes(name)) == document


def test_a_schema_file_that_is_no_json_schema_stops_the_registry_naming_the_file(tmp_path):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "v1.json").write_text(json.dumps(
        {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "no-such-type"}))
    with pytest.raises(contracts.SchemaFileError, match=r"broken/v1.json: not a valid JSON Schema"):
        contracts._read_catalogue(tmp_path)
    (tmp_path / "broken" / "v1.json").write_text(json.dumps({"$schema": "http://json-schema.org/draft-07/schema#"}))
    with pytest.raises(contracts.SchemaFileError, match="must be draft 2020-12"):
        contracts._read_catalogue(tmp_path)


def test_the_registry_runs_without_loading_the_reference_validator(tmp_path):
    """Importing `jsonschema` (and its format extras) took seconds per process: the app, its workers and every CLI
    command validate with jsonschema-rs and load the reference library only when the reference path is asked for."""
    import os
    import subprocess
    import sys

    code = ("import sys, app; from registry import contracts; contracts.validate({}); "
            "print('jsonschema' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parent.parent, check=True,
                         capture_output=True, text=True,
                         env={**os.environ, "SECRET_KEY": "test", "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"})
    assert out.stdout.strip() == "False"


def test_schema_ids_are_unique():
    ids = [contracts.schema_document(name)["$id"] for name in contracts.schema_names()]
    assert len(ids) == len(set(ids))


def test_schema_document_is_a_copy():
    contracts.schema_document(REPORT)["title"] = "changed"
    assert contracts.schema_document(REPORT)["title"] != "changed"


def test_unknown_schema_name_is_not_found():
    with pytest.raises(NotFound):
        contracts.schema_bytes("test-report/v99")


def walk(schema: Any, path: str = ""):
    """Yield (path, subschema) for every schema object, skipping `if` (a condition, not documented members)."""
    if isinstance(schema, dict):
        yield path, schema
        for key, value in schema.items():
            if key in ("if", "const", "enum", "examples", "default"):
                continue
            yield from walk(value, f"{path}/{key}")
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            yield from walk(value, f"{path}/{index}")


def test_every_report_property_has_a_title_and_description():
    undocumented = [
        f"{path}/properties/{name}"
        for path, subschema in walk(contracts.schema_document(REPORT))
        for name, member in (subschema.get("properties") or {}).items()
        if not (isinstance(member, dict) and member.get("title") and member.get("description"))
    ]
    assert undocumented == []


def test_every_report_object_is_closed():
    open_objects = [
        path
        for path, subschema in walk(contracts.schema_document(REPORT))
        if ("properties" in subschema or subschema.get("type") == "object")
        and "$ref" not in subschema  # closed by the referenced definition
        and subschema.get("additionalProperties") is not False
    ]
    assert open_objects == []


# --------------------------------------------------------------------------- examples


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_example_passes_both_validators(path):
    document = load(path)
    assert contracts.validate(document) == []
    assert contracts.validate_reference(document, REPORT) == []
    assert contracts.require_valid(document) is None


def test_the_three_market_examples_exist():
    assert {"cn-gbt-report.json", "de-iec-report.json", "sg-tr25-report.json"} <= {p.name for p in VALID}


# Clauses the catalogue records (facts.md §1.1, §3.1); every other standard is cited without a clause.
KNOWN_CLAUSES = {
    "GB/T 20234.1-2023": {f"7.{n}" for n in range(3, 16)},
    "NB/T 33008.1-2018": {"5"},
    "GB 44263-2024": {"Appendix A", "8"},
    "GB/T 18487.1-2023": {"Appendix B"},
    "IEC 61851-23:2023": {"101.2", "Annex HH", "Annex CC", None},
}


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_example_is_coherent(path):
    """Dates in order, clauses only as the catalogue knows them, and no `pass` outside its limit."""
    report = load(path)
    start, end = (date.fromisoformat(report["test_period"][k]) for k in ("start", "end"))
    issued = date.fromisoformat(report["issued_on"])
    assert start.year == end.year == issued.year == 2025
    assert start <= end <= issued
    assert 25 <= len(report["results"]) <= 35
    for result in report["results"]:
        assert start <= date.fromisoformat(result["performed_on"]) <= end
        assert result["clause"] in KNOWN_CLAUSES.get(result["standard"], {None})
        for measurement in result["measurements"]:
            limit = measurement.get("limit", {})
            inside = limit.get("min", -math.inf) <= measurement["value"] <= limit.get("max", math.inf)
            assert inside or result["verdict"] != "pass", (result["test_item"], measurement)
    for signatory in report["signatories"]:
        if "signed_on" in signatory:
            assert start <= date.fromisoformat(signatory["signed_on"]) <= issued


def test_expected_lists_every_invalid_example():
    assert set(EXPECTED) == {p.name for p in INVALID_DIR.glob("*.json")} - {"EXPECTED.json"}
    assert len(EXPECTED) >= 8


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_invalid_example_fails_both_validators_at_the_expected_pointers(name):
    document = load(INVALID_DIR / name)
    fast = contracts.validate(document)
    reference = contracts.validate_reference(document, REPORT)
    assert pointers(fast) == sorted(EXPECTED[name])
    assert pointers(reference) == sorted(EXPECTED[name])
    assert fast == reference


# --------------------------------------------------------------------------- normalised locations and messages


@pytest.fixture
def report():
    return load(EXAMPLES / "valid" / "de-iec-report.json")


def both(document):
    fast, reference = contracts.validate(document), contracts.validate_reference(document, REPORT)
    assert fast == reference
    return fast


def test_required_points_at_the_missing_member(report):
    del report["results"][0]["verdict"]
    assert [(v.pointer, v.message) for v in both(report)] == [("/results/0/verdict", "Required member is missing.")]


def test_each_extra_member_gets_its_own_escaped_pointer(report):
    report["product"]["colour"] = "white"
    report["product"]["a/b~c"] = 1
    assert pointers(both(report)) == ["/product/a~1b~0c", "/product/colour"]


def test_violations_are_sorted_by_pointer(report):
    report["results"][12]["verdict"] = "ok"
    report["results"][2]["verdict"] = "ok"
    report["lab"] = "X"
    assert [v.pointer for v in both(report)] == ["/lab", "/results/12/verdict", "/results/2/verdict"]


def test_dc_input_needs_no_phases_or_frequency(report):
    report["product"]["ratings"]["input"] = {"kind": "dc", "voltage_v": 920}
    assert both(report) == []


def test_trailing_newline_does_not_satisfy_a_pattern(report):
    report["lab"] = "lab-de-rheinmain-emob\n"
    assert pointers(both(report)) == ["/lab"]


def test_year_zero_is_an_rfc3339_date_but_february_30_is_not(report):
    report["results"][0]["performed_on"] = "0000-02-29"
    report["results"][1]["performed_on"] = "2025-02-30"
    assert pointers(both(report)) == ["/results/1/performed_on"]


def test_nan_is_not_a_number(report):
    report["product"]["ratings"]["max_power_kw"] = math.nan
    assert pointers(both(report)) == ["/product/ratings/max_power_kw"]


def test_unpaired_surrogates_are_refused_by_the_reference_and_never_crash_the_fast_path(report):
    # Not I-JSON, so outside the differential test: orjson (the API's parser) refuses them before validation.
    report["lab"] = "lab-de-\ud800"
    report["product"]["bad\udc00name"] = 1
    assert pointers(contracts.validate_reference(report, REPORT)) == ["/lab", "/product"]
    assert isinstance(contracts.validate(report), list)


def test_require_valid_raises_with_violations(report):
    report["results"][0]["verdict"] = "passed"
    with pytest.raises(ContractViolation) as raised:
        contracts.require_valid(report)
    assert [v.pointer for v in raised.value.violations] == ["/results/0/verdict"]


def test_require_valid_returns_none_for_a_valid_report(report):
    assert contracts.require_valid(report, REPORT) is None


# --------------------------------------------------------------------------- differential test

BAD_DATES = ["2025-02-30", "2025-02-29", "2024-02-29", "2025-13-01", "2025-00-10", "2025-1-5", "20250105",
             "2025-06-31", "0000-01-01", "2025-06-01\n", "2025-06-01T00:00:00Z", "２０２５-06-01", ""]
ODD_NUMBERS = [0, -0.0, -1, 1e-9, 0.5, 49.999, 50, 50.0, 60, 1, 3, 3.0, 2000, 2000.0001, 5000, 5000.5, -60.5,
               100.01, 6000, 6001, -500, -501, 10**20, -(10**20), 1e308, math.nan, math.inf]
ODD_VALUES = [None, True, False, "", "x", "1.0", "pass", "IP55", [], {}, [1], {"min": 1}, 0, 1.5, -3]
ODD_TEXT = st.one_of(
    st.text(max_size=70),
    st.sampled_from(["IP55\n", "IPX4", "IP6K", "IK11", "IK07", "lab-x", "A", "zh-CN", "e\u0301",
                     "CCS2", "GBT_DC", "dc", "application/pdf", "a/b", "~", "0" * 64, "F" * 64]),
    st.integers(min_value=60, max_value=6000).map(lambda n: "x" * n),
)


def paths_of(node: Any, path: tuple = ()) -> list[tuple]:
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths_of(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += paths_of(value, path + (index,))
    return found


def at(node: Any, path: tuple) -> Any:
    for part in path:
        node = node[part]
    return node


def mutate(document: Any, data: st.DataObject) -> None:
    """Apply one random mutation to `document` in place; the result is still JSON data (I-JSON strings)."""
    path = data.draw(st.sampled_from(paths_of(document)), label="path")
    node = at(document, path)
    parent = at(document, path[:-1]) if path else None
    ops = ["type", "odd_value", "extra_key"]
    if isinstance(node, dict) and node:
        ops += ["drop_key", "drop_key", "extra_key"]
    if isinstance(node, list):
        ops += ["empty", "duplicate_item"]
    if isinstance(node, (int, float)) and not isinstance(node, bool):
        ops += ["number", "number", "number_as_string"]
    if isinstance(node, str):
        ops += ["text", "text", "bad_date"]
    op = data.draw(st.sampled_from(ops), label="op")

    def replace(value: Any) -> None:
        if parent is None:
            document.clear()
            if isinstance(value, dict):
                document.update(value)
        else:
            parent[path[-1]] = value

    if op == "drop_key":
        del node[data.draw(st.sampled_from(sorted(node)), label="key")]
    elif op == "extra_key":
        target = node if isinstance(node, dict) else parent if isinstance(parent, dict) else document
        key = data.draw(st.sampled_from(["colour", "Verdict", "a/b", "x~y", "", "0", "01", "notes", "min"]), label="key")
        target[key] = copy.deepcopy(data.draw(st.sampled_from(ODD_VALUES), label="value"))
    elif op == "empty":
        node.clear()
    elif op == "duplicate_item" and node:
        node.append(copy.deepcopy(node[0]))
    elif op == "number":
        replace(data.draw(st.sampled_from(ODD_NUMBERS), label="number"))
    elif op == "number_as_string":
        replace(str(node))
    elif op == "text":
        replace(data.draw(ODD_TEXT, label="text"))
    elif op == "bad_date":
        replace(data.draw(st.sampled_from(BAD_DATES), label="date"))
    else:  # "type" / "odd_value": something of another type
        replace(copy.deepcopy(data.draw(st.sampled_from(ODD_VALUES + ODD_NUMBERS[:6]), label="value")))


SOURCES = [load(path) for path in VALID]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fast_and_reference_validators_agree_on_mutated_reports(data):
    document = copy.deepcopy(data.draw(st.sampled_from(SOURCES), label="source"))
    for _ in range(data.draw(st.integers(min_value=1, max_value=4), label="mutations")):
        mutate(document, data)
    fast = contracts.validate(document)
    reference = contracts.validate_reference(document, REPORT)
    assert pointers(fast) == pointers(reference)
    assert fast == reference


# Keywords and shapes the report schema does not use but other schemas may: the same normalisation must hold.
COMBINATORS = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "a": {"anyOf": [
            {"type": "string", "pattern": "^x[0-9]$"},
            {"type": "object", "properties": {"k": {"type": "integer", "minimum": 3}}, "required": ["k"],
             "additionalProperties": False},
        ]},
        "b": {"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 2}]},
        "c": {"type": "array", "prefixItems": [{"type": "string"}], "items": False},
        "d": {"type": "object", "propertyNames": {"maxLength": 2},
              "patternProperties": {"^p\\d$": {"type": "boolean"}}, "additionalProperties": {"type": "null"}},
        "e": {"dependentRequired": {"x": ["y"]}, "not": {"required": ["z"]}},
        "f": {"type": "array", "contains": {"const": 1}, "uniqueItems": True, "maxItems": 3},
        "g": {"format": "date"},
        "h": {"type": "string", "pattern": "\\w+\\d$"},
    },
    "additionalProperties": False,
}
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet="xyzp0123\u0663\u00e9\n_", max_size=4),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(alphabet="abkpxyz0123", max_size=3), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(document=st.dictionaries(st.sampled_from(list("abcdefghq")), JSON_VALUES, max_size=5))
def test_normalisation_holds_for_combinators_and_odd_member_names(document):
    fast = jsonschema_rs.Draft202012Validator(COMBINATORS, validate_formats=True, offline=True)
    validator_class, format_checker = contracts._reference_kit()
    reference = validator_class(COMBINATORS, format_checker=format_checker)
    assert contracts._violations(contracts._issues_from_fast(fast.iter_errors(document), document), document) == (
        contracts._violations(contracts._issues_from_reference(reference.iter_errors(document)), document)
    )
