"""Products, recognition decisions, delta test plans, pre-checks, the matrix and rulebook versions through HTTP."""

from __future__ import annotations

import copy
from datetime import date

from sqlalchemy import func, select

from registry.models import Decision, Report
from tests import factories
from tests.api.test_reports_api import assert_problem, post_report
from tests.factories import bearer, report_document


def _filed(client, session, base="cn"):
    document = report_document(base)
    key = factories.make_key(session, document["lab"])
    response = post_report(client, key, document)
    assert response.status_code == 201, response.get_data(as_text=True)
    return document, response.get_json()["product"]["id"]


def test_a_submission_materializes_decisions_for_every_market(client, session):
    _document, product_id = _filed(client, session)
    stored = session.execute(select(Decision.market, Decision.verdict, Decision.rulebook_version)
                             .where(Decision.product_id == product_id)).all()
    assert {m for m, _v, _r in stored} == {"CN", "EU", "ID", "MY", "PH", "SG", "TH", "VN"}
    assert {r for _m, _v, r in stored} == {1}
    view = client.get(f"/api/v1/products/{product_id}/recognition").get_json()
    assert view["computed"] == "stored"
    assert {m["market"] for m in view["markets"]} == {m for m, _v, _r in stored}


def test_per_requirement_detail_explains_itself(client, session):
    _document, product_id = _filed(client, session)
    detail = client.get(f"/api/v1/products/{product_id}/recognition?market=EU").get_json()["decision"]
    assert detail["market"] == "EU" and detail["verdict"] == "blocked"
    by_id = {r["requirement_id"]: r for r in detail["requirements"]}
    # A GB/T coupler result is a different test from a CCS2 one: it is never accepted for the EU's connector requirement
    conn = by_id["EU-IF-CONN-LOCK"]
    assert conn["status"] == "retest" and conn["rule_id"] == "EU-X-030" and conn["evidence"]
    # Insulation measured by an accredited Chinese lab: accepted on conditions, citing its report and rule
    ins = by_id["EU-SAF-INS"]
    assert ins["status"] == "conditional" and ins["extra_steps"] and ins["evidence"][0]["report_number"]
    for requirement in detail["requirements"]:
        assert requirement["reasons"], requirement
        if requirement["status"] != "missing":
            assert requirement["rule_id"] and requirement["evidence"]


def test_history_is_answerable_with_as_of(client, session):
    _document, product_id = _filed(client, session)
    before = client.get(f"/api/v1/products/{product_id}/recognition?as_of=2020-01-01").get_json()
    assert before["computed"] == "live" and before["as_of"] == "2020-01-01"
    # in 2020 the report did not exist yet: nothing is recognized anywhere
    assert all(m["recognized"] == 0 and m["conditional"] == 0 for m in before["markets"])


def test_recognition_errors(client, session):
    _document, product_id = _filed(client, session)
    assert_problem(client.get(f"/api/v1/products/{product_id}/recognition?market=XX"), 422, "/market")
    assert_problem(client.get("/api/v1/products/999999/recognition"), 404)
    assert_problem(client.get(f"/api/v1/products/{product_id}/delta-test-plan"), 422)


def test_delta_test_plan_prices_what_is_owed_and_names_labs(client, session):
    _document, product_id = _filed(client, session)
    plan = client.get(f"/api/v1/products/{product_id}/delta-test-plan?market=EU").get_json()
    items = plan["plan"]["items"]
    assert items and plan["plan"]["currency"] == "EUR"
    assert plan["plan"]["total_cost_min"] == sum(i["cost_min"] for i in items)
    assert plan["plan"]["lead_time_days"] >= max(i["lead_time_days"] for i in items) > 0
    comm = next(i for i in items if i["test_item"] == "communication_conformance_iso15118")
    assert comm["standards"] and comm["labs"], "an accredited lab in the registry can run the ISO 15118 tests"
    assert set(plan["savings"]) == {"tests_avoided", "cost_min", "cost_max", "days_avoided"}


def test_products_list_by_certificate_manufacturer_and_model(client, session):
    document, product_id = _filed(client, session)
    certificate = document["product"]["certificates"][0]["number"]
    found = client.get(f"/api/v1/products?certificate={certificate}").get_json()["items"]
    assert [p["id"] for p in found] == [product_id]
    assert {a["market"] for a in found[0]["market_access"]} >= {"CN", "EU", "SG"}
    by_maker = client.get("/api/v1/products?manufacturer=voltaris").get_json()["items"]
    assert product_id in [p["id"] for p in by_maker]
    assert client.get("/api/v1/products?model=no-such-model").get_json()["items"] == []


