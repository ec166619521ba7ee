"""Data tests for the reference-data catalogue (registry/catalogue/*.yaml).

No app needed: each YAML file is validated against schemas/catalogue/v1.json and checked for
referential integrity, provenance and status-history consistency.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "registry" / "catalogue"
SCHEMA_PATH = ROOT / "schemas" / "catalogue" / "v1.json"
FILES = ["markets.yaml", "test_items.yaml", "standards.yaml", "accreditation.yaml", "labs.yaml"]
STATUSES = {"valid", "suspended", "withdrawn", "cancelled", "expired", "superseded"}

REQUIRED_TEST_ITEMS = """
insulation_resistance dielectric_withstand protective_earth_continuity touch_current leakage_protection
temperature_rise thermal_management liquid_cooling temperature_monitoring ip_code ik_impact emc_emission
emc_immunity harmonics_flicker short_circuit emergency_stop contactor_welding_detection insulation_monitoring
control_pilot_sequence output_accuracy output_ripple efficiency power_factor standby_power
communication_conformance_gbt27930 communication_conformance_iso15118 communication_conformance_din70121
communication_conformance_chademo interoperability_gbt interoperability_ccs interoperability_chademo
climatic_cold climatic_dry_heat climatic_damp_heat temperature_cycling salt_mist connector_mechanical_strength
connector_locking connector_drive_over connector_short_circuit_withstand connector_dimensions
connector_cable_connection metering cybersecurity_radio
""".split()

REQUIRED_UNITS = "V kV mV A mA µA W kW Ω kΩ MΩ °C K % Hz s ms J dB dBµV dBµV/m dBµA V/m mm N Nm kg m h min Ω/V pF µF".split()

REQUIRED_STANDARDS = [
    "GB/T 18487.1-2015", "GB/T 18487.1-2023", "GB/T 18487.2-2017", "GB/T 18487.5-2024",
    "GB/T 20234.1-2015", "GB/T 20234.1-2023", "GB/T 20234.2-2015", "GB/T 20234.3-2015",
    "GB/T 20234.3-2023", "GB/T 20234.4-2023", "GB/T 27930-2015", "GB/T 27930-2023", "GB/T 27930.2-2024",
    "GB/T 34657.1-2017", "GB/T 34657.1-2025", "GB/T 34658-2017", "GB/T 34658-2025", "NB/T 33001-2018",
    "NB/T 33008.1-2018", "NB/T 33008.2-2018", "GB 44263-2024", "GB 39752-2024", "GB/T 39752-2021",
    "GB/T 2423.1", "GB/T 2423.2", "GB/T 2423.4", "GB/T 2423.17", "GB/T 2423.55",
    "IEC 61851-1:2010", "IEC 61851-1:2017", "EN 61851-1:2011", "EN IEC 61851-1:2019",
    "IEC 61851-21-2:2018", "EN IEC 61851-21-2:2021", "IEC 61851-23:2014", "IEC 61851-23:2023",
    "EN 61851-23:2014", "IEC 61851-24:2014", "IEC 61851-24:2023", "EN 61851-24:2014", "EN IEC 61851-24:2024",
    "IEC 62196-1:2014", "IEC 62196-1:2022", "IEC 62196-2:2016", "IEC 62196-2:2022", "IEC 62196-3:2014",
    "IEC 62196-3:2022", "EN 62196-3:2014", "EN IEC 62196-3:2023", "ISO 15118-2:2014", "ISO 15118-20:2022",
    "ISO 15118-4:2018", "ISO 15118-5:2018", "DIN SPEC 70121:2014-12", "IEC 60529", "IEC 62262",
    "IEC 61557-8", "IEC 60068-2-1", "IEC 60068-2-2", "IEC 60068-2-3", "EN 18031-1:2024", "TR 25:2016",
    "TR 25:2022", "TR 25:2022+A1:2025", "TCVN 13078-1:2020", "TCVN 13078-21-2:2020", "TCVN 13078-23:2020",
    "TCVN 13078-24:2020", "SNI IEC 62196-3:2014", "TIS 2749 Part 2-2559",
]

# (standard id, clause or None) -> test items that clause must map (at least)
_SAFETY_2014 = ["insulation_resistance", "dielectric_withstand", "protective_earth_continuity", "short_circuit",
                "emergency_stop", "insulation_monitoring", "output_accuracy", "output_ripple"]
_COUPLER = ["connector_mechanical_strength", "connector_locking", "connector_dimensions", "temperature_rise",
            "connector_short_circuit_withstand"]
_TR25 = ["insulation_resistance", "dielectric_withstand", "protective_earth_continuity", "temperature_rise",
         "ip_code", "emc_emission", "emc_immunity", "control_pilot_sequence", "connector_dimensions"]
REQUIRED_CLAUSES = {
    ("GB/T 20234.1-2023", "7.3"): ["temperature_cycling"],
    ("GB/T 20234.1-2023", "7.4"): ["climatic_damp_heat"],
    ("GB/T 20234.1-2023", "7.5"): ["protective_earth_continuity"],
    ("GB/T 20234.1-2023", "7.6"): ["insulation_resistance", "dielectric_withstand"],
    ("GB/T 20234.1-2023", "7.7"): ["connector_cable_connection"],
    ("GB/T 20234.1-2023", "7.8"): ["thermal_management"],
    ("GB/T 20234.1-2023", "7.9"): ["liquid_cooling"],
    ("GB/T 20234.1-2023", "7.10"): ["temperature_monitoring"],
    ("GB/T 20234.1-2023", "7.11"): ["connector_mechanical_strength"],
    ("GB/T 20234.1-2023", "7.12"): ["connector_short_circuit_withstand"],
    ("GB/T 20234.1-2023", "7.13"): ["connector_drive_over"],
    ("GB/T 20234.1-2023", "7.14"): ["connector_dimensions"],
    ("GB/T 20234.1-2023", "7.15"): ["connector_locking"],
    ("NB/T 33008.2-2018", "5.3.3"): ["connector_locking"],
    ("NB/T 33008.2-2018", "5.3.6"): ["metering"],
    ("NB/T 33008.2-2018", "5.4.1"): ["short_circuit"],
    ("NB/T 33008.2-2018", "5.4.4"): ["contactor_welding_detection"],
    ("NB/T 33008.2-2018", "5.4.5"): ["touch_current"],
    ("NB/T 33008.2-2018", "5.4.6"): ["leakage_protection"],
    ("NB/T 33008.2-2018", "5.14.1"): ["control_pilot_sequence"],
    ("NB/T 33008.1-2018", "5"): ["insulation_resistance", "dielectric_withstand", "output_accuracy", "output_ripple",
                                "efficiency", "power_factor", "standby_power", "ip_code", "ik_impact",
                                "climatic_cold", "climatic_dry_heat", "climatic_damp_heat", "salt_mist",
                                "harmonics_flicker", "emc_emission"],
    ("GB/T 18487.1-2023", "Appendix B"): ["control_pilot_sequence", "insulation_monitoring"],
    ("GB/T 18487.1-2023", None): ["emergency_stop", "short_circuit"],
    ("GB 44263-2024", "Appendix A"): ["control_pilot_sequence", "insulation_monitoring"],
    ("GB 44263-2024", "8"): ["insulation_resistance", "dielectric_withstand", "protective_earth_continuity",
                            "short_circuit", "emergency_stop"],
    ("GB 39752-2024", "7"): ["ip_code", "insulation_resistance", "dielectric_withstand",
                            "protective_earth_continuity", "temperature_rise"],
    ("GB/T 20234.4-2023", "7"): ["thermal_management"],
    ("GB/T 20234.4-2023", "9"): ["connector_mechanical_strength", "connector_locking"],
    ("GB/T 34657.1-2017", None): ["interoperability_gbt"],
    ("GB/T 34657.1-2025", None): ["interoperability_gbt"],
    ("GB/T 34658-2017", None): ["communication_conformance_gbt27930"],
    ("GB/T 34658-2025", None): ["communication_conformance_gbt27930"],
    ("GB/T 18487.2-2017", None): ["emc_emission", "emc_immunity"],
    ("IEC 61851-23:2023", "101.2"): ["thermal_management", "temperature_rise"],
    ("IEC 61851-23:2023", "Annex HH"): ["touch_current"],
    ("IEC 61851-23:2023", "Annex CC"): ["control_pilot_sequence"],
    ("IEC 61851-23:2023", None): _SAFETY_2014,
    ("IEC 61851-23:2014", None): _SAFETY_2014 + ["temperature_rise", "control_pilot_sequence"],
    ("IEC 61851-21-2:2018", None): ["emc_emission", "emc_immunity", "harmonics_flicker"],
    ("EN IEC 61851-21-2:2021", None): ["emc_emission", "emc_immunity", "harmonics_flicker"],
    ("IEC 62196-3:2022", None): _COUPLER,
    ("EN IEC 62196-3:2023", None): _COUPLER,
    ("IEC 62196-3:2014", None): _COUPLER,
    ("IEC 62196-1:2022", "34"): [],
    ("IEC 62196-1:2022", "35"): [],
    ("IEC 62196-1:2022", "36"): [],
    ("IEC 62196-1:2022", "37"): [],
    ("ISO 15118-4:2018", None): ["communication_conformance_iso15118"],
    ("ISO 15118-5:2018", None): ["communication_conformance_iso15118"],
    ("DIN SPEC 70121:2014-12", None): ["communication_conformance_din70121"],
    ("IEC 60529", None): ["ip_code"],
    ("IEC 62262", None): ["ik_impact"],
    ("IEC 61557-8", None): ["insulation_monitoring"],
    ("IEC 60068-2-1", None): ["climatic_cold"],
    ("IEC 60068-2-2", None): ["climatic_dry_heat"],
    ("IEC 60068-2-3", None): ["climatic_damp_heat"],
    ("GB/T 2423.1", None): ["climatic_cold"],
    ("GB/T 2423.2", None): ["climatic_dry_heat"],
    ("GB/T 2423.4", None): ["climatic_damp_heat"],
    ("GB/T 2423.17", None): ["salt_mist"],
    ("GB/T 2423.55", None): ["ik_impact"],
    ("EN 18031-1:2024", None): ["cybersecurity_radio"],
    ("TR 25:2016", None): _TR25,
    ("TR 25:2022", None): _TR25,
    ("TR 25:2022+A1:2025", None): _TR25,
    ("TCVN 13078-23:2020", None): _SAFETY_2014 + ["temperature_rise", "control_pilot_sequence"],
}

REQUIRED_ADOPTIONS = {
    # adopter: (of, degree, verified)
    "EN IEC 61851-21-2:2021": ("IEC 61851-21-2:2018", "IDT", True),
    "EN IEC 61851-1:2019": ("IEC 61851-1:2017", "IDT", False),
    "EN IEC 62196-3:2023": ("IEC 62196-3:2022", "IDT", False),
    "EN 61851-23:2014": ("IEC 61851-23:2014", "IDT", False),
    "EN IEC 61851-24:2024": ("IEC 61851-24:2023", "IDT", False),
    "EN 62196-3:2014": ("IEC 62196-3:2014", "IDT", False),
    "GB/T 18487.1-2015": (None, "unknown", False),
    "GB/T 18487.1-2023": (None, "unknown", False),
    "GB/T 18487.2-2017": ("IEC 61851-21-2:2018", "unknown", False),
    "TCVN 13078-1:2020": ("IEC 61851-1:2017", "IDT", False),
    "TCVN 13078-21-2:2020": ("IEC 61851-21-2:2018", "IDT", False),
    "SNI IEC 62196-3:2014": ("IEC 62196-3:2014", "IDT", False),
}


# ----------------------------------------------------------------------------- fixtures


def _load(name: str):
    with open(CATALOGUE / name, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@pytest.fixture(scope="module")
def schema():
    with open(SCHEMA_PATH, encoding="utf-8") as fh:
        return json.load(fh)


@pytest.fixture(scope="module")
def docs():
    return {name: _load(name) for name in FILES}


@pytest.fixture(scope="module")
def cat(docs):
    merged = {}
    for doc in docs.values():
        for key, value in doc.items():
            merged.setdefault(key, []).extend(value)
    return merged


@pytest.fixture(scope="module")
def standards(cat):
    return {s["id"]: s for s in cat["standards"]}


# ----------------------------------------------------------------------------- helpers


def _walk(node, path="$"):
    """Yield (path, dict) for every mapping in a document."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}[{i}]")


