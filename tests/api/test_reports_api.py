"""The lab submission API, end to end through HTTP: what a lab's integration engineer would check."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import flask
import pytest
from flask.sessions import NullSession
from sqlalchemy import func, select

from registry.api.payloads import SubmissionReceipt
from registry.models import Organization, Product, Report, ReportEvent, ReportRevision, TestResult
from tests import factories
from tests.factories import bearer, report_document


def post_report(client, key, document, **headers):
    return client.post("/api/v1/reports", data=json.dumps(document), content_type="application/json",
                       headers={**bearer(key), **headers})


def counts(session):
    return tuple(session.scalar(select(func.count()).select_from(m)) for m in (Report, ReportRevision, TestResult, ReportEvent))


def assert_problem(response, status, *pointers):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and body["title"] and body["type"].startswith("/problems/")
    assert body["instance"] == response.request.path
    found = {e.get("pointer") for e in body.get("errors", [])}
    for pointer in pointers:
        assert pointer in found, f"{pointer} not in {found}"
    return body


# ---------------------------------------------------------------------------------------------------- submit


def test_lab_submits_each_example_and_reads_it_back(client, session):
    for name in ("cn", "de", "sg"):
        document = report_document(name)
        key = factories.make_key(session, document["lab"])
        response = post_report(client, key, document)
        assert response.status_code == 201, response.get_data(as_text=True)
        receipt = response.get_json()
        assert response.headers["Location"] == f"/api/v1/reports/{receipt['id']}"
        assert receipt["report_number"] == document["report_number"] and receipt["revision"] == 1
        assert set(receipt) == set(SubmissionReceipt().fields)  # the body the OpenAPI document describes
        assert receipt["lab"] == document["lab"] and receipt["status"] == "valid"
        assert receipt["product"]["model"] == document["product"]["model"]
        assert receipt["links"] == {"self": response.headers["Location"],
                                    "revisions": response.headers["Location"] + "/revisions"}

        own = client.get(response.headers["Location"], headers=bearer(key)).get_json()
        assert own["details_included"] is True
        assert own["document"] == document
        assert [r["test_item"] for r in own["results"]] == [r["test_item"] for r in document["results"]]
        assert own["product"]["model"] == document["product"]["model"]


def test_the_api_neither_reads_nor_sets_a_cookie_session(app, client, session, lab_key):
    """Bearer keys only: a session cookie (even a forged one) is not looked at, and no answer sets one."""
    with app.test_request_context("/api/v1/reports"):
        assert isinstance(flask.session, NullSession)  # nothing unsigned, nothing to save
    with app.test_request_context("/login"):
        assert not isinstance(flask.session, NullSession)  # the pages' log-in keeps its signed cookie
    client.set_cookie("session", "forged.value.signature")
    response = post_report(client, lab_key, report_document())
    assert response.status_code == 201, response.get_data(as_text=True)
    assert "Set-Cookie" not in response.headers and "Cookie" not in response.headers.get("Vary", "")
    assert client.get("/api/v1/reports", headers=bearer(lab_key)).headers.get("Set-Cookie") is None


def test_public_sees_the_summary_but_not_measurements(client, session, lab_key):
    document = report_document("cn")
    location = post_report(client, lab_key, document).headers["Location"]
    public = client.get(location).get_json()
    assert public["details_included"] is False
    assert "document" not in public
    assert "measurements" not in json.dumps(public["results"])
    assert {r["verdict"] for r in public["results"]} <= {"pass", "fail", "not_applicable", "inconclusive"}
    assert public["lab"]["id"] == "lab-cn-sh-evtc" and public["status"] == "valid"


def test_manufacturer_and_regulator_see_details_other_labs_do_not(client, session, lab_key):
    location = post_report(client, lab_key, report_document("cn")).headers["Location"]
    manufacturer_id = client.get(location).get_json()["product"]["manufacturer"]["id"]
    maker = factories.make_key(session, manufacturer_id)
    regulator = factories.make_key(session, "reg-samr", kind="regulator")
    other_lab = factories.make_key(session, "lab-de-rheinmain-emob")
    assert client.get(location, headers=bearer(maker)).get_json()["details_included"] is True
    assert client.get(location, headers=bearer(regulator)).get_json()["details_included"] is True
    assert client.get(location, headers=bearer(other_lab)).get_json()["details_included"] is False


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic abc", "Bearer "])
def test_submission_needs_a_valid_key(client, session, header):
    before = counts(session)
    headers = {"Authorization": header} if header else {}
    response = client.post("/api/v1/reports", data=json.dumps(report_document()), content_type="application/json",
                           headers=headers)
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert counts(session) == before


def test_revoked_and_expired_keys_are_refused(client, session):
    from registry.services import organizations
    from registry.services.permissions import SYSTEM

    record, revoked = organizations.create_key(session, SYSTEM, "lab-cn-sh-evtc")
    organizations.revoke_key(session, SYSTEM, record.id)
    _r, expired = organizations.create_key(session, SYSTEM, "lab-cn-sh-evtc",
                                           expires_at=datetime.now(timezone.utc) - timedelta(days=1))
    for key in (revoked, expired):
        assert_problem(post_report(client, key, report_document()), 401)


def test_a_lab_cannot_submit_for_another_lab(client, session):
    key = factories.make_key(session, "lab-de-rheinmain-emob")
    before = counts(session)
    assert_problem(post_report(client, key, report_document("cn")), 403, "/lab")
    assert counts(session) == before


def test_a_manufacturer_cannot_submit(client, session):
    key = factories.make_key(session, "mfr-test", kind="manufacturer")
    assert_problem(post_report(client, key, report_document("cn")), 403)


def test_wrong_media_type_is_415(client, lab_key):
    response = client.post("/api/v1/reports", data=json.dumps(report_document()), content_type="text/plain",
                           headers=bearer(lab_key))
    assert_problem(response, 415)


def test_unparsable_json_is_400(client, lab_key):
    response = client.post("/api/v1/reports", data='{"report_number": ', content_type="application/json",
                           headers=bearer(lab_key))
    assert_problem(response, 400)


def test_oversized_body_is_413_and_changes_nothing(app, client, session, lab_key):
    app.config["MAX_CONTENT_LENGTH"] = 10_000
    document = report_document(remarks="x" * 4000)
    document["results"] = document["results"] * 3
    before = counts(session)
    assert_problem(post_report(client, lab_key, document), 413)
    assert counts(session) == before


def test_schema_violations_name_every_field(client, session, lab_key):
    document = report_document()
    del document["results"][0]["verdict"]
    document["results"][1]["measurements"] = [{"quantity": "x", "value": "12", "unit": "V"}]
    document["product"]["ratings"]["max_power_kw"] = -5
    before = counts(session)
    body = assert_problem(post_report(client, lab_key, document), 422, "/results/0/verdict",
                          "/results/1/measurements/0/value", "/product/ratings/max_power_kw")
    assert all(e["message"] for e in body["errors"])
    assert counts(session) == before


def _first_result_with_measurement(document):
    for i, result in enumerate(document["results"]):
        for j, m in enumerate(result.get("measurements", [])):
            if m.get("limit") and result["verdict"] == "pass":
                return i, j
    raise AssertionError("example has no pass result with a limit")


def test_semantic_violations_are_422_with_pointers(client, session, lab_key):
    document = report_document()
    document["results"][0]["standard"] = "IEC 99999:2099"
    document["results"][1]["test_item"] = "no_such_item"
    i, j = _first_result_with_measurement(document)
    m = document["results"][i]["measurements"][j]
    m["unit"] = "furlong"
    # the value breaks its limit while the verdict says pass
    limit = m["limit"]
    m["value"] = (limit["min"] - 1) if "min" in limit else (limit["max"] + 1)
    document["results"][2]["performed_on"] = "2001-01-01"
    before = counts(session)
    assert_problem(
        post_report(client, lab_key, document), 422,
        "/results/0/standard", "/results/1/test_item", f"/results/{i}/measurements/{j}/unit",
        f"/results/{i}/measurements/{j}/value", "/results/2/performed_on",
    )
    assert counts(session) == before


def test_clause_and_test_item_must_match_the_catalogue(client, lab_key):
    document = report_document()
    index = next(i for i, r in enumerate(document["results"])
                 if r["standard"] == "GB/T 20234.1-2023" and r["clause"] == "7.6")
    wrong_item = dict(document["results"][index], test_item="connector_locking")
    wrong_clause = dict(document["results"][index], clause="7.99")
    document["results"] += [wrong_item, wrong_clause]
    n = len(document["results"])
    assert_problem(post_report(client, lab_key, document), 422, f"/results/{n - 2}/test_item", f"/results/{n - 1}/clause")


def test_incoherent_dates_are_refused(client, lab_key):
    document = report_document()
    document["test_period"] = {"start": document["test_period"]["end"], "end": document["test_period"]["start"]}
    document["issued_on"] = "2099-01-01"
    assert_problem(post_report(client, lab_key, document), 422, "/test_period/end", "/issued_on")


def test_duplicate_report_number_is_409(client, session, lab_key):
    document = report_document()
    assert post_report(client, lab_key, document).status_code == 201
    before = counts(session)
    assert_problem(post_report(client, lab_key, document), 409, "/report_number")
    assert counts(session) == before


def test_a_duplicate_naming_a_new_maker_and_model_registers_neither(client, session, lab_key):
    document = report_document()
    assert post_report(client, lab_key, document).status_code == 201
    again = json.loads(json.dumps(document))
    again["product"]["model"] = "A-MODEL-NOBODY-FILED"
    again["product"]["manufacturer"] = {"name": "Maker Nobody Named Co., Ltd.", "country": "CN"}
    before = counts(session), session.scalar(select(func.count(Product.id))), session.scalar(select(func.count(Organization.id)))
    assert_problem(post_report(client, lab_key, again), 409, "/report_number")
    session.expire_all()
    after = counts(session), session.scalar(select(func.count(Product.id))), session.scalar(select(func.count(Organization.id)))
    assert after == before


# ---------------------------------------------------------------------------------------------------- idempotency


def test_idempotent_retry_answers_the_same_without_a_second_report(client, session, lab_key):
    document = report_document()
    first = post_report(client, lab_key, document, **{"Idempotency-Key": "k-1"})
    before = counts(session)
    again = post_report(client, lab_key, document, **{"Idempotency-Key": "k-1"})
    assert again.status_code == 201 and again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert counts(session) == before


def test_idempotency_key_reused_with_another_body_is_refused(client, session, lab_key):
    assert post_report(client, lab_key, report_document(), **{"Idempotency-Key": "k-2"}).status_code == 201
    before = counts(session)
    assert_problem(post_report(client, lab_key, report_document(), **{"Idempotency-Key": "k-2"}), 422)
    assert counts(session) == before


# ---------------------------------------------------------------------------------------------------- revisions


def _submitted(client, key, base="cn"):
    document = report_document(base)
    response = post_report(client, key, document)
    assert response.status_code == 201
    return document, response.headers["Location"]


def test_a_revision_is_a_new_version_and_the_old_stays_readable(client, lab_key):
    document, location = _submitted(client, lab_key)
    corrected = json.loads(json.dumps(document))
    corrected["product"]["firmware_version"] = "V2.0.1-corrected"
    response = client.post(f"{location}/revisions", json={"reason": "firmware version misprinted", "document": corrected},
                           headers=bearer(lab_key))
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["revision"] == 2
    current = client.get(location, headers=bearer(lab_key)).get_json()
    assert current["revision"] == 2 and current["document"]["product"]["firmware_version"] == "V2.0.1-corrected"
    old = client.get(f"{location}?revision=1", headers=bearer(lab_key)).get_json()
    assert old["revision"] == 1 and old["document"] == document
    history = client.get(f"{location}/revisions").get_json()
    assert [r["revision"] for r in history["revisions"]] == [1, 2]
    assert [e["kind"] for e in history["events"]] == ["submitted", "revised"]
    assert history["revisions"][1]["reason"] == "firmware version misprinted"


def test_the_standard_filter_follows_the_current_revision(client, lab_key):
    document, location = _submitted(client, lab_key)
    report_id = int(location.rsplit("/", 1)[1])
    cited = sorted({r["standard"] for r in document["results"]})
    dropped = cited[0]
    corrected = json.loads(json.dumps(document))
    corrected["results"] = [r for r in corrected["results"] if r["standard"] != dropped]

    def listed(standard):
        return [r["id"] for r in client.get("/api/v1/reports", query_string={"standard": standard}).get_json()["items"]]

    assert report_id in listed(dropped) and report_id in listed(cited[-1])
    response = client.post(f"{location}/revisions", json={"reason": "results under the wrong edition", "document": corrected},
                           headers=bearer(lab_key))
    assert response.status_code == 201, response.get_data(as_text=True)
    assert report_id not in listed(dropped) and report_id in listed(cited[-1])
    assert listed("IEC 61851-1:2010") == []


def test_a_revision_cannot_rename_the_report(client, lab_key):
    document, location = _submitted(client, lab_key)
    renamed = dict(document, report_number="SOMETHING-ELSE")
    response = client.post(f"{location}/revisions", json={"reason": "rename", "document": renamed}, headers=bearer(lab_key))
    assert_problem(response, 422, "/document/report_number")


def test_a_revision_is_validated_like_a_submission(client, lab_key):
    document, location = _submitted(client, lab_key)
    broken = json.loads(json.dumps(document))
    broken["results"][0]["verdict"] = "maybe"
    response = client.post(f"{location}/revisions", json={"reason": "oops", "document": broken}, headers=bearer(lab_key))
    assert_problem(response, 422, "/document/results/0/verdict")
    response = client.post(f"{location}/revisions", json={"document": document}, headers=bearer(lab_key))
    assert_problem(response, 422, "/reason")


def test_only_the_submitting_lab_revises(client, session, lab_key):
    document, location = _submitted(client, lab_key)
    other = factories.make_key(session, "lab-de-rheinmain-emob")
    response = client.post(f"{location}/revisions", json={"reason": "not mine", "document": document}, headers=bearer(other))
    assert_problem(response, 403)
    response = client.post("/api/v1/reports/999999/revisions", json={"reason": "x" * 5, "document": document},
                           headers=bearer(lab_key))
    assert_problem(response, 404)


# ---------------------------------------------------------------------------------------------------- withdrawal


def test_withdrawal_is_an_event_and_freezes_the_report(client, lab_key):
    document, location = _submitted(client, lab_key)
    response = client.post(f"{location}/withdrawal", json={"reason": "sample was not the production model"},
                           headers=bearer(lab_key))
    assert response.status_code == 201, response.get_data(as_text=True)
    public = client.get(location).get_json()
    assert public["status"] == "withdrawn"
    assert public["withdrawal"]["reason"] == "sample was not the production model"
    assert public["results"], "a withdrawn report stays readable"
    assert_problem(client.post(f"{location}/withdrawal", json={"reason": "again"}, headers=bearer(lab_key)), 409)
    response = client.post(f"{location}/revisions", json={"reason": "too late", "document": document}, headers=bearer(lab_key))
    assert_problem(response, 409)


def test_withdrawal_needs_a_reason_and_the_owner(client, session, lab_key):
    _document, location = _submitted(client, lab_key)
    assert_problem(client.post(f"{location}/withdrawal", json={}, headers=bearer(lab_key)), 422, "/reason")
    assert_problem(client.post(f"{location}/withdrawal", json={"reason": "no key"}), 401)
    other = factories.make_key(session, "lab-de-rheinmain-emob")
    assert_problem(client.post(f"{location}/withdrawal", json={"reason": "not mine"}, headers=bearer(other)), 403)


# ---------------------------------------------------------------------------------------------------- reads


def test_etag_allows_cheap_revalidation(client, lab_key):
    _document, location = _submitted(client, lab_key)
    first = client.get(location)
    etag = first.headers["ETag"]
    again = client.get(location, headers={"If-None-Match": etag})
    assert again.status_code == 304
    client.post(f"{location}/withdrawal", json={"reason": "changed state"}, headers=bearer(lab_key))
    assert client.get(location, headers={"If-None-Match": etag}).status_code == 200


def test_unknown_report_and_revision_are_404(client, lab_key):
    assert_problem(client.get("/api/v1/reports/424242"), 404)
    _document, location = _submitted(client, lab_key)
    assert_problem(client.get(f"{location}?revision=7"), 404)


def test_list_filters_and_paginates_in_a_stable_order(client, session, lab_key):
    de_key = factories.make_key(session, "lab-de-rheinmain-emob")
    ids = []
    for _ in range(3):
        ids.append(post_report(client, lab_key, report_document("cn")).get_json()["id"])
    de_id = post_report(client, de_key, report_document("de")).get_json()["id"]

    page1 = client.get("/api/v1/reports?lab=lab-cn-sh-evtc&limit=2").get_json()
    assert [r["id"] for r in page1["items"]] == sorted(ids)[:2] and page1["next_cursor"]
    page2 = client.get(f"/api/v1/reports?lab=lab-cn-sh-evtc&limit=2&cursor={page1['next_cursor']}").get_json()
    assert [r["id"] for r in page2["items"]] == sorted(ids)[2:] and page2["next_cursor"] is None

    by_standard = client.get("/api/v1/reports?standard=GB/T 20234.1-2023").get_json()["items"]
    assert {r["id"] for r in by_standard} == set(ids)
    de_doc = factories.example("de")
    by_maker = client.get(f"/api/v1/reports?manufacturer={de_doc['product']['manufacturer']['name'][:8]}").get_json()["items"]
    assert [r["id"] for r in by_maker] == [de_id]
    by_model = client.get(f"/api/v1/reports?model={de_doc['product']['model'].lower()}").get_json()["items"]
    assert [r["id"] for r in by_model] == [de_id]

    client.post(f"/api/v1/reports/{ids[0]}/withdrawal", json={"reason": "withdrawn for the test"}, headers=bearer(lab_key))
    assert [r["id"] for r in client.get("/api/v1/reports?status=withdrawn").get_json()["items"]] == [ids[0]]
    since = (datetime.now(timezone.utc) - timedelta(minutes=5)).isoformat()
    assert len(client.get("/api/v1/reports", query_string={"changed_since": since}).get_json()["items"]) == 4
    future = (datetime.now(timezone.utc) + timedelta(minutes=5)).isoformat()
    assert client.get("/api/v1/reports", query_string={"changed_since": future}).get_json()["items"] == []
    issued = factories.example("cn")["issued_on"]
    assert len(client.get(f"/api/v1/reports?issued_from={issued}&issued_to={issued}").get_json()["items"]) == 3


def test_list_refuses_bad_parameters(client):
    body = assert_problem(client.get("/api/v1/reports?limit=500"), 422)
    assert body["errors"][0]["parameter"] == "limit"
    assert_problem(client.get("/api/v1/reports?cursor=not-a-cursor"), 400)
    assert_problem(client.get("/api/v1/reports?issued_from=yesterday"), 422)
    assert_problem(client.get("/api/v1/reports?status=lost"), 422)


def test_unknown_route_and_wrong_method_are_problems(client):
    assert_problem(client.get("/api/v1/nothing-here"), 404)
    response = client.delete("/api/v1/reports/1")
    assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]