def test_withdrawal_recomputes_in_the_same_transaction(client, session):
    document, product_id = _filed(client, session)
    before = client.get(f"/api/v1/products/{product_id}/recognition?market=CN").get_json()["decision"]
    assert any(r["status"] == "recognized" for r in before["requirements"])
    report_id = session.scalar(select(Report.id).where(Report.report_number == document["report_number"]))
    key = factories.make_key(session, document["lab"])
    assert client.post(f"/api/v1/reports/{report_id}/withdrawal", json={"reason": "sample mismatch"},
                       headers=bearer(key)).status_code == 201
    after = client.get(f"/api/v1/products/{product_id}/recognition?market=CN").get_json()
    assert after["computed"] == "stored"
    assert not any(r["status"] in ("recognized", "conditional") for r in after["decision"]["requirements"])


def test_precheck_decides_without_storing(client, session):
    document = report_document("de")
    key = factories.make_key(session, document["lab"])
    before = session.scalar(select(func.count()).select_from(Report))
    response = client.post("/api/v1/recognition/evaluate", json={"document": document, "markets": ["EU", "CN"]},
                           headers=bearer(key))
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert [m["market"] for m in body["markets"]] == ["CN", "EU"] and body["stored"] is False
    assert session.scalar(select(func.count()).select_from(Report)) == before
    assert_problem(client.post("/api/v1/recognition/evaluate", json={"document": document}), 401)
    broken = copy.deepcopy(document)
    broken["results"][0]["verdict"] = "perhaps"
    assert_problem(client.post("/api/v1/recognition/evaluate", json={"document": broken}, headers=bearer(key)), 422,
                   "/document/results/0/verdict")
    assert_problem(client.post("/api/v1/recognition/evaluate", json={"document": document, "markets": ["XX"]},
                               headers=bearer(key)), 422, "/markets/0")


def test_matrix_from_the_rulebook_and_from_the_registry(client, session):
    _filed(client, session, "cn")
    _filed(client, session, "de")
    matrix = client.get("/api/v1/recognition/matrix").get_json()
    assert set(matrix["markets"]) == {"CN", "EU", "ID", "MY", "PH", "SG", "TH", "VN"}
    cn_to_eu = matrix["rulebook"]["CN"]["EU"]
    eu_to_eu = matrix["rulebook"]["EU"]["EU"]
    assert 0 <= cn_to_eu["recognized_or_conditional"] < eu_to_eu["recognized_or_conditional"] <= 1
    assert matrix["registry"]["CN"]["EU"]["products"] >= 1


# ---------------------------------------------------------------------------------------------------- rulebook


def _draft_adding_damp_heat_recognition(client):
    document = client.get("/api/v1/rulebook").get_json()["document"]
    document = copy.deepcopy(document)
    document["markets"]["EU"]["rules"].append({
        "id": "EU-A-900", "version": 1, "kind": "acceptance", "valid_from": "2023-12-01", "outcome": "conditional",
        "applies_to": {"test_items": ["climatic_damp_heat"]},
        "description": {"en": "Test draft: accept GB/T 20234.1-2023 damp heat results on a document review."},
        "source": "test draft for the impact review", "verified": False,
        "when": {"all": [{"op": "standard_in", "ids": ["GB/T 20234.1-2023"]}, {"op": "lab_accredited"}]},
        "extra_steps": ["Document review of the damp heat test severity"],
    })
    return document