def _all_event_lists(cat):
    """Yield (label, events, is_standard) for every status history in the catalogue."""
    for s in cat["standards"]:
        yield f"standard {s['id']}", s["status_events"], True
    for sch in cat["schemes"]:
        yield f"scheme {sch['id']}", sch.get("status_events", []), False
        for sig in sch["signatories"]:
            yield f"scheme {sch['id']} signatory {sig['member']}", sig["status_events"], False
    for lab in cat["labs"]:
        for acc in lab["accreditations"]:
            yield f"lab {lab['id']} accreditation {acc['number']}", acc["status_events"], False
        for role in lab.get("scheme_roles", []):
            yield f"lab {lab['id']} role {role['scheme']}", role["status_events"], False


def _ids(items, key="id"):
    return [item[key] for item in items]


# ----------------------------------------------------------------------------- schema


def test_schema_is_valid_draft_2020_12(schema):
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == "urn:ev-charging-registry:schemas:catalogue:v1"
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_every_schema_property_has_title_and_description(schema):
    missing = []
    for path, node in _walk(schema):
        props = node.get("properties")
        if isinstance(props, dict) and node.get("type") == "object":
            for name, sub in props.items():
                if not (sub.get("title") and sub.get("description")):
                    missing.append(f"{path}.properties.{name}")
            assert node.get("additionalProperties") is False, f"{path} allows additional properties"
    assert not missing, missing


