"""Report services: semantic validation, append-only storage, and hypothesis-generated valid and invalid reports."""

from __future__ import annotations

import copy
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, insert, select, text

from registry.errors import ContractViolation, Forbidden, SemanticViolation
from registry.models import Organization, Product, Report, ReportRevision, TestResult, utcnow
from registry.services import organizations, reports
from registry.services.permissions import SYSTEM
from tests import factories
from tests.factories import TODAY, as_org, report_document, submit

FIXTURE_OK = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _count(session):
    return (session.scalar(select(func.count()).select_from(Report)),
            session.scalar(select(func.count()).select_from(TestResult)))


def test_results_are_stored_with_accreditation_and_clause_flags(session):
    document = report_document("cn")
    report = submit(session, document)
    rows = session.scalars(select(TestResult).join(ReportRevision).where(ReportRevision.report_id == report.id)
                           .order_by(TestResult.position)).all()
    assert [r.test_item_id for r in rows] == [r["test_item"] for r in document["results"]]
    by_clause = {(r.standard_id, r.clause): r for r in rows}
    assert by_clause[("GB/T 20234.1-2023", "7.6")].clause_verified is True
    unnumbered = [r for r in rows if r.clause is None]
    assert unnumbered and not any(r.clause_verified for r in unnumbered)
    assert any(r.accredited for r in rows), "the CN demo lab is accredited for the GB/T standards it tests"


def test_result_outside_the_labs_scope_is_stored_as_not_accredited(session):
    document = report_document("cn")
    # IEC 62262 (IK impact) is a standard the CN demo lab's scope may not hold; whatever the scope says, the flag follows it
    from registry.services.accreditation import lab_standing

    standing = lab_standing(session, "lab-cn-sh-evtc")
    report = submit(session, document)
    rows = session.scalars(select(TestResult).join(ReportRevision).where(ReportRevision.report_id == report.id)).all()
    for row in rows:
        assert row.accredited == standing.accredited_for(row.standard_id, row.performed_on)


def test_the_database_refuses_to_rewrite_a_stored_revision(session):
    report = submit(session, report_document("cn"))
    with pytest.raises(Exception, match="append-only"):
        with session.begin_nested():
            session.execute(text("UPDATE test_results SET verdict = 'pass'"))
    with pytest.raises(Exception, match="append-only"):
        with session.begin_nested():
            session.execute(text("DELETE FROM report_revisions WHERE report_id = :id"), {"id": report.id})
    with pytest.raises(Exception, match="append-only"):
        with session.begin_nested():
            session.execute(text("DELETE FROM reports WHERE id = :id"), {"id": report.id})


def test_a_lab_without_valid_accreditation_today_cannot_submit(session):
    document = report_document("cn")
    with pytest.raises(SemanticViolation) as caught:
        submit(session, document, today=date(2040, 1, 1))
    assert "/lab" in {v.pointer for v in caught.value.violations}


def test_a_result_before_its_standard_was_issued_is_refused(session):
    document = report_document("cn")
    document["test_period"]["start"] = "2020-01-01"
    index = next(i for i, r in enumerate(document["results"]) if r["standard"] == "GB/T 20234.1-2023")
    document["results"][index]["performed_on"] = "2020-06-01"
    with pytest.raises(SemanticViolation) as caught:
        submit(session, document)
    assert f"/results/{index}/performed_on" in {v.pointer for v in caught.value.violations}


def test_the_key_holder_must_be_the_lab_named(session):
    document = report_document("cn")
    factories.make_org(session, "mfr-someone", "manufacturer")
    with pytest.raises(Forbidden):
        reports.submit_report(session, as_org(session, "mfr-someone"), document, today=TODAY)


def test_manufacturer_is_matched_by_name_and_products_by_model(session):
    first = submit(session, report_document("cn"))
    second_doc = report_document("cn")
    second_doc["product"]["manufacturer"]["name"] = second_doc["product"]["manufacturer"]["name"].upper()
    second_doc["product"]["model"] = " " + second_doc["product"]["model"].lower() + " "
    second = submit(session, second_doc)
    assert second.product_id == first.product_id


