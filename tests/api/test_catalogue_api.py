"""Public reference data and accreditation changes, through HTTP."""

from __future__ import annotations

import json
from datetime import date, timedelta
from urllib.parse import quote

from tests import factories
from tests.api.test_reports_api import assert_problem, post_report
from tests.factories import bearer, report_document


def test_standards_carry_editions_status_adoption_and_clauses(client):
    standards = client.get("/api/v1/standards").get_json()
    by_id = {s["id"]: s for s in standards}
    assert "IEC 61851-23:2023" in by_id and "GB/T 18487.1-2023" in by_id
    assert all(s["source"] for s in standards)
    en = by_id["EN IEC 61851-21-2:2021"]
    assert en["adoption"]["of"] == "IEC 61851-21-2:2018" and en["adoption"]["degree"] == "IDT"
    assert "EN IEC 61851-21-2:2021" in by_id["IEC 61851-21-2:2018"]["adopted_by"]
    one = client.get("/api/v1/standards/" + quote("GB/T 20234.1-2023", safe="")).get_json()
    assert {c["clause"] for c in one["clauses"]} >= {"7.6", "7.12"}
    assert any("insulation_resistance" in c["test_items"] for c in one["clauses"] if c["clause"] == "7.6")
    assert_problem(client.get("/api/v1/standards/" + quote("IEC 00000:1900", safe="")), 404)


def test_superseded_edition_reports_its_status_as_of_a_date(client):
    old = client.get("/api/v1/standards/" + quote("GB/T 18487.1-2015", safe="") + "?as_of=2020-01-01").get_json()
    assert old["status"] == "valid"
    later = client.get("/api/v1/standards/" + quote("GB/T 18487.1-2015", safe="") + "?as_of=2025-01-01").get_json()
    assert later["status"] == "superseded"


def test_standards_filter_by_region_and_test_item(client):
    cn = client.get("/api/v1/standards?region=CN").get_json()
    assert cn and all(s["region"] == "CN" for s in cn)
    ip = client.get("/api/v1/standards?test_item=ip_code").get_json()
    assert "IEC 60529" in {s["id"] for s in ip}


def test_test_items_and_markets(client):
    items = {t["id"]: t for t in client.get("/api/v1/test-items").get_json()}
    assert items["communication_conformance_gbt27930"]["interface_bound"] is True
    assert items["dielectric_withstand"]["interface_bound"] is False
    assert "GB/T 20234.1-2023" in items["dielectric_withstand"]["standards"]
    markets = {m["code"]: m for m in client.get("/api/v1/markets").get_json()}
    assert set(markets["ASEAN"]["members"]) >= {"SG", "MY", "TH", "ID", "VN", "PH"}
    assert markets["PH"]["grid"]["frequency_hz"] == 60
    assert markets["SG"]["bloc"] == "ASEAN"


def test_labs_show_accreditation_scope_and_history(client):
    labs = {lab["id"]: lab for lab in client.get("/api/v1/labs").get_json()}
    assert {"CN", "DE", "FR", "SG", "MY", "TH"} <= {lab["country"] for lab in labs.values()}
    lab = client.get("/api/v1/labs/lab-cn-sh-evtc").get_json()
    assert lab["accreditations"][0]["scope"] and lab["accreditations"][0]["events"]
    assert_problem(client.get("/api/v1/labs/lab-xx-none"), 404)


def _suspend(client, key, lab_id, accreditation_id, on, action="suspend", **extra):
    return client.post(f"/api/v1/labs/{lab_id}/accreditation-events", headers=bearer(key),
                       json={"accreditation_id": accreditation_id, "action": action, "effective_on": on.isoformat(),
                             "reason": "surveillance assessment found nonconformities", **extra})