@pytest.mark.parametrize("name", FILES)
def test_yaml_file_validates_against_schema(schema, name):
    doc = _load(name)
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:20])


@pytest.mark.parametrize("name", FILES)
def test_yaml_is_plain_json_data(name):
    """Dates must be quoted: PyYAML would turn unquoted ones into date objects."""
    doc = _load(name)

    def check(node, path):
        assert not isinstance(node, (dt.date, dt.datetime)), f"{name} {path}: unquoted date {node!r}"
        if isinstance(node, dict):
            for key, value in node.items():
                assert isinstance(key, str), f"{name} {path}: non-string key {key!r} (YAML 1.1 boolean?)"
                check(value, f"{path}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                check(value, f"{path}[{i}]")

    check(doc, "$")
    json.dumps(doc)


def test_format_checking_is_active(schema):
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    bad = {"labs": [{"id": "lab-xx-bad", "demo": True, "name": {"en": "x"}, "country": "CN",
                     "accreditations": [{"body": "CNAS", "number": "1", "standard": "ISO/IEC 17025",
                                         "valid_from": "2022-13-45", "valid_until": "2023-01-01",
                                         "scope": ["IEC 60529"], "status_events": []}],
                     "source": "test"}]}
    assert any(e.validator == "format" for e in validator.iter_errors(bad))


# ----------------------------------------------------------------------------- uniqueness


def test_ids_unique(cat):
    for key, field in [("markets", "code"), ("test_items", "id"), ("units", "symbol"), ("standards", "id"),
                       ("accreditation_bodies", "id"), ("schemes", "id"), ("labs", "id")]:
        values = _ids(cat[key], field)
        dupes = {v for v in values if values.count(v) > 1}
        assert not dupes, f"duplicate {key}: {dupes}"
    bodies_and_schemes = _ids(cat["accreditation_bodies"]) + _ids(cat["schemes"])
    assert len(bodies_and_schemes) == len(set(bodies_and_schemes)), "body and scheme ids overlap"


def test_clause_strings_unique_within_standard(cat):
    for s in cat["standards"]:
        known = [c["clause"] for c in s["clauses"] if c["clause"] is not None]
        assert len(known) == len(set(known)), f"{s['id']}: duplicate clauses"


def test_unit_ascii_aliases_unique(cat):
    spellings = [u["symbol"] for u in cat["units"]] + [u["ascii"] for u in cat["units"] if "ascii" in u]
    assert len(spellings) == len(set(spellings))


# ----------------------------------------------------------------------------- required content


def test_required_test_items_and_units_present(cat):
    items = {t["id"]: t for t in cat["test_items"]}
    assert set(REQUIRED_TEST_ITEMS) <= set(items), set(REQUIRED_TEST_ITEMS) - set(items)
    units = set(_ids(cat["units"], "symbol"))
    assert set(REQUIRED_UNITS) <= units, set(REQUIRED_UNITS) - units


def test_interface_bound_flags(cat):
    for t in cat["test_items"]:
        expected = t["id"].startswith(("communication_", "interoperability_", "connector_")) or \
            t["id"] == "control_pilot_sequence"
        assert t["interface_bound"] is expected, t["id"]


def test_required_standards_present(standards):
    missing = [sid for sid in REQUIRED_STANDARDS if sid not in standards]
    assert not missing, missing


def test_required_clause_mappings(standards):
    for (sid, clause), items in REQUIRED_CLAUSES.items():
        entries = [c for c in standards[sid]["clauses"] if c["clause"] == clause]
        assert entries, f"{sid}: clause {clause!r} missing"
        mapped = set().union(*(set(c["test_items"]) for c in entries))
        assert set(items) <= mapped, f"{sid} {clause!r}: missing {set(items) - mapped}"
        if not items:
            assert all(c["test_items"] == [] for c in entries)


def test_required_adoptions(standards):
    for sid, (of, degree, verified) in REQUIRED_ADOPTIONS.items():
        adoption = standards[sid].get("adoption")
        assert adoption, f"{sid}: adoption missing"
        if of is not None:
            assert adoption["of"] == of, sid
        assert adoption["degree"] == degree, sid
        assert adoption["verified"] is verified, sid
    assert standards["GB/T 18487.1-2015"]["adoption"]["of"].startswith("IEC 61851-1:")
    assert standards["GB/T 18487.1-2023"]["adoption"]["of"].startswith("IEC 61851-1:")
    for sid in ["TCVN 13078-23:2020", "TCVN 13078-24:2020"]:
        assert standards[sid]["adoption"]["of"].startswith(sid.replace("TCVN 13078", "IEC 61851").split(":")[0] + ":")


def test_mandatory_flags(cat):
    for s in cat["standards"]:
        sid = s["id"]
        if sid.startswith("GB/T ") or sid.startswith("NB/T "):
            assert s["mandatory"] is False, sid
        elif sid.startswith("GB "):
            assert s["mandatory"] is True, sid
        elif sid.startswith("TR 25"):
            assert s["mandatory"] is True, sid
        elif s["region"] in {"INT", "EU"}:
            assert s["mandatory"] is False, sid


def test_regions(cat):
    for s in cat["standards"]:
        sid = s["id"]
        if sid.startswith(("IEC ", "ISO ")):
            assert s["region"] == "INT", sid
        elif sid.startswith(("EN ", "DIN SPEC ")):
            assert s["region"] == "EU", sid
        elif sid.startswith(("GB", "NB/T")):
            assert s["region"] == "CN", sid


def test_standards_without_edition_have_no_edition_in_id(cat):
    for s in cat["standards"]:
        if s["edition"] is None:
            assert s["id"] == s["number"], s["id"]
            assert s["status_events"] == [], f"{s['id']}: no edition known, so no dated status"
        else:
            assert s["id"].startswith(s["number"]) and s["edition"] in s["id"], s["id"]


# ----------------------------------------------------------------------------- referential integrity


def test_clause_test_items_exist(cat):
    items = set(_ids(cat["test_items"]))
    for s in cat["standards"]:
        for c in s["clauses"]:
            unknown = set(c["test_items"]) - items
            assert not unknown, f"{s['id']} {c['clause']!r}: unknown test items {unknown}"


def test_test_item_units_exist(cat):
    units = set(_ids(cat["units"], "symbol"))
    for t in cat["test_items"]:
        unknown = set(t.get("units", [])) - units
        assert not unknown, f"{t['id']}: unknown units {unknown}"


def test_standard_links_resolve(standards):
    for sid, s in standards.items():
        if "adoption" in s:
            assert s["adoption"]["of"] in standards, f"{sid}: adoption of unknown {s['adoption']['of']}"
            assert s["adoption"]["of"] != sid
        if "amendment_of" in s:
            assert s["amendment_of"] in standards, sid
        for ev in s["status_events"]:
            if "superseded_by" in ev:
                assert ev["superseded_by"] in standards, f"{sid}: superseded_by unknown {ev['superseded_by']}"
                assert ev["superseded_by"] != sid


def test_superseded_event_dated_at_successor_start(standards):
    """A superseded event is dated at (or, with coarser precision, not after) the successor's first valid event."""
    for sid, s in standards.items():
        for ev in s["status_events"]:
            if ev["status"] != "superseded":
                continue
            successor = standards[ev["superseded_by"]]
            starts = [e["effective_on"] for e in successor["status_events"] if e["status"] == "valid"]
            if starts and ev["effective_on"] and ev.get("date_precision", "day") == "day" and "amendment_of" not in successor:
                assert ev["effective_on"] == min(starts), f"{sid}: superseded {ev['effective_on']} vs {min(starts)}"
            if "transition_ends_on" in ev:
                assert ev["transition_ends_on"] > ev["effective_on"], sid


def test_markets_consistent(cat):
    markets = {m["code"]: m for m in cat["markets"]}
    assert {"CN", "EU", "ASEAN", "SG", "MY", "TH", "ID", "VN", "PH", "BN", "KH", "LA", "MM"} <= set(markets)
    assert markets["EU"]["kind"] == "union"
    assert markets["ASEAN"]["kind"] == "bloc"
    assert markets["CN"]["kind"] == "country" and "bloc" not in markets["CN"]
    for code, m in markets.items():
        if m["kind"] in {"union", "bloc"}:
            for member in m["members"]:
                assert member in markets, f"{code}: unknown member {member}"
                assert markets[member].get("bloc") == code, f"{member}: bloc is not {code}"
        if "bloc" in m:
            bloc = markets[m["bloc"]]
            assert bloc["kind"] in {"union", "bloc"}, code
            assert code in bloc["members"], f"{code} not listed in {m['bloc']} members"
    for code in ["BN", "KH", "LA", "MM"]:
        assert markets[code]["researched"] is False
    assert markets["PH"]["grid"]["frequency_hz"] == 60
    assert (markets["CN"]["grid"]["voltage_v"], markets["CN"]["grid"]["voltage_three_phase_v"],
            markets["CN"]["grid"]["frequency_hz"]) == (220, 380, 50)


def test_market_and_body_references(cat):
    markets = {m["code"] for m in cat["markets"]}
    schemes = set(_ids(cat["schemes"]))
    bodies = set(_ids(cat["accreditation_bodies"]))
    for m in cat["markets"]:
        assert set(m.get("schemes", [])) <= schemes, m["code"]
    for b in cat["accreditation_bodies"]:
        assert b["country"] in markets, b["id"]
        if "predecessor" in b:
            assert b["predecessor"] in bodies, b["id"]
    for s in cat["standards"]:
        assert s["region"] == "INT" or s["region"] in markets, s["id"]


def test_scheme_references(cat, standards):
    schemes = set(_ids(cat["schemes"]))
    bodies = set(_ids(cat["accreditation_bodies"]))
    labs = set(_ids(cat["labs"]))
    markets = {m["code"] for m in cat["markets"]}
    known = {"accreditation_body": bodies, "lab": labs, "market": markets}
    for sch in cat["schemes"]:
        for key in ("relies_on", "recognised_by"):
            assert set(sch.get(key, [])) <= schemes, f"{sch['id']}.{key}"
        assert set(sch.get("standards", [])) <= set(standards), sch["id"]
        if "market" in sch:
            assert sch["market"] in markets, sch["id"]
        members = [sig["member"] for sig in sch["signatories"]]
        assert len(members) == len(set(members)), f"{sch['id']}: duplicate signatories"
        for sig in sch["signatories"]:
            assert sig["member"] in known[sig["member_kind"]], f"{sch['id']}: unknown {sig['member_kind']} {sig['member']}"
            assert sig["member"] in bodies | labs | markets
    by_id = {s["id"]: s for s in cat["schemes"]}
    assert set(by_id["SG_EVCA"]["relies_on"]) == {"APAC_MRA", "ILAC_MRA"}
    assert by_id["SG_EVCA"]["kind"] == "national_acceptance"
    assert by_id["CN_CCC"]["kind"] == "national_acceptance"
    assert by_id["IECEE_CB"]["kind"] == "product_certification"
    assert by_id["ASEAN_EE_MRA"]["kind"] == "regional_mra"
    for sid in ("ILAC_MRA", "IAF_MLA", "APAC_MRA", "EA_MLA"):
        assert by_id[sid]["kind"] == "accreditation"


def test_lab_references(cat, standards):
    bodies = set(_ids(cat["accreditation_bodies"]))
    schemes = set(_ids(cat["schemes"]))
    markets = {m["code"] for m in cat["markets"]}
    for lab in cat["labs"]:
        assert lab["country"] in markets, lab["id"]
        assert lab["id"].startswith(f"lab-{lab['country'].lower()}-"), lab["id"]
        for acc in lab["accreditations"]:
            assert acc["body"] in bodies, f"{lab['id']}: unknown body {acc['body']}"
            unknown = set(acc["scope"]) - set(standards)
            assert not unknown, f"{lab['id']}: unknown scope standards {unknown}"
            assert acc["valid_from"] <= acc["valid_until"], lab["id"]
            for ev in acc["status_events"]:
                assert acc["valid_from"] <= ev["effective_on"] <= acc["valid_until"], f"{lab['id']}: event outside window"
        for role in lab.get("scheme_roles", []):
            assert role["scheme"] in schemes, f"{lab['id']}: unknown scheme {role['scheme']}"
            if "standard" in role:
                assert role["standard"] in standards, lab["id"]


def test_demo_labs(cat):
    labs = cat["labs"]
    assert len(labs) == 8
    assert all(lab["demo"] is True for lab in labs)
    assert all("demo" in lab["source"] for lab in labs)
    countries = sorted(lab["country"] for lab in labs)
    assert countries == sorted(["CN", "CN", "DE", "DE", "FR", "SG", "MY", "TH"])
    body_of = {"CN": "CNAS", "DE": "DAKKS", "FR": "COFRAC", "SG": "SAC_SG", "MY": "STANDARDS_MALAYSIA", "TH": "TLAS"}
    for lab in labs:
        assert {a["body"] for a in lab["accreditations"]} == {body_of[lab["country"]]}, lab["id"]
        if lab["country"] == "CN":
            assert lab["name"].get("zh"), lab["id"]

    def statuses(lab):
        return [(e["status"], e["effective_on"]) for a in lab["accreditations"] for e in a["status_events"]]

    suspended = [lab for lab in labs if ("suspended", "2025-03-01") in statuses(lab)]
    assert len(suspended) == 1 and suspended[0]["country"] == "DE"
    assert ("valid", "2025-09-01") in statuses(suspended[0])
    expired = [lab for lab in labs if ("expired", "2025-12-31") in statuses(lab)]
    assert len(expired) == 1 and expired[0]["country"] == "TH"

    def roles(lab):
        return {(r["scheme"], r["role"]) for r in lab.get("scheme_roles", [])}

    cn_cbtl = [lab for lab in labs if lab["country"] == "CN" and ("IECEE_CB", "CBTL") in roles(lab)]
    assert len(cn_cbtl) == 1
    tic = [r for r in cn_cbtl[0]["scheme_roles"] if r["scheme"] == "SG_EVCA"]
    assert tic and tic[0]["parts"] == [1, 2, 3, 4]
    assert any(("IECEE_CB", "CBTL") in roles(lab) for lab in labs if lab["country"] == "DE")
    assert any(r["scheme"] == "ASEAN_EE_MRA" for lab in labs if lab["country"] == "SG" for r in lab["scheme_roles"])


# ----------------------------------------------------------------------------- provenance


def test_every_entry_has_a_source(docs):
    """Top-level entities, clauses, events, adoption links, grids and roles all carry a non-empty source."""
    needs_source = {"markets", "test_items", "units", "standards", "accreditation_bodies", "schemes", "labs",
                    "status_events", "clauses", "adoption", "grid", "national_differences", "milestones",
                    "scheme_roles"}
    missing = []
    for name, doc in docs.items():
        for path, node in _walk(doc):
            last = re.sub(r"\[\d+\]$", "", path).rsplit(".", 1)[-1]
            if last in needs_source:
                src = node.get("source")
                if not (isinstance(src, str) and src.strip()):
                    missing.append(f"{name} {path}")
    assert not missing, missing[:20]


def test_unknown_clauses_are_marked(cat):
    for s in cat["standards"]:
        for c in s["clauses"]:
            if c["clause"] is None:
                assert c["clause_known"] is False, s["id"]
                assert c.get("note", "").strip(), f"{s['id']}: clause null needs a note"
            else:
                assert c["clause_known"] is True, f"{s['id']} {c['clause']}"


def test_unknown_degree_is_unverified(cat):
    for s in cat["standards"]:
        if "adoption" in s and s["adoption"]["degree"] == "unknown":
            assert s["adoption"]["verified"] is False, s["id"]


def test_imprecise_dates_are_flagged(cat):
    """Imprecise dates are flagged: year = YYYY-01-01, month = YYYY-MM-01, unknown = null."""
    for label, events, is_standard in _all_event_lists(cat):
        for ev in events:
            precision = ev.get("date_precision", "day")
            if precision == "unknown":
                assert ev["effective_on"] is None, label
            else:
                assert ev["effective_on"] is not None, label
            if precision == "year":
                assert ev["effective_on"].endswith("-01-01"), label
            if precision == "month":
                assert ev["effective_on"].endswith("-01"), label


# ----------------------------------------------------------------------------- status histories


def test_status_vocabulary(cat):
    for label, events, _ in _all_event_lists(cat):
        for ev in events:
            assert ev["status"] in STATUSES, f"{label}: {ev['status']}"


def test_status_events_in_date_order(cat):
    for label, events, _ in _all_event_lists(cat):
        dates = [ev["effective_on"] or "" for ev in events]  # null (unknown) sorts first
        assert dates == sorted(dates), f"{label}: events out of order {dates}"


def test_superseded_events_name_successor(cat):
    for s in cat["standards"]:
        for ev in s["status_events"]:
            assert (ev["status"] == "superseded") == ("superseded_by" in ev), s["id"]
