"""A regulator's questions, answered through the real services on the seed rulebook and the database."""

from __future__ import annotations

import copy
from datetime import date

from registry.services import decisions, reports
from registry.services.permissions import ANONYMOUS
from tests.factories import TODAY, as_org, report_document, submit


def _requirements(session, product_id, market, as_of=None):
    view = decisions.recognition(session, ANONYMOUS, product_id, market, as_of)
    return view["decision"], {r["requirement_id"]: r for r in view["decision"]["requirements"]}


def _by_item(requirements, test_item):
    return [r for r in requirements.values() if r["test_item"] == test_item]


def _messages(requirement):
    return " ".join(reason["message"]["en"] for reason in requirement["reasons"])


def test_gbt_600kw_liquid_cooled_charger_from_a_cnas_lab_abroad(session):
    """What do the EU, Singapore and Thailand accept from a CNAS-accredited lab's GB/T type test, and what is owed?"""
    document = report_document("cn")
    assert document["product"]["ratings"]["max_power_kw"] == 600 and document["product"]["liquid_cooled_cable"]
    filed = submit(session, document)
    for market in ("EU", "SG", "TH"):
        decision, requirements = _requirements(session, filed.product_id, market)
        assert decision["verdict"] == "blocked"
        statuses = {r["status"] for r in requirements.values()}
        assert "conditional" in statuses, f"{market}: GB safety results should be accepted on conditions"
        for r in requirements.values():
            if r["test_item"].startswith(("communication_conformance", "interoperability", "connector_")):
                assert r["status"] in ("retest", "missing"), f"{market} {r['requirement_id']} must be tested again"
        owed = {i["test_item"] for i in decision["delta_test_plan"]["items"]}
        assert "communication_conformance_iso15118" in owed or market != "EU"
        assert decision["delta_test_plan"]["total_cost_min"] > 0
        assert decision["conditional_savings"]["tests_avoided"] > 0
    decision, _ = _requirements(session, filed.product_id, "CN")
    assert decision["savings"]["tests_avoided"] > 0, "at home, the CNAS lab's results are recognized in full"


def test_iec_cb_tested_ccs2_charger_under_ccc(session):
    """An IEC/EN 61851-23 type test by an accredited German lab: what does China owe under CCC?"""
    filed = submit(session, report_document("de"))
    decision, requirements = _requirements(session, filed.product_id, "CN")
    assert decision["verdict"] == "blocked"
    conditional = [r for r in requirements.values() if r["status"] == "conditional"]
    assert conditional and all(r["extra_steps"] for r in conditional)
    assert any("national" in step.lower() or "GB" in step for r in conditional for step in r["extra_steps"])
    for r in requirements.values():
        if r["test_item"] in ("communication_conformance_gbt27930", "interoperability_gbt"):
            assert r["status"] in ("retest", "missing")


def _emc_report_from_suspended_lab():
    document = report_document("de")
    document["lab"] = "lab-de-elbe-emv"
    document["results"] = [r for r in document["results"] if r["standard"] == "EN IEC 61851-21-2:2021"]
    assert document["results"]
    document["test_period"] = {"start": "2025-04-01", "end": "2025-04-30"}
    for r in document["results"]:
        r["performed_on"] = "2025-04-15"
    for s in document["signatories"]:
        s["signed_on"] = "2025-09-20"
    document["issued_on"] = "2025-09-20"
    return document


def test_lab_suspended_before_the_test_date(session):
    """The lab's accreditation was suspended from 2025-03-01 to 2025-09-01; it tested in April 2025."""
    document = _emc_report_from_suspended_lab()
    filed = submit(session, document)  # accepted: the lab is accredited again on the day it files
    _decision, requirements = _requirements(session, filed.product_id, "EU")
    emc = _by_item(requirements, "emc_emission")
    assert emc and all(r["status"] == "retest" for r in emc)
    assert "accredit" in _messages(emc[0]).lower()


def test_same_emc_tests_after_the_suspension_are_recognized(session):
    document = _emc_report_from_suspended_lab()
    document["test_period"] = {"start": "2025-09-02", "end": "2025-09-15"}
    for r in document["results"]:
        r["performed_on"] = "2025-09-10"
    filed = submit(session, document)
    _decision, requirements = _requirements(session, filed.product_id, "EU")
    assert all(r["status"] == "recognized" for r in _by_item(requirements, "emc_emission"))


def test_superseded_edition_after_its_transition(session):
    """GB/T 34658-2017 conformance results: accepted while current, not once the 2025 edition took over."""
    filed = submit(session, report_document("cn"))
    _d, before = _requirements(session, filed.product_id, "CN", as_of=date(2026, 1, 15))
    _d, after = _requirements(session, filed.product_id, "CN", as_of=date(2026, 11, 1))
    conformance_before = _by_item(before, "communication_conformance_gbt27930")
    conformance_after = _by_item(after, "communication_conformance_gbt27930")
    assert conformance_before and conformance_before[0]["status"] == "recognized"
    assert conformance_after[0]["status"] == "retest"
    assert "supersed" in _messages(conformance_after[0]).lower() or "transition" in _messages(conformance_after[0]).lower()


def test_withdrawn_report_is_no_longer_evidence(session):
    document = report_document("de")
    filed = submit(session, document)
    decision, _ = _requirements(session, filed.product_id, "EU")
    assert decision["savings"]["tests_avoided"] > 0
    reports.withdraw_report(session, as_org(session, document["lab"]), filed.id, "sample mismatch", today=TODAY)
    decision, requirements = _requirements(session, filed.product_id, "EU")
    assert decision["savings"]["tests_avoided"] == 0
    assert not any(r["status"] in ("recognized", "conditional") for r in requirements.values())


def test_ambient_that_does_not_cover_a_tropical_market(session):
    """Temperature rise measured at 20-25 °C does not show behaviour at Singapore's +40 °C."""
    hot = report_document("de")
    cool = report_document("de")
    cool["product"] = dict(copy.deepcopy(cool["product"]), model=cool["product"]["model"] + "-COOL")
    for r in cool["results"]:
        if r["test_item"] == "temperature_rise":
            r["conditions"] = dict(r.get("conditions") or {}, ambient_temperature_c={"min": 20, "max": 25})
    hot_filed, cool_filed = submit(session, hot), submit(session, cool)
    rank = {"recognized": 0, "conditional": 1, "retest": 2, "missing": 3}
    for market in ("SG", "TH"):
        _d, hot_req = _requirements(session, hot_filed.product_id, market)
        _d, cool_req = _requirements(session, cool_filed.product_id, market)
        hot_rise = _by_item(hot_req, "temperature_rise")[0]
        cool_rise = _by_item(cool_req, "temperature_rise")[0]
        assert cool_rise["status"] in ("conditional", "retest")
        assert rank[cool_rise["status"]] >= rank[hot_rise["status"]]
        assert "does not reach 40" in _messages(cool_rise) or "ambient" in " ".join(cool_rise["extra_steps"]).lower()
    # Thailand takes the ASEAN base rules: the IEC result at +40 °C is recognized in full, the cool one is not
    _d, hot_th = _requirements(session, hot_filed.product_id, "TH")
    _d, cool_th = _requirements(session, cool_filed.product_id, "TH")
    assert _by_item(hot_th, "temperature_rise")[0]["status"] == "recognized"
    assert _by_item(cool_th, "temperature_rise")[0]["status"] != "recognized"