def test_a_maker_is_found_by_either_of_its_names_among_many_of_its_country(session):
    """Makers are looked up by an indexed name key, not by reading every maker of the country: the key must treat
    names as before (case, spacing, full-width letters) and match the Chinese name as well as the English one."""
    for i in range(50):
        factories.make_org(session, f"mfr-cn-other-{i}", "manufacturer", name=f"Other Maker {i}")
    made = organizations.create_org(session, SYSTEM, org_id="mfr-cn-hanzi", kind="manufacturer",
                                    name="Hanzi Charging Co., Ltd.", name_zh="汉字充电有限公司", country="CN")
    assert (made.name_key, made.name_zh_key) == ("hanzi charging co., ltd.", "汉字充电有限公司")
    for declared in ("汉字充电有限公司", "ＨＡＮＺＩ  charging co., ltd."):
        document = report_document("cn")
        document["product"]["manufacturer"] = {"name": declared, "country": "CN"}
        assert submit(session, document).manufacturer_id == "mfr-cn-hanzi"
    document = report_document("cn")
    document["product"]["manufacturer"] = {"name": "汉字充电有限公司", "country": "VN"}  # same name, other country
    assert submit(session, document).manufacturer_id != "mfr-cn-hanzi"


def test_a_maker_named_by_registry_id_is_that_maker_and_an_unknown_one_is_refused(session):
    first = submit(session, report_document("cn"))
    by_id = report_document("cn")
    by_id["product"]["manufacturer"] = {"name": "a trading name the registry does not know", "country": "CN",
                                        "registry_id": first.manufacturer_id}
    assert (submit(session, by_id).manufacturer_id, submit(session, dict(by_id, report_number="BY-ID-2")).product_id) \
        == (first.manufacturer_id, first.product_id)
    reports_before = session.scalar(select(func.count()).select_from(Report))
    for wrong in ("mfr-nobody-here", "lab-cn-sh-evtc"):  # unknown, and an organization that is no manufacturer
        unknown = report_document("cn")
        unknown["product"]["manufacturer"]["registry_id"] = wrong
        with pytest.raises(SemanticViolation) as refused:
            submit(session, unknown)
        assert [v.pointer for v in refused.value.violations] == ["/product/manufacturer/registry_id"]
    assert session.scalar(select(func.count()).select_from(Report)) == reports_before


@pytest.mark.parametrize("field, value, pointer", [
    ("name", "\ufdfa" * 200, "/product/manufacturer/name"),  # NFKC turns each into 18 characters
    ("name_zh", "\ufdfa" * 100, "/product/manufacturer/name_zh"),
    ("name", "   ", "/product/manufacturer/name"),
    ("model", "\ufdfa" * 120, "/product/model"),
    ("model", " \t ", "/product/model"),
])
def test_names_blank_or_too_long_once_normalised_are_refused_and_store_nothing(session, field, value, pointer):
    document = report_document("cn")
    if field == "model":
        document["product"]["model"] = value
    else:
        document["product"]["manufacturer"] = {"name": "A Maker Never Seen", "country": "CN", field: value}
    counts = [session.scalar(select(func.count()).select_from(t)) for t in (Report, Product, Organization)]
    with pytest.raises(SemanticViolation) as refused:
        submit(session, document)
    assert [v.pointer for v in refused.value.violations] == [pointer]
    session.rollback()
    assert [session.scalar(select(func.count()).select_from(t)) for t in (Report, Product, Organization)] == counts


def test_a_maker_registered_by_a_report_or_a_core_insert_gets_its_name_keys(session):
    document = report_document("cn")
    document["product"]["manufacturer"] = {"name": "Brand-New  Maker", "name_zh": "全新制造商", "country": "CN"}
    filed = submit(session, document)
    maker = session.get(Organization, filed.manufacturer_id)
    assert (maker.name_key, maker.name_zh_key) == ("brand-new maker", "全新制造商")
    session.execute(insert(Organization), [dict(id="mfr-core", kind="manufacturer", name_en="Core INSERTED",
                                                country="CN", demo=False, created_at=utcnow())])
    session.commit()
    assert session.get(Organization, "mfr-core").name_key == "core inserted"