def test_regulator_uploads_reviews_and_publishes_a_draft(client, session):
    _document, product_id = _filed(client, session, "cn")
    regulator = factories.make_key(session, "reg-eu-msa", kind="regulator")
    lab = factories.make_key(session, "lab-cn-sh-evtc")
    before = {r["requirement_id"]: r for r in client.get(
        f"/api/v1/products/{product_id}/recognition?market=EU").get_json()["decision"]["requirements"]}
    assert before["EU-ENV-DAMP"]["status"] == "retest"

    draft = _draft_adding_damp_heat_recognition(client)
    assert_problem(client.post("/api/v1/rulebook/versions", json={"document": draft}, headers=bearer(lab)), 403)
    response = client.post("/api/v1/rulebook/versions", json={"title": "Damp heat", "document": draft},
                           headers=bearer(regulator))
    assert response.status_code == 201, response.get_data(as_text=True)
    version = response.get_json()["version"]
    assert response.get_json()["status"] == "draft" and version == 2

    impact = client.post(f"/api/v1/rulebook/versions/{version}/impact", headers=bearer(regulator)).get_json()
    assert impact["published_version"] == 1 and impact["draft_version"] == 2
    assert impact["markets"]["EU"]["tests_saved"] >= 1 and impact["markets"]["EU"]["cost_saved_min"] > 0
    assert impact["markets"]["CN"]["tests_saved"] == 0
    # the what-if changed nothing stored
    assert client.get(f"/api/v1/products/{product_id}/recognition").get_json()["rulebook_version"] == 1

    published = client.post(f"/api/v1/rulebook/versions/{version}/publish", headers=bearer(regulator))
    assert published.status_code == 200, published.get_data(as_text=True)
    after = client.get(f"/api/v1/products/{product_id}/recognition?market=EU").get_json()
    assert after["rulebook_version"] == 2 and after["computed"] == "stored"
    damp = {r["requirement_id"]: r for r in after["decision"]["requirements"]}["EU-ENV-DAMP"]
    assert damp["status"] == "conditional" and damp["rule_id"] == "EU-A-900"
    assert client.get("/api/v1/rulebook").get_json()["version"] == 2
    assert_problem(client.post(f"/api/v1/rulebook/versions/{version}/publish", headers=bearer(regulator)), 409)


def test_invalid_drafts_are_refused_with_pointers(client, session):
    regulator = factories.make_key(session, "reg-eu-msa", kind="regulator")
    document = copy.deepcopy(client.get("/api/v1/rulebook").get_json()["document"])
    document["markets"]["EU"]["requirements"][0]["test_item"] = "no_such_test"
    assert_problem(client.post("/api/v1/rulebook/versions", json={"document": document}, headers=bearer(regulator)),
                   422, "/document/markets/EU/requirements/0/test_item")
    document = copy.deepcopy(client.get("/api/v1/rulebook").get_json()["document"])
    document["markets"]["EU"]["rules"][0]["when"] = {"op": "eval", "code": "1"}
    body = assert_problem(client.post("/api/v1/rulebook/versions", json={"document": document},
                                      headers=bearer(regulator)), 422)
    assert all(e["pointer"].startswith("/document/markets/EU/rules/0/when") for e in body["errors"])
    assert_problem(client.post("/api/v1/rulebook/versions", json={"title": "x"}, headers=bearer(regulator)), 422,
                   "/document")


def test_rulebook_versions_are_listed_and_the_published_one_is_immutable(client, session):
    from sqlalchemy import text

    versions = client.get("/api/v1/rulebook/versions").get_json()["versions"]
    assert versions[0]["version"] == 1 and versions[0]["status"] == "published"
    assert client.get("/api/v1/rulebook/versions/1").get_json()["document"]["markets"]
    assert_problem(client.get("/api/v1/rulebook/versions/99"), 404)
    import pytest

    with pytest.raises(Exception, match="immutable"):
        with session.begin_nested():
            session.execute(text("UPDATE rulebook_versions SET title = 'changed' WHERE version = 1"))


def test_today_is_the_default_as_of(client, session):
    _document, product_id = _filed(client, session)
    view = client.get(f"/api/v1/products/{product_id}/recognition").get_json()
    assert view["as_of"] == date.today().isoformat()


def test_what_if_reads_the_published_side_from_stored_decisions_when_they_are_todays(client, session):
    from datetime import date, timedelta

    from sqlalchemy import update

    from registry.models import Decision

    _filed(client, session, "cn")
    _filed(client, session, "de")
    regulator = factories.make_key(session, "reg-eu-msa", kind="regulator")
    version = client.post("/api/v1/rulebook/versions", json={"document": _draft_adding_damp_heat_recognition(client)},
                          headers=bearer(regulator)).get_json()["version"]
    impact = f"/api/v1/rulebook/versions/{version}/impact"
    from_stored = client.post(impact, headers=bearer(regulator)).get_json()
    assert from_stored["markets"]["EU"]["tests_saved"] >= 1
    # The stored side is what is read: a stored verdict changed by hand shows in the answer ...
    session.execute(update(Decision).where(Decision.market == "EU").values(verdict="accessible"))
    session.flush()
    assert client.post(impact, headers=bearer(regulator)).get_json()["markets"]["EU"] != from_stored["markets"]["EU"]
    # ... but decisions not made for the day asked about are not used: that side is computed, as the first time.
    session.execute(update(Decision).values(as_of=date.today() - timedelta(days=1)))
    session.flush()
    assert client.post(impact, headers=bearer(regulator)).get_json() == from_stored