def test_regulator_suspends_a_lab_and_its_submissions_stop(client, session, lab_key):
    regulator = factories.make_key(session, "reg-cnca", kind="regulator")
    lab = client.get("/api/v1/labs/lab-cn-sh-evtc").get_json()
    accreditation_ids = [a["id"] for a in lab["accreditations"] if a["status"] == "valid"]
    for accreditation_id in accreditation_ids:
        response = _suspend(client, regulator, "lab-cn-sh-evtc", accreditation_id, date.today())
        assert response.status_code == 201, response.get_data(as_text=True)
        assert response.get_json()["status"] == "suspended"
    after = client.get("/api/v1/labs/lab-cn-sh-evtc").get_json()
    assert after["active"] is False
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    assert client.get(f"/api/v1/labs/lab-cn-sh-evtc?as_of={yesterday}").get_json()["active"] is True
    assert_problem(post_report(client, lab_key, report_document("cn")), 422, "/lab")
    # restoring makes it active again
    for accreditation_id in accreditation_ids:
        assert _suspend(client, regulator, "lab-cn-sh-evtc", accreditation_id, date.today(), action="restore").status_code == 201
    assert post_report(client, lab_key, report_document("cn")).status_code == 201


def test_accreditation_events_are_guarded(client, session, lab_key):
    regulator = factories.make_key(session, "reg-cnca", kind="regulator")
    lab = client.get("/api/v1/labs/lab-cn-sh-evtc").get_json()
    accreditation_id = lab["accreditations"][0]["id"]
    assert_problem(_suspend(client, lab_key, "lab-cn-sh-evtc", accreditation_id, date.today()), 403)
    response = client.post("/api/v1/labs/lab-cn-sh-evtc/accreditation-events",
                           json={"accreditation_id": accreditation_id, "action": "suspend",
                                 "effective_on": date.today().isoformat(), "reason": "no key"})
    assert_problem(response, 401)
    assert_problem(_suspend(client, regulator, "lab-cn-sh-evtc", accreditation_id, date.today(), action="restore"), 409)
    assert_problem(_suspend(client, regulator, "lab-cn-sh-evtc", accreditation_id, date(2000, 1, 1)), 422, "/effective_on")
    assert_problem(_suspend(client, regulator, "lab-cn-sh-evtc", 999999, date.today()), 422, "/accreditation_id")
    assert_problem(_suspend(client, regulator, "lab-cn-sh-evtc", accreditation_id, date.today(), action="rescope",
                            scope=["IEC 61851-23:2023", "NOT A STANDARD"]), 422, "/scope/1")
    assert_problem(_suspend(client, regulator, "lab-cn-sh-evtc", accreditation_id, date.today(), action="fly"), 422, "/action")


def test_rescope_changes_what_results_count_as_accredited(client, session, lab_key):
    regulator = factories.make_key(session, "reg-cnca", kind="regulator")
    lab = client.get("/api/v1/labs/lab-cn-sh-evtc").get_json()
    for a in lab["accreditations"]:
        response = _suspend(client, regulator, "lab-cn-sh-evtc", a["id"], date(2025, 1, 1), action="rescope",
                            scope=["IEC 60529"])
        assert response.status_code == 201, response.get_data(as_text=True)
    document = report_document("cn")
    location = post_report(client, lab_key, document).headers["Location"]
    results = client.get(location).get_json()["results"]
    assert not any(r["accredited"] for r in results if r["standard"] != "IEC 60529")


def test_openapi_and_published_schemas_are_served(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.1")
    assert "/api/v1/reports" in spec["paths"] or "/reports" in json.dumps(spec["paths"])
    assert "TestReportV1" in spec["components"]["schemas"]
    schema = client.get("/schemas/test-report/v1.json")
    assert schema.status_code == 200 and schema.get_json()["$id"].endswith("test-report:v1")
    assert client.get("/schemas/test-report/v1.json", headers={"If-None-Match": schema.headers["ETag"]}).status_code == 304
    assert_problem(client.get("/schemas/nothing/v9.json"), 404)
    assert client.get("/api/v1/docs").status_code == 200