def test_a_declaration_changed_between_lookup_and_write_is_still_the_one_stored(session):
    """The product is looked up before the write lock; a report filed in between must not leave its declaration
    as the product's when this (later) one says otherwise."""
    first_doc = report_document("cn")
    first = submit(session, first_doc)
    _, lookup = reports._validate(session, first_doc, TODAY, 1, look_up=True)
    assert (lookup.manufacturer_id, lookup.product_id) == (first.manufacturer_id, first.product_id)
    in_between = report_document("cn")
    in_between["product"]["firmware_version"] = "FW-FILED-IN-BETWEEN"
    submit(session, in_between)
    stored = session.get(Product, first.product_id)
    assert stored.description["firmware_version"] == "FW-FILED-IN-BETWEEN"
    resolved = reports._resolve_product(session, first_doc["product"], utcnow(), lookup)
    assert (resolved.id, resolved.created) == (first.product_id, False)
    session.refresh(stored)
    assert stored.description["firmware_version"] == first_doc["product"]["firmware_version"] != "FW-FILED-IN-BETWEEN"


def test_a_product_registered_between_lookup_and_write_is_joined_not_duplicated(session):
    document = report_document("cn")
    document["product"]["model"] = "MODEL-REGISTERED-MEANWHILE"
    _, lookup = reports._validate(session, document, TODAY, 1, look_up=True)
    assert lookup.product_id is None
    meanwhile = submit(session, document)
    resolved = reports._resolve_product(session, document["product"], utcnow(), lookup)
    assert (resolved.id, resolved.created) == (meanwhile.product_id, False)


# ---------------------------------------------------------------------------------------------------- properties


@st.composite
def valid_reports(draw):
    """Valid variations of an example: a subset of its results, shifted dates, other verdicts, jittered values."""
    document = report_document(draw(st.sampled_from(["cn", "de", "sg"])))
    keep = draw(st.lists(st.integers(0, len(document["results"]) - 1), min_size=1, unique=True))
    document["results"] = [document["results"][i] for i in sorted(keep)]
    for result in document["results"]:
        verdict = draw(st.sampled_from(["pass", "fail", "not_applicable", "inconclusive", result["verdict"]]))
        if verdict != "pass":
            result["verdict"] = verdict
        for m in result.get("measurements", []):
            limit = m.get("limit") or {}
            lo, hi = limit.get("min"), limit.get("max")
            if result["verdict"] == "pass" and (lo is not None or hi is not None):
                low = lo if lo is not None else hi - abs(hi) - 1
                high = hi if hi is not None else lo + abs(lo) + 1
                m["value"] = draw(st.floats(low, high, allow_nan=False))
            else:
                m["value"] = draw(st.floats(-1e6, 1e6, allow_nan=False))
    return document


CORRUPTIONS = [
    ("/results/0/standard", lambda d: d["results"][0].update(standard="IEC 12345:1999")),
    ("/results/0/test_item", lambda d: d["results"][0].update(test_item="made_up_test")),
    ("/results/0/verdict", lambda d: d["results"][0].update(verdict="passed")),
    ("/results/0/performed_on", lambda d: d["results"][0].update(performed_on="1999-01-01")),
    ("/results/0/performed_on", lambda d: d["results"][0].update(performed_on="2025-13-40")),
    ("/issued_on", lambda d: d.update(issued_on="2090-01-01")),
    ("/test_period/end", lambda d: d.update(test_period={"start": "2025-06-01", "end": "2025-01-01"})),
    ("/product/ratings/max_power_kw", lambda d: d["product"]["ratings"].update(max_power_kw=0)),
    ("/product/connectors/0", lambda d: d["product"].update(connectors=["SCHUKO"])),
    ("/results", lambda d: d.update(results=[])),
    ("/lab", lambda d: d.update(lab="Not A Lab")),
    ("/product/colour", lambda d: d["product"].update(colour="red")),
]


@given(document=valid_reports())
@FIXTURE_OK
def test_any_valid_variation_is_accepted_and_read_back_unchanged(session, document):
    report = submit(session, document)
    view = reports.get_report(session, as_org(session, document["lab"]), report.id)
    assert view["document"] == document
    assert [r["verdict"] for r in view["results"]] == [r["verdict"] for r in document["results"]]


@given(document=valid_reports(), corruption=st.sampled_from(CORRUPTIONS))
@FIXTURE_OK
def test_any_corrupted_report_is_refused_at_the_right_pointer_and_changes_nothing(session, document, corruption):
    pointer, corrupt = corruption
    document = copy.deepcopy(document)
    lab = as_org(session, document["lab"])
    corrupt(document)
    before = _count(session)
    with pytest.raises((ContractViolation, SemanticViolation, Forbidden)) as caught:
        reports.submit_report(session, lab, document, today=TODAY)
    assert pointer in {v.pointer for v in caught.value.violations}
    assert _count(session) == before
